package dev.rnn4j.backend;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Whole layers on a backend under test against the same layers on the reference backend: same parameters,
 * same inputs, same dropout seeds; forward results and every gradient compared.
 * Subclasses supply the backend's name and its skip rule.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class LayerParityTests {
    private Device ref, fast;

    /** Skips (or fails) the whole class where the backend under test is absent, as its test support decides. */
    protected abstract void assumeBackend();

    /** The name the backend under test is opened by (and named by in failure messages): "cpu", "opencl". */
    protected abstract String deviceName();

    /** How the leak check names the backend under test ("cpu", "OpenCL"). */
    protected abstract String leakLabel();

    @BeforeAll
    void open() {
        assumeBackend();
        ref = Device.reference();
        fast = Device.open(deviceName());
    }

    @AfterAll
    void close() {
        if (fast != null) {
            assertEquals(0, DeviceAccess.backend(fast).liveBuffers(), leakLabel() + " buffers leaked");
            fast.close();
        }
        if (ref != null) ref.close();
    }

    static HostTensor random(SplittableRandom rnd, int... shape) {
        long n = 1;
        for (int s : shape) n *= s;
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return new HostTensor(shape, a);
    }

    void assertClose(String what, Tensor expected, Tensor actual, double rtol, double atol) {
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(actual.shape()), what + " shape");
        float[] e = expected.toArray(), a = actual.toArray();
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs((double) e[i] - a[i]) - (atol + rtol * Math.abs(e[i]));
            if (!(err <= worst)) { worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err; at = i; }
        }
        if (at >= 0) fail(what + "[" + at + " of " + e.length + "]: reference " + e[at] + ", " + deviceName() + " " + a[at]);
    }

    /** Copies every parameter of {@code from} into {@code to} (same architecture, other device). */
    static void copyParameters(Module from, Module to) {
        to.loadStateDict(from.stateDict());
    }

    void compareGrads(Module r, Module o, double rtol, double atol) {
        Map<String, Parameter> pr = r.namedParameters(), po = o.namedParameters();
        assertEquals(pr.keySet(), po.keySet());
        for (String name : pr.keySet()) assertClose("grad." + name, pr.get(name).grad(), po.get(name).grad(), rtol, atol);
    }

    @ParameterizedTest(name = "I={0} H={1} layers={2} bidir={3} act={4} T={5} B={6} c0={7} dropout={8}")
    @CsvSource({
            "5,   1, 1, false, tanh,     1, 1, false, 0",
            "3,   7, 3, true,  tanh,     6, 2, true,  0",
            "37, 37, 2, false, relu,     9, 3, true,  0",
            "20, 129, 4, true, identity, 4, 2, false, 0",
            "14,  7, 3, true,  tanh,     5, 1, true,  0.25",
            "129, 129, 1, false, tanh,   1, 4, true,  0",
            "8,  37, 4, false, relu,     3, 5, false, 0.5"})
    void sru(int inputSize, int hidden, int layers, boolean bidir, String act, int T, int B, boolean withC0, double dropout) {
        SplittableRandom rnd = new SplittableRandom(inputSize * 31L + hidden * 7L + layers);
        int out = (bidir ? 2 : 1) * hidden;
        try (SRU r = build(ref, inputSize, hidden, layers, bidir, act, dropout);
             SRU o = build(fast, inputSize, hidden, layers, bidir, act, dropout)) {
            r.initWeight(rnd.nextLong());
            for (var p : r.namedParameters().values())   // random biases too, so the highway and forget paths matter
                if (p.shape().length == 1) p.set(random(rnd, p.shape()));
            copyParameters(r, o);
            if (dropout > 0) {
                r.train(true);
                o.train(true);
                r.setDropoutSeed(99);
                o.setDropoutSeed(99);
            } else {
                r.eval();
                o.eval();
            }
            HostTensor x = random(rnd, T, B, inputSize), c0 = random(rnd, layers, B, out);
            HostTensor gOut = random(rnd, T, B, out), gCn = random(rnd, layers, B, out);
            double rtol = 1e-4, atol = 2e-5;
            try (Tensor xr = ref.tensor(x); Tensor xo = fast.tensor(x);
                 Tensor c0r = withC0 ? ref.tensor(c0) : null; Tensor c0o = withC0 ? fast.tensor(c0) : null;
                 Tensor gr = ref.tensor(gOut); Tensor go = fast.tensor(gOut);
                 Tensor gcr = ref.tensor(gCn); Tensor gco = fast.tensor(gCn);
                 RecurrentOutput fr = r.forward(xr, c0r); RecurrentOutput fo = o.forward(xo, c0o)) {
                assertClose("output", fr.output(), fo.output(), rtol, atol);
                assertClose("c_n", fr.cN(), fo.cN(), rtol, atol);
                try (RecurrentGrads br = r.backward(fr, gr, gcr); RecurrentGrads bo = o.backward(fo, go, gco)) {
                    assertClose("grad_input", br.input(), bo.input(), rtol, atol);
                    if (withC0) assertClose("grad_c0", br.c0(), bo.c0(), rtol, atol);
                    else { assertNull(br.c0()); assertNull(bo.c0()); }
                    // weight gradients sum over T*B rows
                    compareGrads(r, o, rtol, atol * T * B);
                }
            }
            assertNotNull(o.layers());
        }
    }

    /**
     * sru 2.x stacks against the reference: weight_c, rescale with a highway bias, no skip term,
     * projection, layer norm before and after, dropout in training mode, and lengths (mask_pad;
     * unsorted, some 1, some T).
     */
    @ParameterizedTest(name = "I={0} H={1} layers={2} bidir={3} tanh={4} T={5} B={6} skip={7} proj={8} ln={9} after={10} dropout={11} lengths={12}")
    @CsvSource({
            "5,   1, 1, false, false, 1, 1, true,  0,  false, false, 0,    false",
            "3,   7, 3, true,  true,  6, 3, true,  0,  false, false, 0,    true",
            "37, 37, 2, false, false, 9, 3, false, 0,  true,  false, 0,    true",
            "20, 129, 2, true, false, 4, 2, true,  16, true,  true,  0,    true",
            "14,  7, 3, true,  false, 5, 4, true,  5,  false, false, 0.25, true",
            "129, 129, 1, false, true, 1, 4, true, 0,  true,  true,  0,    false",
            "8,  37, 2, false, false, 7, 5, true,  6,  true,  false, 0.5,  true"})
    void sru2(int inputSize, int hidden, int layers, boolean bidir, boolean tanh, int T, int B, boolean skip, int proj,
              boolean ln, boolean after, double dropout, boolean withLengths) {
        SplittableRandom rnd = new SplittableRandom(inputSize * 37L + hidden * 11L + layers);
        int out = (bidir ? 2 : 1) * hidden;
        int[] lengths = null;
        if (withLengths) {
            lengths = new int[B];
            for (int b = 0; b < B; b++) lengths[b] = b == 0 ? 1 : b == 1 ? T : 1 + rnd.nextInt(T);
        }
        int[] len = lengths;
        java.util.function.Function<Device, SRU> build = d -> SRU.builder(inputSize, hidden).v1(false).numLayers(layers)
                .bidirectional(bidir).useTanh(tanh).hasSkipTerm(skip).projectionSize(proj).layerNorm(ln).normalizeAfter(after)
                .rescale(true).highwayBias(-1.5).dropout(dropout).rnnDropout(dropout / 2).build(d);
        try (SRU r = build.apply(ref); SRU o = build.apply(fast)) {
            r.resetParameters(rnd.nextLong());
            for (var p : r.namedParameters().values())   // random vectors too: biases, peepholes, norms
                if (p.shape().length == 1) p.set(random(rnd, p.shape()));
            copyParameters(r, o);
            if (dropout > 0) {
                r.train(true);
                o.train(true);
                r.setDropoutSeed(7);
                o.setDropoutSeed(7);
            } else {
                r.eval();
                o.eval();
            }
            HostTensor x = random(rnd, T, B, inputSize), c0 = random(rnd, layers, B, out);
            HostTensor gOut = random(rnd, T, B, out), gCn = random(rnd, layers, B, out);
            double rtol = 1e-4, atol = 3e-5;
            try (Tensor xr = ref.tensor(x); Tensor xo = fast.tensor(x);
                 Tensor c0r = ref.tensor(c0); Tensor c0o = fast.tensor(c0);
                 Tensor gr = ref.tensor(gOut); Tensor go = fast.tensor(gOut);
                 Tensor gcr = ref.tensor(gCn); Tensor gco = fast.tensor(gCn);
                 RecurrentOutput fr = r.forward(xr, c0r, len); RecurrentOutput fo = o.forward(xo, c0o, len)) {
                assertClose("output", fr.output(), fo.output(), rtol, atol);
                assertClose("c_n", fr.cN(), fo.cN(), rtol, atol);
                try (RecurrentGrads br = r.backward(fr, gr, gcr); RecurrentGrads bo = o.backward(fo, go, gco)) {
                    assertClose("grad_input", br.input(), bo.input(), 1e-3, atol * 10);
                    assertClose("grad_c0", br.c0(), bo.c0(), 1e-3, atol * 10);
                    compareGrads(r, o, 1e-3, atol * T * B * 10);
                }
            }
        }
    }

    private static SRU build(Device d, int inputSize, int hidden, int layers, boolean bidir, String act, double dropout) {
        return SRU.builder(inputSize, hidden).numLayers(layers).bidirectional(bidir)
                .useTanh(act.equals("tanh")).useRelu(act.equals("relu"))
                .dropout(dropout).rnnDropout(dropout / 2).build(d);
    }

    /**
     * RNN (tanh, relu), LSTM (with and without projection) and GRU stacks (GRU_RB: the reset
     * gate before the product; LSTM_PH: peepholes; LSTM_CIF: coupled input and forget gates): hidden 1, 7, 37, 129,
     * input size different from hidden, up to 4 layers, bidirectional, T = 1 and B = 1,
     * batch_first, with and without initial states, and inter-layer dropout in training mode.
     */
    @ParameterizedTest(name = "{0} I={1} H={2} layers={3} bidir={4} T={5} B={6} h0={7} dropout={8} batchFirst={9}")
    @CsvSource({
            "RNN_TANH,  5,   1, 1, false, 1, 1, false, 0,   false",
            "RNN_TANH,  3,   7, 3, true,  6, 2, true,  0,   false",
            "RNN_RELU, 37,  37, 2, false, 9, 3, true,  0,   true",
            "RNN_RELU, 20, 129, 4, true,  3, 2, false, 0,   false",
            "LSTM,      5,   1, 1, false, 1, 1, true,  0,   false",
            "LSTM,     14,   7, 3, true,  5, 1, true,  0,   false",
            "LSTM,     20, 129, 4, true,  3, 2, false, 0,   true",
            "LSTM,      8,  37, 4, false, 4, 3, true,  0.3, false",
            "LSTM_PROJ, 9,  37, 2, true,  4, 2, true,  0,   false",
            "GRU,       5,   1, 1, false, 1, 1, false, 0,   false",
            "GRU,       3,   7, 3, true,  6, 2, true,  0,   true",
            "GRU,      37,  37, 2, false, 9, 3, true,  0,   false",
            "GRU,      20, 129, 4, true,  3, 2, true,  0.5, false",
            "GRU_RB,    5,   1, 1, false, 1, 1, false, 0,   false",
            "GRU_RB,    3,   7, 3, true,  6, 2, true,  0,   true",
            "GRU_RB,   20, 129, 2, true,  3, 2, true,  0.5, false",
            "LSTM_PH,   5,   1, 1, false, 1, 1, true,  0,   false",
            "LSTM_PH,  14,   7, 3, true,  5, 2, true,  0,   true",
            "LSTM_PH,  20, 129, 2, true,  3, 2, false, 0.3, false",
            "LSTM_CIF, 14,   7, 3, true,  5, 2, true,  0,   true",
            "LSTM_CIF, 20, 129, 2, true,  3, 2, false, 0.3, false"})
    void rnnLstmGru(String kind, int inputSize, int hidden, int layers, boolean bidir, int T, int B, boolean withH0,
                    double dropout, boolean batchFirst) {
        SplittableRandom rnd = new SplittableRandom(kind.hashCode() * 131L + inputSize * 31L + hidden * 7L + layers);
        int dirs = bidir ? 2 : 1;
        boolean lstm = kind.startsWith("LSTM");
        int proj = kind.equals("LSTM_PROJ") ? 5 : 0;
        int hOut = proj > 0 ? proj : hidden;
        try (RNNBase r = build(ref, kind, inputSize, hidden, layers, bidir, dropout, batchFirst, proj);
             RNNBase o = build(fast, kind, inputSize, hidden, layers, bidir, dropout, batchFirst, proj)) {
            r.resetParameters(rnd.nextLong());
            copyParameters(r, o);
            if (dropout > 0) {
                r.train(true);
                o.train(true);
                r.setDropoutSeed(7);
                o.setDropoutSeed(7);
            } else {
                r.eval();
                o.eval();
            }
            HostTensor x = batchFirst ? random(rnd, B, T, inputSize) : random(rnd, T, B, inputSize);
            HostTensor h0 = random(rnd, layers * dirs, B, hOut), c0 = random(rnd, layers * dirs, B, hidden);
            HostTensor gOut = batchFirst ? random(rnd, B, T, dirs * hOut) : random(rnd, T, B, dirs * hOut);
            HostTensor gHn = random(rnd, layers * dirs, B, hOut), gCn = random(rnd, layers * dirs, B, hidden);
            double rtol = 1e-4, atol = 2e-5;
            try (Tensor xr = ref.tensor(x); Tensor xo = fast.tensor(x);
                 Tensor h0r = withH0 ? ref.tensor(h0) : null; Tensor h0o = withH0 ? fast.tensor(h0) : null;
                 Tensor c0r = withH0 && lstm ? ref.tensor(c0) : null; Tensor c0o = withH0 && lstm ? fast.tensor(c0) : null;
                 Tensor gr = ref.tensor(gOut); Tensor go = fast.tensor(gOut);
                 Tensor ghr = ref.tensor(gHn); Tensor gho = fast.tensor(gHn);
                 Tensor gcr = ref.tensor(gCn); Tensor gco = fast.tensor(gCn);
                 RecurrentOutput fr = forward(r, xr, h0r, c0r); RecurrentOutput fo = forward(o, xo, h0o, c0o)) {
                assertClose("output", fr.output(), fo.output(), rtol, atol);
                assertClose("h_n", fr.hN(), fo.hN(), rtol, atol);
                if (lstm) assertClose("c_n", fr.cN(), fo.cN(), rtol, atol);
                try (RecurrentGrads br = backward(r, fr, gr, ghr, gcr); RecurrentGrads bo = backward(o, fo, go, gho, gco)) {
                    assertClose("grad_input", br.input(), bo.input(), rtol, atol);
                    if (withH0) {
                        assertClose("grad_h0", br.h0(), bo.h0(), rtol, atol);
                        if (lstm) assertClose("grad_c0", br.c0(), bo.c0(), rtol, atol);
                    }
                    compareGrads(r, o, rtol, atol * T * B);
                }
            }
        }
    }

    /**
     * Variable-length batches (lengths in any order, all 1, all T, a longest below T) through
     * the same stacks, with dropout, batch_first, proj_size and unbatched input; random
     * upstream gradients at the padded steps too.
     */
    @ParameterizedTest(name = "{0} I={1} H={2} layers={3} bidir={4} T={5} lengths={6} h0={7} dropout={8} batchFirst={9}")
    @CsvSource(delimiter = ';', value = {
            "RNN_TANH;  5;   7; 1; false; 4; 1 1 1;       true;  0;   false",
            "RNN_RELU;  3;  37; 2; true;  6; 2 6 3 6 1;   true;  0;   true",
            "LSTM;      8;  37; 4; false; 3; 1 1 1 1 1;   true;  0;   false",
            "LSTM;     14;   7; 3; true;  5; 5 5 5;       true;  0;   false",
            "LSTM;      9;  37; 2; true;  7; 3 1 6 2 4;   false; 0.3; true",
            "LSTM_PROJ; 9;  37; 2; true;  4; 4 2 1;       true;  0;   false",
            "GRU;       3;   7; 3; true;  6; 1 6 4 2;     true;  0;   true",
            "GRU;      20; 129; 2; true;  5; 3 5 1 1 4 2; true;  0.5; false",
            "GRU;       4;   6; 2; true;  5; 3;           true;  0;   false",
            "GRU_RB;    3;   7; 3; true;  6; 1 6 4 2;     true;  0;   true",
            "GRU_RB;    4;   6; 2; true;  5; 3;           true;  0;   false",
            "LSTM_PH;   9;  37; 2; true;  7; 3 1 6 2 4;   true;  0;   true",
            "LSTM_PH;   4;   6; 2; true;  5; 3;           true;  0;   false",
            "LSTM_CIF;  9;  37; 2; true;  7; 3 1 6 2 4;   true;  0;   true"})
    void rnnLstmGruWithLengths(String kind, int inputSize, int hidden, int layers, boolean bidir, int T, String lengthList,
                               boolean withH0, double dropout, boolean batchFirst) {
        int[] len = java.util.Arrays.stream(lengthList.trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        // One length: the unbatched form (T, I).
        boolean unbatched = len.length == 1;
        int B = len.length;
        SplittableRandom rnd = new SplittableRandom(kind.hashCode() * 17L + inputSize * 31L + T * 7L + B);
        int dirs = bidir ? 2 : 1;
        boolean lstm = kind.startsWith("LSTM");
        int proj = kind.equals("LSTM_PROJ") ? 5 : 0;
        int hOut = proj > 0 ? proj : hidden, W = dirs * hOut, LD = layers * dirs;
        try (RNNBase r = build(ref, kind, inputSize, hidden, layers, bidir, dropout, batchFirst, proj);
             RNNBase o = build(fast, kind, inputSize, hidden, layers, bidir, dropout, batchFirst, proj)) {
            r.resetParameters(rnd.nextLong());
            copyParameters(r, o);
            if (dropout > 0) {
                r.train(true);
                o.train(true);
                r.setDropoutSeed(5);
                o.setDropoutSeed(5);
            } else {
                r.eval();
                o.eval();
            }
            int[] xs = unbatched ? new int[]{T, inputSize} : batchFirst ? new int[]{B, T, inputSize} : new int[]{T, B, inputSize};
            int[] os = unbatched ? new int[]{T, W} : batchFirst ? new int[]{B, T, W} : new int[]{T, B, W};
            int[] hs = unbatched ? new int[]{LD, hOut} : new int[]{LD, B, hOut}, cs = unbatched ? new int[]{LD, hidden} : new int[]{LD, B, hidden};
            HostTensor x = random(rnd, xs), h0 = random(rnd, hs), c0 = random(rnd, cs);
            HostTensor gOut = random(rnd, os), gHn = random(rnd, hs), gCn = random(rnd, cs);
            double rtol = 1e-4, atol = 2e-5;
            try (Tensor xr = ref.tensor(x); Tensor xo = fast.tensor(x);
                 Tensor h0r = withH0 ? ref.tensor(h0) : null; Tensor h0o = withH0 ? fast.tensor(h0) : null;
                 Tensor c0r = withH0 && lstm ? ref.tensor(c0) : null; Tensor c0o = withH0 && lstm ? fast.tensor(c0) : null;
                 Tensor gr = ref.tensor(gOut); Tensor go = fast.tensor(gOut);
                 Tensor ghr = ref.tensor(gHn); Tensor gho = fast.tensor(gHn);
                 Tensor gcr = ref.tensor(gCn); Tensor gco = fast.tensor(gCn);
                 RecurrentOutput fr = forward(r, xr, h0r, c0r, len); RecurrentOutput fo = forward(o, xo, h0o, c0o, len)) {
                assertClose("output", fr.output(), fo.output(), rtol, atol);
                assertClose("h_n", fr.hN(), fo.hN(), rtol, atol);
                if (lstm) assertClose("c_n", fr.cN(), fo.cN(), rtol, atol);
                try (RecurrentGrads br = backward(r, fr, gr, ghr, gcr); RecurrentGrads bo = backward(o, fo, go, gho, gco)) {
                    assertClose("grad_input", br.input(), bo.input(), rtol, atol);
                    if (withH0) {
                        assertClose("grad_h0", br.h0(), bo.h0(), rtol, atol);
                        if (lstm) assertClose("grad_c0", br.c0(), bo.c0(), rtol, atol);
                    }
                    compareGrads(r, o, rtol, atol * T * B);
                }
            }
        }
    }

    private static RecurrentOutput forward(RNNBase m, Tensor x, Tensor h0, Tensor c0, int[] lengths) {
        return m.forwardStates(x, h0, m.hasCellState() ? c0 : null, lengths);
    }

    private static RNNBase build(Device d, String kind, int inputSize, int hidden, int layers, boolean bidir, double dropout,
                                 boolean batchFirst, int proj) {
        return switch (kind) {
            case "RNN_TANH", "RNN_RELU" -> RNN.builder(inputSize, hidden).nonlinearity(kind.equals("RNN_TANH") ? "tanh" : "relu")
                    .numLayers(layers).bidirectional(bidir).dropout(dropout).batchFirst(batchFirst).build(d);
            case "LSTM", "LSTM_PROJ", "LSTM_PH", "LSTM_CIF" -> LSTM.builder(inputSize, hidden).projSize(proj).peepholes(kind.equals("LSTM_PH"))
                    .coupledInputForget(kind.equals("LSTM_CIF"))
                    .numLayers(layers).bidirectional(bidir).dropout(dropout).batchFirst(batchFirst).build(d);
            case "GRU", "GRU_RB" -> GRU.builder(inputSize, hidden).linearBeforeReset(kind.equals("GRU"))
                    .numLayers(layers).bidirectional(bidir).dropout(dropout).batchFirst(batchFirst).build(d);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    private static RecurrentOutput forward(RNNBase m, Tensor x, Tensor h0, Tensor c0) {
        return m.forwardStates(x, h0, m.hasCellState() ? c0 : null, null);
    }

    private static RecurrentGrads backward(RNNBase m, RecurrentOutput out, Tensor gOut, Tensor gHn, Tensor gCn) {
        return m.backwardStates(out, gOut, gHn, m.hasCellState() ? gCn : null);
    }
}
