package dev.rnn4j.conformance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Exit codes and output of {@code conformance [--backend NAME] PATH...}. */
class ConformanceCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {
        List<String> outLines() { return out.lines().toList(); }
        List<String> errLines() { return err.lines().toList(); }
    }

    private static Run run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
             PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            code = ConformanceCommand.run(args, out, err);
        }
        return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    private Path copy(String name, Path to) throws IOException {
        Files.createDirectories(to);
        return Files.copy(CaseFiles.source(name), to.resolve(name + ".safetensors"));
    }

    /** An error run: exit 2, nothing on out, one line on err (no stack trace) containing every fragment. */
    private static void usageError(Run r, String... fragments) {
        assertEquals(2, r.code(), r.toString());
        assertEquals("", r.out(), r.toString());
        String first = r.errLines().get(0);
        for (String f : fragments) assertTrue(first.contains(f), "expected '" + f + "' in: " + first);
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertFalse(r.err().contains("Exception"), "no exception class names: " + r.err());
    }

    @Test
    void allPassingExitsZero() throws IOException {
        Path cases = dir.resolve("cases");
        copy("sru_k3_tanh", cases);
        copy("lstm_basic", cases);
        copy("grucell", cases);
        Files.writeString(cases.resolve("notes.txt"), "not a case");
        Run r = run(cases.toString());
        assertEquals(0, r.code(), r.toString());
        assertEquals("", r.err());
        List<String> lines = r.outLines();
        assertEquals(4, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("PASS grucell  (worst: "), "directory taken in name order: " + r.out());
        assertTrue(lines.get(1).startsWith("PASS lstm_basic  (worst: "), r.out());
        assertTrue(lines.get(2).startsWith("PASS sru_k3_tanh  (worst: "), r.out());
        assertTrue(lines.get(2).matches("PASS sru_k3_tanh  \\(worst: \\S+ max_abs_err=\\S+, \\S+ of tol\\)"), lines.get(2));
        assertEquals("3 passed, 0 failed", lines.get(3));
    }

    @Test
    void backendOptionAndFileArguments() throws IOException {
        Path f = copy("rnn_relu_handworked", dir);
        Run r = run("--backend", "reference", f.toString());
        assertEquals(0, r.code(), r.toString());
        assertEquals(List.of("PASS rnn_relu_handworked  (worst: output max_abs_err=0, 0 of tol)", "1 passed, 0 failed"),
                r.outLines());
        r = run("--backend=reference", f.toString(), f.toString());
        assertEquals(0, r.code(), r.toString());
        assertEquals("2 passed, 0 failed", r.outLines().get(2));
    }

    @Test
    void verbosePrintsEveryTensor() throws IOException {
        Path f = copy("gru_basic", dir);
        Run r = run("-v", f.toString());
        assertEquals(0, r.code(), r.toString());
        assertEquals(1 + 8 + 1, r.outLines().size(), r.out());
        assertTrue(r.outLines().get(1).startsWith("    output ok max_abs_err="), r.out());
    }

    @Test
    void runsVariableLengthCasesWithTheirLengths() throws IOException {
        Path cases = dir.resolve("cases");
        copy("varlen_lstm_proj_bidir_bf", cases);
        CaseFiles.edited("varlen_gru_bidir_2layer", cases.resolve("varlen_gru_unpacked.safetensors"),
                c -> { c.put("name", "varlen_gru_unpacked"); c.remove("lengths"); }, ts -> ts.remove("lengths"));
        Run r = run("--backend=reference", cases.toString());
        assertEquals(1, r.code(), r.toString());
        List<String> lines = r.outLines();
        // The files run in name order: without its lengths the GRU case is a padded batch and fails.
        assertTrue(lines.get(0).startsWith("FAIL varlen_gru_unpacked"), r.out());
        assertTrue(lines.get(1).startsWith("PASS varlen_lstm_proj_bidir_bf"), r.out());
        assertEquals("1 passed, 1 failed", lines.get(2));
    }

    @Test
    void aFailingCaseExitsOne() throws IOException {
        Path cases = dir.resolve("cases");
        copy("gru_basic", cases);
        CaseFiles.edited("lstm_basic", cases.resolve("lstm_broken.safetensors"), c -> c.put("name", "lstm_broken"),
                ts -> ts.get("c_n").data()[4] += 0.25f);
        Run r = run(cases.toString());
        assertEquals(1, r.code(), r.toString());
        assertEquals("", r.err());
        List<String> lines = r.outLines();
        assertTrue(lines.get(0).startsWith("PASS gru_basic"), r.out());
        assertTrue(lines.get(1).startsWith("FAIL lstm_broken  worst tensor c_n err 0.250 > tol "), r.out());
        assertEquals("1 passed, 1 failed", lines.get(2));
    }

    @Test
    void missingTensorIsAFailureNotASkip() throws IOException {
        Path f = CaseFiles.edited("lstm_basic", dir.resolve("lstm_basic.safetensors"), null, ts -> ts.remove("grad_c0"));
        Run r = run(f.toString());
        assertEquals(1, r.code(), r.toString());
        assertEquals(List.of("FAIL lstm_basic  missing tensors: grad_c0", "0 passed, 1 failed"), r.outLines());
    }

    @Test
    void missingFileExitsTwo() {
        Path nope = dir.resolve("nope.safetensors");
        usageError(run(nope.toString()), "no such file or directory", nope.toString());
    }

    @Test
    void corruptFileExitsTwoNamingTheFile() throws IOException {
        Path good = copy("gru_basic", dir.resolve("cases"));
        byte[] all = Files.readAllBytes(good);
        Path cut = dir.resolve("cases").resolve("truncated.safetensors");
        Files.write(cut, Arrays.copyOf(all, all.length - 100));
        Run r = run(dir.resolve("cases").toString());
        usageError(r, "invalid case file", cut.toString(), "end past the data buffer");
        assertEquals(1, r.errLines().size(), r.err());

        Files.write(cut, new byte[] {'P', 'K', 3, 4});
        usageError(run(cut.toString()), cut.toString(), "too short");

        Path noConfig = CaseFiles.edited("gru_basic", dir.resolve("badcfg.safetensors"), c -> c.put("mode", "BiLSTM"), null);
        usageError(run(noConfig.toString()), noConfig.toString(), "unknown mode \"BiLSTM\"");
    }

    @Test
    void emptyDirectoryExitsTwo() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        usageError(run(empty.toString()), "no *.safetensors files in directory", empty.toString());
    }

    @Test
    void usageErrorsExitTwo() throws IOException {
        Path f = copy("gru_basic", dir);
        usageError(run(), "no PATH given");
        usageError(run("--backend"), "--backend needs a backend name");
        usageError(run("--frobnicate", f.toString()), "unknown option --frobnicate");
        usageError(run("--backend", "nosuch", f.toString()), "cannot open backend 'nosuch'");
        Run help = run("--help");
        assertEquals(0, help.code());
        assertTrue(help.out().startsWith("usage: conformance"), help.out());
    }
}
