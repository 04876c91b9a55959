package dev.rnn4j.conformance;

import dev.rnn4j.HostTensor;
import dev.rnn4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** Parsing and validating the config of a conformance file. */
class ConformanceCaseTest {
    @TempDir
    Path dir;

    @Test
    void readsEveryConfigField() throws IOException {
        ConformanceCase c = ConformanceCase.load(CaseFiles.source("gru_basic"));
        assertEquals("gru_basic", c.name());
        assertEquals(ConformanceCase.Mode.GRU, c.mode());
        assertEquals(4, c.inputSize());
        assertEquals(5, c.hiddenSize());
        assertEquals(1, c.numLayers());
        assertEquals(6, c.seqLen());
        assertEquals(3, c.batch());
        assertEquals(0, c.projSize());
        assertTrue(c.bias() && c.hasH0());
        assertFalse(c.batchFirst() || c.bidirectional());
        assertEquals(new ConformanceCase.Tolerance(1e-4, 1e-5), c.forwardTolerance());
        assertEquals(new ConformanceCase.Tolerance(1e-3, 1e-4), c.gradTolerance());
        assertSame(c.gradTolerance(), c.toleranceFor("grad.weight_ih_l0"));
        assertSame(c.gradTolerance(), c.toleranceFor("grad_input"));
        assertSame(c.forwardTolerance(), c.toleranceFor("h_n"));
        assertEquals(List.of("input", "h0", "weight_ih_l0"), List.copyOf(c.tensors().keySet()).subList(0, 3));
    }

    @Test
    void readsSruFieldsAndShapes() throws IOException {
        ConformanceCase c = ConformanceCase.load(CaseFiles.source("sru_bidir_k4_2layer"));
        assertEquals(ConformanceCase.Mode.SRU, c.mode());
        assertEquals(c.numLayers(), c.k().size());
        assertTrue(c.useTanh());
        Map<String, int[]> s = c.expectedShapes();
        assertFalse(s.containsKey("h0") || s.containsKey("h_n") || s.containsKey("grad_h_n"));
        assertArrayEquals(new int[] {c.numLayers(), c.batch(), 2 * c.hiddenSize()}, s.get("c_n"));
        assertArrayEquals(s.get("c_n"), s.get("grad_c0"));
    }

    @Test
    void expectedShapesFollowTheReadme() throws IOException {
        ConformanceCase proj = ConformanceCase.load(CaseFiles.source("lstm_proj"));
        Map<String, int[]> s = proj.expectedShapes();
        int l = proj.numLayers(), b = proj.batch();
        assertArrayEquals(new int[] {l, b, proj.projSize()}, s.get("h0"));
        assertArrayEquals(new int[] {l, b, proj.hiddenSize()}, s.get("c0"));
        assertArrayEquals(new int[] {proj.seqLen(), b, proj.projSize()}, s.get("output"));

        ConformanceCase bf = ConformanceCase.load(CaseFiles.source("lstm_bidir_2layer_bf"));
        s = bf.expectedShapes();
        assertTrue(bf.batchFirst() && bf.bidirectional() && !bf.hasH0());
        assertArrayEquals(new int[] {bf.batch(), bf.seqLen(), bf.inputSize()}, s.get("input"));
        assertArrayEquals(new int[] {bf.batch(), bf.seqLen(), 2 * bf.hiddenSize()}, s.get("output"));
        assertArrayEquals(new int[] {2 * bf.numLayers(), bf.batch(), bf.hiddenSize()}, s.get("h_n"));
        assertFalse(s.containsKey("h0") || s.containsKey("grad_c0"));

        ConformanceCase cell = ConformanceCase.load(CaseFiles.source("lstmcell"));
        s = cell.expectedShapes();
        assertArrayEquals(new int[] {cell.batch(), cell.hiddenSize()}, s.get("h0"));
        assertArrayEquals(new int[] {cell.seqLen(), cell.batch(), cell.hiddenSize()}, s.get("output"));
    }

    private void rejected(String base, Consumer<Map<String, Object>> edit, String fragment) throws IOException {
        Path p = CaseFiles.edited(base, dir.resolve("edited.safetensors"), edit, null);
        ConformanceFormatException e = assertThrows(ConformanceFormatException.class, () -> ConformanceCase.load(p));
        assertTrue(e.getMessage().startsWith(p + ": "), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    }

    @Test
    void rejectsBadConfigs() throws IOException {
        rejected("gru_basic", c -> c.remove("hidden_size"), "config: missing key \"hidden_size\"");
        rejected("gru_basic", c -> c.put("mode", "Transformer"), "unknown mode \"Transformer\"");
        rejected("gru_basic", c -> c.put("num_layers", 0L), "\"num_layers\" must be a positive int, got 0");
        rejected("gru_basic", c -> c.put("seq_len", 2.5), "\"seq_len\" must be an integer, got 2.5");
        rejected("gru_basic", c -> c.put("bias", "yes"), "\"bias\" must be true or false, got \"yes\"");
        rejected("gru_basic", c -> c.put("proj_size", 2L), "proj_size 2 is only valid for LSTM");
        rejected("lstm_basic", c -> c.put("proj_size", 99L), "must be smaller than hidden_size");
        rejected("gru_basic", c -> c.remove("tolerances"), "\"tolerances\" must be an object");
        rejected("gru_basic", c -> c.put("tolerances", Map.of("forward", Map.of("rtol", 1e-4, "atol", -1.0),
                "grad", Map.of("rtol", 1e-3, "atol", 1e-4))), "tolerances.forward.atol must be finite and >= 0");
        rejected("gru_basic", c -> c.put("tolerances", Map.of("forward", Map.of("rtol", 1e-4, "atol", 1e-5))),
                "tolerances.grad must be an object, got null");
        rejected("grucell", c -> c.put("bidirectional", true), "GRUCell needs num_layers 1");
        rejected("sru_bidir_k4_2layer", c -> c.put("k", List.of(4L)), "\"k\" has 1 entries but num_layers is 2");
        rejected("sru_bidir_k4_2layer", c -> c.put("k", List.of(4L, 5L)), "\"k\" must hold only 3 or 4");
        rejected("sru_k3_tanh", c -> c.remove("k"), "SRU config needs \"k\"");
        rejected("sru_k3_tanh", c -> c.put("use_tanh", 2L), "\"use_tanh\" must be true/false or 0/1");
        rejected("sru_k3_tanh", c -> c.put("activation_type", 2L), "activation_type 2 does not match");
        rejected("sru_k3_tanh", c -> c.put("batch_first", true), "batch_first must be false");
    }

    @Test
    void readsTheLengthsOfAVariableLengthCase() throws IOException {
        ConformanceCase c = ConformanceCase.load(CaseFiles.source("varlen_lstm_basic"));
        List<?> listed = (List<?>) c.config().get("lengths");
        int[] l = c.lengths();
        assertEquals(c.batch(), l.length);
        for (int b = 0; b < l.length; b++) assertEquals(((Long) listed.get(b)).intValue(), l[b]);
        assertArrayEquals(new int[] {c.batch()}, c.expectedShapes().get("lengths"));
        assertNull(ConformanceCase.load(CaseFiles.source("lstm_basic")).lengths());
        assertFalse(ConformanceCase.load(CaseFiles.source("lstm_basic")).expectedShapes().containsKey("lengths"));
    }

    private void rejectedLengths(Consumer<Map<String, Object>> config, Consumer<Map<String, HostTensor>> tensors, String fragment)
            throws IOException {
        Path p = CaseFiles.edited("varlen_gru_bidir_2layer", dir.resolve("edited.safetensors"), config, tensors);
        ConformanceFormatException e = assertThrows(ConformanceFormatException.class, () -> ConformanceCase.load(p));
        assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    }

    @Test
    void rejectsBadLengths() throws IOException {
        // The tensor is checked on its own (the config list is removed so that only one thing is wrong).
        Consumer<Map<String, Object>> unlisted = c -> c.remove("lengths");
        rejectedLengths(unlisted, ts -> ts.get("lengths").data()[1] = 0, "lengths[1] = 0.0 must be a whole number in 1..");
        rejectedLengths(unlisted, ts -> ts.get("lengths").data()[0] = 99, "lengths[0] = 99.0 must be a whole number in 1..");
        rejectedLengths(unlisted, ts -> ts.get("lengths").data()[2] = 1.5f, "lengths[2] = 1.5 must be a whole number");
        rejectedLengths(unlisted, ts -> ts.put("lengths", new HostTensor(new int[] {2}, new float[] {1, 1})),
                "the lengths tensor must have shape");
        rejectedLengths(c -> c.put("lengths", List.of(1L, 1L, 1L, 1L, 1L)), null, "differs from the lengths tensor");
        rejectedLengths(null, ts -> ts.remove("lengths"), "\"lengths\" is in the config but the file has no lengths tensor");
        Path cell = CaseFiles.edited("grucell", dir.resolve("cell.safetensors"), null,
                ts -> ts.put("lengths", new HostTensor(new int[] {3}, new float[] {1, 2, 3})));
        ConformanceFormatException e = assertThrows(ConformanceFormatException.class, () -> ConformanceCase.load(cell));
        assertTrue(e.getMessage().contains("lengths apply to sequence modules, not to GRUCell"), e.getMessage());
    }

    @Test
    void rejectsFilesWithoutAConfig() throws IOException {
        Path p = dir.resolve("noconfig.safetensors");
        SafeTensors.write(p, Map.of("input", HostTensor.zeros(1, 1, 1)), Map.of("other", "x"));
        ConformanceFormatException e = assertThrows(ConformanceFormatException.class, () -> ConformanceCase.load(p));
        assertTrue(e.getMessage().contains("no \"config\" in __metadata__"), e.getMessage());
        SafeTensors.write(p, Map.of("input", HostTensor.zeros(1, 1, 1)), Map.of("config", "{\"mode\": "));
        e = assertThrows(ConformanceFormatException.class, () -> ConformanceCase.load(p));
        assertTrue(e.getMessage().contains("__metadata__.config is not a JSON object"), e.getMessage());
    }

    @Test
    void nameFallsBackToTheFileName() throws IOException {
        Path p = CaseFiles.edited("gru_basic", dir.resolve("renamed.safetensors"), c -> c.remove("name"), null);
        assertEquals("renamed", ConformanceCase.load(p).name());
    }
}
