package dev.rnn4j.conformance;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** The runner notices wrong values, missing and unknown tensors and config contradictions. */
class ConformanceRunnerTest {
    @TempDir
    Path dir;

    private final Device device = Device.reference();

    @AfterEach
    void close() {
        assertEquals(0, DeviceAccess.backend(device).liveBuffers(), "runner leaked device buffers");
        device.close();
    }

    private CaseResult run(String base, Consumer<Map<String, Object>> config, Consumer<Map<String, HostTensor>> tensors)
            throws IOException {
        Path p = CaseFiles.edited(base, dir.resolve(base + ".safetensors"), config, tensors);
        return ConformanceRunner.run(ConformanceCase.load(p), device);
    }

    private static Consumer<Map<String, HostTensor>> shift(String name, int index, float delta) {
        return ts -> ts.get(name).data()[index] += delta;
    }

    @Test
    void unchangedCasePasses() throws IOException {
        CaseResult r = run("gru_basic", null, null);
        assertTrue(r.passed(), r.line());
        assertTrue(r.line().startsWith("PASS gru_basic  (worst: "), r.line());
        assertTrue(r.line().contains("max_abs_err="), r.line());
        // output, h_n, grad_input, grad_h0 and four parameter gradients
        assertEquals(List.of("output", "h_n", "grad_input", "grad_h0", "grad.weight_ih_l0", "grad.weight_hh_l0",
                "grad.bias_ih_l0", "grad.bias_hh_l0"), r.tensors().stream().map(TensorResult::name).toList());
    }

    @Test
    void wrongGradientFails() throws IOException {
        CaseResult r = run("gru_basic", null, shift("grad.weight_hh_l0", 7, 0.01f));
        assertFalse(r.passed());
        assertEquals("grad.weight_hh_l0", r.worst().name());
        assertEquals("[1, 2]", r.worst().worstPosition(), "row-major index 7 of a (15, 5) tensor");
        assertEquals(1, r.worst().elementsOutside());
        assertEquals(0.01, r.worst().maxAbsErr(), 1e-4);
        assertTrue(r.line().startsWith("FAIL gru_basic  worst tensor grad.weight_hh_l0 err 0.0100 > tol "), r.line());
        assertTrue(r.line().endsWith("1 of 8 tensors out of tolerance"), r.line());
    }

    @Test
    void errorsWithinToleranceStillPass() throws IOException {
        // Half of atol on one output element: inside atol + rtol*|e| whatever the rounding.
        CaseResult r = run("rnn_tanh_basic", null, shift("output", 3, 5e-6f));
        assertTrue(r.passed(), r.line());
        assertEquals("output", r.worst().name());
    }

    @Test
    void wrongForwardValueFailsForEveryModeFamily() throws IOException {
        for (String base : List.of("lstm_proj", "sru_bidir_k3", "lstmcell", "rnncell_relu_noh0")) {
            CaseResult r = run(base, null, shift("output", 0, 1f));
            assertFalse(r.passed(), base);
            assertEquals("output", r.worst().name(), base);
        }
    }

    @Test
    void sru2ParametersBuffersAndLengthsAreUsed() throws IOException {
        assertTrue(run("sru2_mask_bidir_rescale", null, null).passed());
        // weight_c and scale_x are loaded and take part: a change moves the output
        CaseResult r = run("sru2_mask_bidir_rescale", null, shift("rnn_lst.0.weight_c", 1, 0.5f));
        assertFalse(r.passed(), r.line());
        r = run("sru2_k4_rescale_hb", null, shift("rnn_lst.1.scale_x", 0, 0.5f));
        assertFalse(r.passed(), r.line());
        assertEquals("output", r.worst().name(), r.line());
        // the weight_c gradient is compared
        r = run("sru2_basic", null, shift("grad.rnn_lst.1.weight_c", 4, 0.01f));
        assertEquals("grad.rnn_lst.1.weight_c", r.worst().name(), r.line());
        // lengths: the stored tensor must agree with the config, and they change the result
        ConformanceFormatException bad = assertThrows(ConformanceFormatException.class,
                () -> run("varlen_sru_v1_k3", null, ts -> ts.get("lengths").data()[1] = 3));
        assertTrue(bad.getMessage().contains("differs from the lengths tensor"), bad.getMessage());
        r = run("varlen_sru_v1_k3", c -> c.put("lengths", List.of(6L, 3L, 4L)), ts -> ts.get("lengths").data()[1] = 3);
        assertFalse(r.passed(), r.line());
        // a SRU2 file without its scale_x buffer names it as missing
        r = run("sru2_basic", null, ts -> ts.remove("rnn_lst.0.scale_x"));
        assertTrue(r.line().contains("missing tensors: rnn_lst.0.scale_x"), r.line());
    }

    @Test
    void cellStateGradientsAreChecked() throws IOException {
        CaseResult r = run("lstmcell", null, shift("grad_c0", 2, 0.5f));
        assertFalse(r.passed());
        assertEquals("grad_c0", r.worst().name());
        r = run("grucell", null, shift("grad_h0", 0, 0.5f));
        assertEquals("grad_h0", r.worst().name());
    }

    @Test
    void missingTensorsFailWithTheirNames() throws IOException {
        CaseResult r = run("gru_basic", null, ts -> {
            ts.remove("grad_h0");
            ts.remove("bias_hh_l0");
            ts.remove("grad.bias_hh_l0");
        });
        assertFalse(r.passed());
        assertTrue(r.tensors().isEmpty(), "nothing runs");
        assertEquals("FAIL gru_basic  missing tensors: grad_h0, bias_hh_l0, grad.bias_hh_l0", r.line());
    }

    @Test
    void variableLengthCasesUseTheirLengths() throws IOException {
        CaseResult same = run("varlen_lstm_proj_bidir_bf", null, null);
        assertTrue(same.passed(), same.line());
        // Other (valid) lengths, config and tensor alike: the stored results no longer match.
        CaseResult other = run("varlen_lstm_proj_bidir_bf", c -> c.put("lengths", List.of(6L, 6L, 6L, 6L)),
                ts -> java.util.Arrays.fill(ts.get("lengths").data(), 6f));
        assertFalse(other.passed(), other.line());
        // Without its lengths the case is a padded batch, which is also wrong.
        CaseResult none = run("varlen_gru_bidir_2layer", c -> c.remove("lengths"), ts -> ts.remove("lengths"));
        assertFalse(none.passed(), none.line());
        assertTrue(none.problems().isEmpty(), "only values differ: " + none.problems());
    }

    /** An SRU case given lengths it was not computed with fails: the runner passes them to SRU.forward. */
    @Test
    void sruLengthsReachTheLayer() throws IOException {
        CaseResult r = run("sru_k3_tanh", null, ts -> {
            int b = ts.get("input").shape()[1], t = ts.get("input").shape()[0];
            float[] l = new float[b];
            java.util.Arrays.fill(l, t);
            l[0] = 1;
            ts.put("lengths", new HostTensor(new int[] {b}, l));
        });
        assertFalse(r.passed(), r.line());
        assertTrue(r.problems().isEmpty(), "only values differ: " + r.problems());
    }

    @Test
    void unknownTensorsFail() throws IOException {
        CaseResult r = run("gru_basic", null, ts -> ts.put("grad.weight_hr_l0", HostTensor.zeros(2)));
        assertFalse(r.passed());
        assertTrue(r.line().contains("unknown tensors (not used by"), r.line());
        assertTrue(r.line().endsWith("grad.weight_hr_l0"), r.line());

        // has_h0 false while the file stores h0: h0 and grad_h0 are unknown to the case.
        r = run("gru_basic", c -> c.put("has_h0", false), null);
        assertTrue(r.line().contains("): h0, grad_h0"), r.line());
    }

    @Test
    void storedResultsTheLayerDoesNotProduceFail() throws IOException {
        // SRU has no h_n and GRU no c_n: a file that stores one anyway fails instead of leaving it unchecked.
        CaseResult r = run("sru_k3_tanh", null, ts -> ts.put("h_n", HostTensor.zeros(1)));
        assertFalse(r.passed());
        assertTrue(r.line().contains("unknown tensors (not used by") && r.line().endsWith("): h_n"), r.line());
        r = run("gru_basic", null, ts -> ts.put("grad_c0", HostTensor.zeros(1)));
        assertFalse(r.passed());
        assertTrue(r.line().endsWith("): grad_c0"), r.line());
    }

    @Test
    void shapesMustMatchTheConfig() throws IOException {
        CaseResult r = run("gru_basic", c -> c.put("seq_len", 7L), null);
        assertFalse(r.passed());
        assertTrue(r.line().contains("tensor input has shape [6, 3, 4] but the config implies [7, 3, 4]"), r.line());
    }

    @Test
    void parameterShapeMismatchFails() throws IOException {
        CaseResult r = run("rnn_tanh_basic", null, ts -> {
            HostTensor w = ts.get("weight_ih_l0");
            int[] s = w.shape();
            ts.put("weight_ih_l0", new HostTensor(new int[] {s[1], s[0]}, w.data()));
        });
        assertFalse(r.passed());
        assertTrue(r.line().contains("parameters do not load") && r.line().contains("weight_ih_l0"), r.line());
    }

    @Test
    void sruKMustMatchTheConfig() throws IOException {
        CaseResult r = run("sru_bidir_k3", c -> c.put("k", List.of(4L)), null);
        assertFalse(r.passed());
        assertTrue(r.line().contains("SRU layer 0 has k=3 but the config says k=4"), r.line());
    }

    @Test
    void nanNeverPasses() throws IOException {
        CaseResult r = run("gru_basic", null, ts -> ts.get("h_n").data()[0] = Float.NaN);
        assertFalse(r.passed());
        assertEquals("h_n", r.worst().name());
        assertEquals(Double.POSITIVE_INFINITY, r.worst().worstRatio());
    }

    @Test
    void allcloseBoundary() {
        ConformanceCase.Tolerance tol = new ConformanceCase.Tolerance(0.5, 0.25);
        HostTensor e = new HostTensor(new int[] {3}, new float[] {1f, -2f, 0f});
        // bounds: 0.75, 1.25, 0.25 — exactly on the bound passes
        TensorResult ok = TensorResult.compare("t", e, new float[] {1.75f, -0.75f, -0.25f}, new int[] {3}, tol);
        assertTrue(ok.passed(), ok.describe());
        assertEquals(1.0, ok.worstRatio(), 1e-12);
        TensorResult bad = TensorResult.compare("t", e, new float[] {1.75f, -0.75f, -0.3f}, new int[] {3}, tol);
        assertFalse(bad.passed());
        assertEquals(2, bad.worstIndex());
        assertEquals(1, bad.elementsOutside());
        TensorResult exact = TensorResult.compare("t", e, new float[] {1f, -2f, 1e-30f}, new int[] {3},
                new ConformanceCase.Tolerance(0, 0));
        assertFalse(exact.passed(), "zero tolerance admits no error");
        assertEquals(Double.POSITIVE_INFINITY, exact.worstRatio());
        TensorResult shape = TensorResult.compare("t", e, new float[] {1f, -2f, 0f}, new int[] {1, 3}, tol);
        assertFalse(shape.passed());
        assertEquals("shape mismatch: expected [3], got [1, 3]", shape.problem());
    }
}
