package dev.rnn4j.cli;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.lm.Checkpoint;
import dev.rnn4j.lm.LanguageModel;
import dev.rnn4j.lm.TrainConfig;
import dev.rnn4j.lm.TrainingState;
import dev.rnn4j.lm.Vocabulary;
import dev.rnn4j.natives.NativeLib;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code rnn4j onnx export}: a language-model checkpoint (LSTM and SRU) becomes an ONNX model
 * that ONNX Runtime runs with the checkpoint model's logits and states, carrying the
 * vocabulary; bad arguments exit 2.
 */
class OnnxExportCommandTest {
    private record Result(int code, List<String> out, String err) {}

    private static Result run(String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code;
        try (var o = new PrintStream(out, true, StandardCharsets.UTF_8); var e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = new Main(NativeLib::get).dispatch(args, o, e, false);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8).lines().toList(), err.toString(StandardCharsets.UTF_8));
    }

    private static final List<String> WORDS = List.of("<eos>", "the", "cat", "sat", "on", "a", "mat", "<unk>");

    private static TrainConfig config(boolean lstm) {
        return new TrainConfig(lstm, 2, 5, 1, 6, 0.3, 0.2, -1, 2, 1.0, 0.98, 1, 1e-5, 0.25, 17, false, false);
    }

    @Test
    void exportsAnLstmCheckpointThatOnnxRuntimeRuns(@TempDir Path dir) throws Exception {
        check(dir, true, true);
    }

    @Test
    void exportsAnSruCheckpointNextToIt(@TempDir Path dir) throws Exception {
        check(dir, false, false);
    }

    private static void check(Path dir, boolean lstm, boolean withState) throws Exception {
        TrainConfig cfg = config(lstm);
        int V = WORDS.size(), d = cfg.d(), L = cfg.depth(), T = 3, B = 2;
        Path ckpt = dir.resolve("lm.safetensors");
        try (Device ref = Device.reference();
             LanguageModel lm = new LanguageModel(ref, V, d, L, lstm, cfg.dropout(), cfg.rnnDropout(), false, false, cfg.bias())) {
            lm.initialize(5, (float) cfg.bias());
            Checkpoint.save(ckpt, lm, cfg, Vocabulary.of(WORDS), TrainingState.start(cfg), Map.of());

            Result r = withState ? run("onnx", "export", ckpt.toString(), "-o", dir.resolve("out.onnx").toString(), "--with-state")
                    : run("onnx", "export", ckpt.toString());
            assertEquals(0, r.code(), r.out() + r.err());
            Path model = dir.resolve(withState ? "out.onnx" : "lm.onnx");
            assertTrue(r.out().getFirst().startsWith("wrote " + model), r.out().toString());
            assertTrue(r.out().getFirst().contains((lstm ? "LSTM" : "SRU") + " language model, vocabulary 8, d 6, depth 2"), r.out().toString());

            SplittableRandom rnd = new SplittableRandom(2);
            long[] tokens = new long[T * B];
            int[] ids = new int[T * B];
            for (int i = 0; i < ids.length; i++) tokens[i] = ids[i] = rnd.nextInt(V);
            float[] h0 = new float[L * B * d], c0 = new float[L * B * d];
            for (int i = 0; i < h0.length; i++) {
                h0[i] = (float) rnd.nextDouble(-1, 1);
                c0[i] = (float) rnd.nextDouble(-1, 1);
            }
            Map<String, float[]> expected = new LinkedHashMap<>();
            lm.eval();
            try (LanguageModel.State s = lm.newState(B)) {
                if (withState) {
                    s.c().copyFrom(c0);
                    if (s.h() != null) s.h().copyFrom(h0);
                }
                try (Tensor logits = lm.logits(ids, T, B, s)) {
                    expected.put("logits", logits.toArray());
                }
                if (lstm) expected.put("h_n", s.h().toArray());
                expected.put("c_n", s.c().toArray());
            }

            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession session = env.createSession(Files.readAllBytes(model), new OrtSession.SessionOptions())) {
                assertEquals(String.join("\n", WORDS), session.getMetadata().getCustomMetadata().get("vocabulary"));
                Map<String, ai.onnxruntime.OnnxTensor> feed = new LinkedHashMap<>();
                feed.put("tokens", ai.onnxruntime.OnnxTensor.createTensor(env, LongBuffer.wrap(tokens), new long[]{T, B}));
                if (withState) {
                    if (lstm) feed.put("h0", ai.onnxruntime.OnnxTensor.createTensor(env, FloatBuffer.wrap(h0), new long[]{L, B, d}));
                    feed.put("c0", ai.onnxruntime.OnnxTensor.createTensor(env, FloatBuffer.wrap(c0), new long[]{L, B, d}));
                }
                try (OrtSession.Result res = session.run(feed)) {
                    for (Map.Entry<String, float[]> e : expected.entrySet()) {
                        FloatBuffer b = ((ai.onnxruntime.OnnxTensor) res.get(e.getKey()).orElseThrow()).getFloatBuffer();
                        float[] got = new float[b.remaining()];
                        b.get(got);
                        float[] want = e.getValue();
                        assertEquals(want.length, got.length, e.getKey());
                        for (int i = 0; i < want.length; i++)
                            assertTrue(Math.abs(got[i] - want[i]) <= 1e-5 + 1e-3 * Math.abs(want[i]),
                                    e.getKey() + "[" + i + "]: expected " + want[i] + ", got " + got[i]);
                    }
                } finally {
                    for (ai.onnxruntime.OnnxTensor t : feed.values()) t.close();
                }
            }
        }
    }

    @Test
    void refusesMissingAndForeignFiles(@TempDir Path dir) {
        Result r = run("onnx", "export", dir.resolve("nothing.safetensors").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no such checkpoint"), r.err());
        r = run("onnx", "export", "tests/onnx/cases/lm_step_lstm/model.onnx", "-o", dir.resolve("x.onnx").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("onnx export:"), r.err());
        assertFalse(Files.exists(dir.resolve("x.onnx")));
        r = run("onnx", "export");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no CHECKPOINT given"), r.err());
        r = run("onnx", "export", "a", "--frobnicate");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown option --frobnicate"), r.err());
    }
}
