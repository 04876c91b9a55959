package dev.rnn4j.cli;

import dev.rnn4j.natives.NativeLib;
import dev.rnn4j.onnx.OnnxTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@code rnn4j onnx test|run|info}: output lines and exit codes. */
class OnnxCommandTest {
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

    @Test
    void testPrintsOneLinePerCaseThenTheCounts() {
        Result r = run("onnx", "test", "--backend", "cpu", "tests/onnx-node");
        assertEquals(0, r.code(), r.err());
        assertEquals(13, r.out().size(), r.out().toString());
        assertEquals("12 passed, 0 failed", r.out().get(12));
        assertTrue(r.out().contains(r.out().stream().filter(l -> l.startsWith("PASS test_lstm_defaults  ")).findFirst().orElse("missing")));
        assertTrue(r.out().stream().anyMatch(l -> l.startsWith("PASS test_lstm_with_peepholes  ")));

        Result ok = run("onnx", "test", "tests/onnx/cases/lm_step_lstm", "tests/onnx-node/test_lstm_batchwise");
        assertEquals(0, ok.code(), ok.out() + ok.err());
        assertEquals("2 passed, 0 failed", ok.out().getLast());
    }

    @Test
    void testRefusesMissingPathsAndUnknownBackends() {
        Result r = run("onnx", "test", "no/such/dir");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no such case or directory: no/such/dir"), r.err());
        r = run("onnx", "test", "--backend", "abacus", "tests/onnx-node");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cannot open backend 'abacus'"), r.err());
        r = run("onnx", "test");
        assertEquals(2, r.code());
    }

    @Test
    void runPrintsAndWritesOutputs(@TempDir Path dir) throws Exception {
        Path c = Path.of("tests/onnx/cases/lm_step_lstm/test_data_set_0");
        Result r = run("onnx", "run", "tests/onnx/cases/lm_step_lstm/model.onnx", "--input", "tokens=" + c.resolve("input_0.pb"),
                "--input", "h0=" + c.resolve("input_1.pb"), "--input", "c0=" + c.resolve("input_2.pb"), "--output-dir", dir.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(3, r.out().size());
        assertTrue(r.out().get(0).startsWith("logits: FLOAT[1, 4, 17] ["), r.out().get(0));
        float[] want = OnnxTensor.read(c.resolve("output_1.pb")).floats(), got = OnnxTensor.read(dir.resolve("h.pb")).floats();
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 + 1e-3 * Math.abs(want[i]));

        Result missing = run("onnx", "run", "tests/onnx/cases/lm_step_lstm/model.onnx", "--input", "tokens=" + c.resolve("input_0.pb"));
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("input 'h0' is missing"), missing.err());

        Result info = run("onnx", "info", "tests/onnx/cases/tagger_bilstm/model.onnx");
        assertEquals(0, info.code(), info.err());
        assertEquals("opset 14", info.out().get(0));
        assertTrue(info.out().stream().anyMatch(l -> l.startsWith("operators ") && l.contains("LSTM")), info.out().toString());
    }
}
