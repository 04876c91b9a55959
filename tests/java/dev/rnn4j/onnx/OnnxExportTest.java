package dev.rnn4j.onnx;

import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.lm.LanguageModel;
import dev.rnn4j.nn.Embedding;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * ONNX export: every exportable module, with random weights and each option, is written with
 * OnnxExport, run in ONNX Runtime and compared with the module's own forward on the reference
 * backend (|got - expected| <= 1e-5 + 1e-3 |expected|); the graphs rnn4j's importer runs
 * (everything but SRU's Scan) are also loaded back through {@link OnnxModel} and compared.
 */
class OnnxExportTest {
    static OrtEnvironment env;
    static Device ref;

    @BeforeAll
    static void open() {
        env = OrtEnvironment.getEnvironment();
        ref = Device.reference();
    }

    @AfterAll
    static void close() { ref.close(); }

    /** An exported graph's input: a float tensor or INT64 ids. */
    record In(String name, float[] f, long[] l, long... shape) {}

    static In floats(String name, float[] f, int... shape) { return new In(name, f, null, Arrays.stream(shape).asLongStream().toArray()); }

    static In longs(String name, long[] l, int... shape) { return new In(name, null, l, Arrays.stream(shape).asLongStream().toArray()); }

    static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    /** Runs the exported bytes in ONNX Runtime; the outputs by name, flattened. */
    static Map<String, float[]> ort(byte[] model, List<In> inputs) throws Exception {
        try (OrtSession s = env.createSession(model, new OrtSession.SessionOptions())) {
            Map<String, ai.onnxruntime.OnnxTensor> feed = new LinkedHashMap<>();
            try {
                for (In in : inputs)
                    feed.put(in.name, in.f != null ? ai.onnxruntime.OnnxTensor.createTensor(env, FloatBuffer.wrap(in.f), in.shape)
                            : ai.onnxruntime.OnnxTensor.createTensor(env, LongBuffer.wrap(in.l), in.shape));
                try (OrtSession.Result r = s.run(feed)) {
                    Map<String, float[]> out = new LinkedHashMap<>();
                    for (Map.Entry<String, OnnxValue> e : r) {
                        FloatBuffer b = ((ai.onnxruntime.OnnxTensor) e.getValue()).getFloatBuffer();
                        float[] a = new float[b.remaining()];
                        b.get(a);
                        out.put(e.getKey(), a);
                    }
                    return out;
                }
            } finally {
                for (ai.onnxruntime.OnnxTensor t : feed.values()) t.close();
            }
        }
    }

    /** Runs the exported file through rnn4j's own importer on the reference backend. */
    static Map<String, float[]> rnn4j(Path file, List<In> inputs) throws Exception {
        OnnxModel m = OnnxModel.load(file);
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        for (In in : inputs) {
            int[] shape = Arrays.stream(in.shape).mapToInt(x -> (int) x).toArray();
            feed.put(in.name, in.f != null ? OnnxTensor.ofFloats(in.f, shape) : OnnxTensor.ofLongs(in.l, shape));
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        m.run(ref, feed).forEach((k, v) -> out.put(k, v.floats()));
        return out;
    }

    static void close(String what, float[] expected, float[] got) {
        assertNotNull(got, what + ": missing");
        assertEquals(expected.length, got.length, what + ": size");
        for (int i = 0; i < expected.length; i++)
            if (!(Math.abs(got[i] - expected[i]) <= 1e-5 + 1e-3 * Math.abs(expected[i])))
                fail(what + "[" + i + "]: expected " + expected[i] + ", got " + got[i]);
    }

    /** Exports, runs in ONNX Runtime (and rnn4j's importer if asked) and compares every expected output. */
    static void check(Module module, OnnxExport.Options o, List<In> inputs, Map<String, float[]> expected, boolean reimport, Path dir)
            throws Exception {
        byte[] bytes = OnnxExport.toBytes(module, o);
        Map<String, float[]> got = ort(bytes, inputs);
        assertEquals(expected.keySet(), got.keySet(), "ONNX Runtime's outputs");
        expected.forEach((k, v) -> close("ONNX Runtime " + k, v, got.get(k)));
        if (reimport) {
            Path f = dir.resolve("model.onnx");
            OnnxExport.write(module, f, o);
            Map<String, float[]> back = rnn4j(f, inputs);
            expected.forEach((k, v) -> close("OnnxModel " + k, v, back.get(k)));
        }
    }

    // ------------------------------------------------------------------ RNN, LSTM, GRU

    record RecCase(String kind, int layers, boolean bidir, boolean batchFirst, boolean bias, boolean lengths, boolean state) {
        @Override
        public String toString() {
            return kind + " layers=" + layers + (bidir ? " bidirectional" : "") + (batchFirst ? " batch_first" : "")
                    + (bias ? "" : " no-bias") + (lengths ? " lengths" : "") + (state ? " h0" : "");
        }
    }

    static List<RecCase> recCases() {
        List<RecCase> l = new ArrayList<>();
        for (String k : List.of("LSTM", "GRU", "RNN_TANH", "RNN_RELU")) {
            l.add(new RecCase(k, 1, false, false, true, false, false));
            l.add(new RecCase(k, 2, true, false, true, false, false));
            l.add(new RecCase(k, 2, false, true, false, false, true));
            l.add(new RecCase(k, 1, true, false, true, true, false));
            l.add(new RecCase(k, 3, true, true, true, true, true));
        }
        // the layer options ONNX has as attributes or inputs: linear_before_reset = 0, P, input_forget
        for (String k : List.of("GRU_RB", "LSTM_PH", "LSTM_CIF")) {
            l.add(new RecCase(k, 1, false, false, true, false, false));
            l.add(new RecCase(k, 2, true, true, true, true, true));
        }
        return l;
    }

    @TestFactory
    Stream<DynamicTest> recurrentModulesRunInOnnxRuntime(@TempDir Path dir) {
        return recCases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> recurrent(c, dir)));
    }

    static void recurrent(RecCase c, Path dir) throws Exception {
        int I = 5, H = 4, T = 6, B = 3;
        RNNBase m = switch (c.kind) {
            case "LSTM", "LSTM_PH", "LSTM_CIF" -> LSTM.builder(I, H).peepholes(c.kind.equals("LSTM_PH")).coupledInputForget(c.kind.equals("LSTM_CIF"))
                    .numLayers(c.layers).bidirectional(c.bidir).batchFirst(c.batchFirst).bias(c.bias).seed(11).build(ref);
            case "GRU", "GRU_RB" -> GRU.builder(I, H).linearBeforeReset(c.kind.equals("GRU"))
                    .numLayers(c.layers).bidirectional(c.bidir).batchFirst(c.batchFirst).bias(c.bias).seed(12).build(ref);
            default -> RNN.builder(I, H).nonlinearity(c.kind.equals("RNN_RELU") ? "relu" : "tanh").numLayers(c.layers)
                    .bidirectional(c.bidir).batchFirst(c.batchFirst).bias(c.bias).seed(13).build(ref);
        };
        try (m) {
            m.eval();
            SplittableRandom r = new SplittableRandom(7);
            int D = c.bidir ? 2 : 1;
            float[] x = random(r, T * B * I);
            int[] xShape = c.batchFirst ? new int[]{B, T, I} : new int[]{T, B, I};
            int[] lengths = c.lengths ? new int[]{T, 2, 4} : null;
            float[] h0 = c.state ? random(r, c.layers * D * B * H) : null, c0 = c.state && m.hasCellState() ? random(r, c.layers * D * B * H) : null;
            List<In> in = new ArrayList<>(List.of(floats("input", x, xShape)));
            if (c.lengths) in.add(longs("lengths", Arrays.stream(lengths).asLongStream().toArray(), B));
            if (c.state) {
                in.add(floats("h0", h0, c.layers * D, B, H));
                if (c0 != null) in.add(floats("c0", c0, c.layers * D, B, H));
            }
            Map<String, float[]> exp = new LinkedHashMap<>();
            try (Tensor xt = Tensor.of(ref, x, xShape);
                 Tensor h0t = h0 == null ? null : Tensor.of(ref, h0, c.layers * D, B, H);
                 Tensor c0t = c0 == null ? null : Tensor.of(ref, c0, c.layers * D, B, H);
                 RecurrentOutput out = m.forwardStates(xt, h0t, c0t, lengths)) {
                exp.put("output", out.output().toArray());
                exp.put("h_n", out.hN().toArray());
                if (m.hasCellState()) exp.put("c_n", out.cN().toArray());
            }
            check(m, new OnnxExport.Options(c.lengths, c.state), in, exp, true, dir);
        }
    }

    @Test
    void lstmProjectionIsRefused() {
        try (LSTM m = LSTM.builder(3, 4).projSize(2).seed(1).build(ref)) {
            var e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.toBytes(m, OnnxExport.Options.DEFAULT));
            assertTrue(e.getMessage().contains("proj_size"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ Linear, Embedding

    @Test
    void linearAndEmbedding(@TempDir Path dir) throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        for (boolean bias : new boolean[]{true, false}) {
            try (Linear l = new Linear(ref, 5, 3, bias, 9)) {
                float[] x = random(r, 2 * 4 * 5);
                try (Tensor xt = Tensor.of(ref, x, 8, 5); Tensor y = l.forward(xt)) {
                    check(l, OnnxExport.Options.DEFAULT, List.of(floats("input", x, 2, 4, 5)), Map.of("output", y.toArray()), true, dir);
                }
            }
        }
        try (Embedding e = new Embedding(ref, 7, 3)) {
            e.resetParameters(5);
            int[] ids = {0, 6, 3, 3, 1, 5};
            try (Tensor y = e.forward(ids, 2, 3)) {
                check(e, OnnxExport.Options.DEFAULT, List.of(longs("ids", Arrays.stream(ids).asLongStream().toArray(), 2, 3)),
                        Map.of("output", y.toArray()), true, dir);
            }
        }
    }

    // ------------------------------------------------------------------ SRU

    record SruCase(String name, SRU.Builder builder, boolean lengths, boolean state) {
        @Override public String toString() { return name + (lengths ? " lengths" : "") + (state ? " c0" : ""); }
    }

    static List<SruCase> sruCases() {
        List<SruCase> l = new ArrayList<>();
        for (boolean lens : new boolean[]{false, true})
            for (boolean st : new boolean[]{false, true}) {
                l.add(new SruCase("v1 2 layers (K=4 then 3)", SRU.builder(5, 4).numLayers(2).bidirectional(false), lens, st));
                l.add(new SruCase("v1 bidirectional tanh", SRU.builder(5, 4).numLayers(2).bidirectional(true).useTanh(true), lens, st));
            }
        l.add(new SruCase("v1 relu", SRU.builder(4, 4).numLayers(1).useRelu(true), false, false));
        l.add(new SruCase("v1 identity same width (K=3)", SRU.builder(4, 4).numLayers(2).useTanh(false), true, true));
        l.add(new SruCase("2.x", SRU.builder(5, 4).v1(false).numLayers(2), true, true));
        l.add(new SruCase("2.x bidirectional", SRU.builder(8, 4).v1(false).numLayers(2).bidirectional(true), false, true));
        l.add(new SruCase("2.x rescale", SRU.builder(4, 4).v1(false).numLayers(2).rescale(true), true, false));
        l.add(new SruCase("2.x no skip term", SRU.builder(5, 4).v1(false).numLayers(2).hasSkipTerm(false), false, true));
        l.add(new SruCase("2.x layer norm", SRU.builder(5, 4).v1(false).numLayers(2).layerNorm(true), true, true));
        l.add(new SruCase("2.x layer norm after", SRU.builder(5, 4).v1(false).numLayers(2).layerNorm(true).normalizeAfter(true), false, false));
        l.add(new SruCase("2.x projection", SRU.builder(12, 8).v1(false).numLayers(2).projectionSize(3), true, true));
        l.add(new SruCase("2.x tanh bidirectional", SRU.builder(5, 3).v1(false).numLayers(1).bidirectional(true).useTanh(true), true, false));
        return l;
    }

    @TestFactory
    Stream<DynamicTest> sruRunsInOnnxRuntime() {
        return sruCases().stream().map(c -> DynamicTest.dynamicTest(c.toString(), () -> sru(c)));
    }

    static void sru(SruCase c) throws Exception {
        try (SRU m = c.builder.build(ref)) {
            m.resetParameters(21);
            if (!m.v1()) m.resetPeepholesAndNorms(22); // non-trivial peepholes and norms
            m.setBias(0.3f);
            m.eval();
            int T = 5, B = 3, I = m.inputSize(), L = m.numLayers(), out = m.outputSize();
            SplittableRandom r = new SplittableRandom(8);
            float[] x = random(r, T * B * I), c0 = c.state ? random(r, L * B * out) : null;
            int[] lengths = c.lengths ? new int[]{3, T, 1} : null;
            List<In> in = new ArrayList<>(List.of(floats("input", x, T, B, I)));
            if (c.lengths) in.add(longs("lengths", Arrays.stream(lengths).asLongStream().toArray(), B));
            if (c.state) in.add(floats("c0", c0, L, B, out));
            Map<String, float[]> exp = new LinkedHashMap<>();
            try (Tensor xt = Tensor.of(ref, x, T, B, I);
                 Tensor c0t = c0 == null ? null : Tensor.of(ref, c0, L, B, out);
                 RecurrentOutput o = m.forward(xt, c0t, lengths)) {
                exp.put("output", o.output().toArray());
                exp.put("c_n", o.cN().toArray());
            }
            check(m, new OnnxExport.Options(c.lengths, c.state), in, exp, false, null);
        }
    }

    // ------------------------------------------------------------------ language model

    @TestFactory
    Stream<DynamicTest> languageModelRunsInOnnxRuntime(@TempDir Path dir) {
        return Stream.of("LSTM", "SRU", "SRU2", "SRU2_LN").flatMap(kind -> Stream.of(false, true).map(state ->
                DynamicTest.dynamicTest(kind + (state ? " with state" : ""), () -> languageModel(kind, state, dir))));
    }

    static void languageModel(String kind, boolean withState, Path dir) throws Exception {
        int V = 11, d = 6, depth = 2, T = 4, B = 2;
        try (LanguageModel lm = new LanguageModel(ref, V, d, depth, kind.equals("LSTM"), 0.2, 0.1, kind.startsWith("SRU2"), kind.equals("SRU2_LN"), -1)) {
            lm.initialize(31, -1f);
            if (lm.rnn() instanceof SRU sru && !sru.v1()) sru.resetPeepholesAndNorms(32); // non-trivial peepholes and norms
            lm.eval();
            SplittableRandom r = new SplittableRandom(4);
            int[] tokens = new int[T * B];
            for (int i = 0; i < tokens.length; i++) tokens[i] = r.nextInt(V);
            List<In> in = new ArrayList<>(List.of(longs("tokens", Arrays.stream(tokens).asLongStream().toArray(), T, B)));
            Map<String, float[]> exp = new LinkedHashMap<>();
            try (LanguageModel.State s = lm.newState(B)) {
                if (withState) {
                    float[] c0 = random(r, depth * B * d);
                    if (s.h() != null) {
                        float[] h0 = random(r, depth * B * d);
                        s.h().copyFrom(h0);
                        in.add(floats("h0", h0, depth, B, d));
                    }
                    s.c().copyFrom(c0);
                    in.add(floats("c0", c0, depth, B, d));
                }
                try (Tensor logits = lm.logits(tokens, T, B, s)) {
                    exp.put("logits", logits.toArray());
                }
                if (s.h() != null) exp.put("h_n", s.h().toArray());
                exp.put("c_n", s.c().toArray());
            }
            check(lm, OnnxExport.Options.DEFAULT.withInitialState(withState), in, exp, kind.equals("LSTM"), dir);
        }
    }
}
