// Checks that stepping many keys in batches (as the operator does) gives each key exactly the
// outputs of its whole sequence run offline, for every recurrent kind, on the reference backend.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import dev.rnn4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class StreamingModelTest {

    static Stream<ModelSpec> specs() {
        return Stream.of(
                ModelSpec.of(ModelSpec.Kind.GRU, 5, 7, 2),
                ModelSpec.of(ModelSpec.Kind.LSTM, 5, 6, 2).withOutput(3),
                ModelSpec.of(ModelSpec.Kind.LSTM, 4, 6, 1).withProjSize(3),
                ModelSpec.of(ModelSpec.Kind.RNN_TANH, 5, 4, 3),
                ModelSpec.of(ModelSpec.Kind.RNN_RELU, 3, 4, 1).withOutput(2),
                ModelSpec.of(ModelSpec.Kind.SRU, 6, 6, 2),
                ModelSpec.of(ModelSpec.Kind.SRU, 4, 5, 2).withOutput(3),
                ModelSpec.of(ModelSpec.Kind.GRU, 4, 6, 1).withEmbedding(11).withOutput(11).withPreviousOutput(true));
    }

    /**
     * Random interleaving of K keys' sequences, stepped in batches of varying size; compared with
     * sequence(): bitwise for RNN, LSTM and GRU, to float rounding of c for SRU (see below).
     */
    @ParameterizedTest
    @MethodSource("specs")
    void batchedStepsEqualOfflineRunBitwise(ModelSpec spec) {
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.create(d, spec, 7)) {
            int keys = 9;
            SplittableRandom r = new SplittableRandom(3);
            int[] len = new int[keys];
            float[][][] vec = new float[keys][][];
            int[][] tok = new int[keys][];
            for (int k = 0; k < keys; k++) {
                len[k] = 1 + r.nextInt(12);
                vec[k] = new float[len[k]][spec.inputSize()];
                tok[k] = new int[len[k]];
                for (int t = 0; t < len[k]; t++) {
                    for (int i = 0; i < spec.inputSize(); i++) vec[k][t][i] = (float) (r.nextDouble() * 2 - 1);
                    tok[k][t] = r.nextInt(Math.max(1, spec.vocabSize()));
                }
            }
            float[][] states = new float[keys][];
            for (int k = 0; k < keys; k++) states[k] = m.initialState();
            float[][][] got = new float[keys][][];
            float[][][] prevSeen = new float[keys][][];
            for (int k = 0; k < keys; k++) { got[k] = new float[len[k]][]; prevSeen[k] = new float[len[k]][]; }
            int[] next = new int[keys];
            int steps = 0;
            while (true) {
                List<Integer> wave = new ArrayList<>();
                for (int k = 0; k < keys; k++) if (next[k] < len[k] && r.nextInt(3) != 0) wave.add(k);
                if (wave.isEmpty()) {
                    boolean left = false;
                    for (int k = 0; k < keys; k++) left |= next[k] < len[k];
                    if (!left) break;
                    continue;
                }
                int n = wave.size();
                float[][] s = new float[n][];
                float[][] v = new float[n][];
                int[] t = new int[n];
                for (int i = 0; i < n; i++) {
                    int k = wave.get(i);
                    s[i] = states[k];
                    v[i] = vec[k][next[k]];
                    t[i] = tok[k][next[k]];
                    if (spec.keepPreviousOutput()) prevSeen[k][next[k]] = m.previousOutput(states[k]);
                }
                float[][] out = m.step(s, spec.tokens() ? null : v, spec.tokens() ? t : null);
                for (int i = 0; i < n; i++) {
                    int k = wave.get(i);
                    assertEquals(spec.outputWidth(), out[i].length);
                    got[k][next[k]++] = out[i];
                }
                steps++;
            }
            assertTrue(steps > 3);
            for (int k = 0; k < keys; k++) {
                float[][] want = m.sequence(spec.tokens() ? null : vec[k], spec.tokens() ? tok[k] : null);
                for (int t = 0; t < len[k]; t++) {
                    if (spec.kind() == ModelSpec.Kind.SRU) {
                        // The reference SRU carries c in double across the steps of one call; a step starts
                        // from the float c kept in state, so the two differ by float rounding of c only.
                        assertArrayEquals(want[t], got[k][t], 1e-6f, "key " + k + " step " + t);
                        continue;
                    }
                    for (int i = 0; i < want[t].length; i++)
                        assertEquals(Float.floatToRawIntBits(want[t][i]), Float.floatToRawIntBits(got[k][t][i]), "key " + k + " step " + t + " element " + i);
                    if (spec.keepPreviousOutput())
                        assertArrayEquals(t == 0 ? new float[spec.outputWidth()] : want[t - 1], prevSeen[k][t], 0f);
                }
            }
        }
    }

    /** On the cpu backend (when OpenBLAS is here), batched steps agree with the reference offline run to float tolerance. */
    @Test
    void cpuBackendAgreesWithReference() {
        boolean cpu = Device.backends().stream().anyMatch(b -> b.name().equals("cpu") && b.available());
        if (!cpu && "1".equals(System.getenv("RNN4J_REQUIRE_CPU"))) fail("cpu backend unavailable but RNN4J_REQUIRE_CPU=1");
        org.junit.jupiter.api.Assumptions.assumeTrue(cpu, "cpu backend unavailable here");
        ModelSpec spec = ModelSpec.of(ModelSpec.Kind.LSTM, 8, 16, 2).withOutput(4);
        try (Device ref = Device.reference(); Device cpuDev = Device.open("cpu");
             StreamingModel a = StreamingModel.create(ref, spec, 5); StreamingModel b = StreamingModel.create(cpuDev, spec, 5)) {
            SplittableRandom r = new SplittableRandom(1);
            int n = 40, steps = 6;
            float[][] sa = new float[n][], sb = new float[n][];
            for (int i = 0; i < n; i++) { sa[i] = a.initialState(); sb[i] = b.initialState(); }
            for (int t = 0; t < steps; t++) {
                float[][] v = new float[n][8];
                for (float[] row : v) for (int i = 0; i < 8; i++) row[i] = (float) r.nextDouble();
                float[][] oa = a.step(sa, v, null), ob = b.step(sb, v, null);
                for (int i = 0; i < n; i++) assertArrayEquals(oa[i], ob[i], 1e-5f);
            }
        }
    }

    @Test
    void saveLoadRoundTripWithSpecInMetadata(@TempDir Path dir) throws Exception {
        ModelSpec spec = ModelSpec.of(ModelSpec.Kind.GRU, 3, 5, 2).withEmbedding(7).withOutput(7).withPreviousOutput(true);
        Path f = dir.resolve("m.safetensors");
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.create(d, spec, 11)) {
            m.save(f);
            assertEquals(spec, ModelSpec.fromMetadata(SafeTensors.readHeader(f).metadata()));
            try (StreamingModel back = StreamingModel.load(d, f)) {
                assertEquals(spec, back.spec());
                int[] toks = {1, 6, 0, 3};
                float[][] a = m.sequence(null, toks), b = back.sequence(null, toks);
                for (int t = 0; t < toks.length; t++) assertArrayEquals(a[t], b[t], 0f);
            }
            // Names: PyTorch-style under the children's prefixes.
            assertTrue(SafeTensors.read(f).tensors().keySet().containsAll(List.of("embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "output.weight", "output.bias")));
        }
    }

    @Test
    void loadOfOtherSizesFailsNamingTheShapes(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("m.safetensors");
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.create(d, ModelSpec.of(ModelSpec.Kind.GRU, 3, 5, 1), 1)) {
            m.save(f);
            Exception e = assertThrows(RuntimeException.class, () -> StreamingModel.load(d, ModelSpec.of(ModelSpec.Kind.GRU, 3, 6, 1), f));
            assertTrue(e.getMessage().contains("rnn.weight_hh_l0"), e.getMessage());
        }
    }

    @Test
    void loadsFromClassPathResource() throws Exception {
        // tiny-gru.safetensors is written by this test's companion in target/test-classes (see ModelFiles).
        Path f = ModelFiles.writeTestResource("tiny-gru.safetensors", ModelSpec.of(ModelSpec.Kind.GRU, 2, 3, 1).withOutput(1), 4);
        try (Device d = Device.reference();
             StreamingModel a = StreamingModel.loadResource(d, null, "tiny-gru.safetensors", StreamingModelTest.class.getClassLoader());
             StreamingModel b = StreamingModel.load(d, f)) {
            float[][] x = {{0.5f, -1f}, {2f, 0.25f}};
            float[][] ya = a.sequence(x, null), yb = b.sequence(x, null);
            for (int t = 0; t < 2; t++) assertArrayEquals(yb[t], ya[t], 0f);
        }
    }

    @Test
    void stateLayoutAndSize() {
        ModelSpec lstm = ModelSpec.of(ModelSpec.Kind.LSTM, 8, 64, 2).withOutput(10).withPreviousOutput(true);
        assertEquals(2 * (64 + 64) + 10, lstm.stateFloats());
        assertEquals(4 + 4L * (2 * 128 + 10), lstm.serializedStateBytes());
        assertEquals("LSTM x2 layers, per layer [h:64 c:64], previous output:10 = 266 floats per key", lstm.stateLayout());
        assertEquals("GRU x3 layers, per layer [h:32] = 96 floats per key", ModelSpec.of(ModelSpec.Kind.GRU, 4, 32, 3).stateLayout());
        assertEquals("SRU x2 layers, per layer [c:16] = 32 floats per key", ModelSpec.of(ModelSpec.Kind.SRU, 4, 16, 2).stateLayout());
        assertEquals("LSTM x1 layers, per layer [h:4 c:8] = 12 floats per key", ModelSpec.of(ModelSpec.Kind.LSTM, 4, 8, 1).withProjSize(4).stateLayout());
        StateSchemaException e = assertThrows(StateSchemaException.class,
                () -> RecurrentStepOperator.checkLayout(ModelSpec.of(ModelSpec.Kind.GRU, 4, 32, 3).stateLayout(), ModelSpec.of(ModelSpec.Kind.GRU, 4, 64, 3)));
        assertTrue(e.getMessage().contains("[GRU x3 layers, per layer [h:32] = 96 floats per key]"), e.getMessage());
        assertTrue(e.getMessage().contains("[GRU x3 layers, per layer [h:64] = 192 floats per key]"), e.getMessage());
    }

    @Test
    void vectorChecks() {
        assertNull(RecurrentStepOperator.checkVector(new float[]{1, 2}, 2));
        assertEquals("vector has width 3, the model expects 2", RecurrentStepOperator.checkVector(new float[3], 2));
        assertEquals("vector element 1 is NaN", RecurrentStepOperator.checkVector(new float[]{0, Float.NaN}, 2));
        assertEquals("vector element 0 is Infinity", RecurrentStepOperator.checkVector(new float[]{Float.POSITIVE_INFINITY, 0}, 2));
        assertEquals("null vector", RecurrentStepOperator.checkVector(null, 2));
        assertTrue(Arrays.asList(ModelSpec.Kind.values()).contains(ModelSpec.Kind.SRU));
    }

    /** The fingerprint follows the weights and the layout, not the backend or the file. */
    @Test
    void fingerprintNamesWeightsAndLayout(@TempDir Path dir) throws Exception {
        ModelSpec spec = ModelSpec.of(ModelSpec.Kind.LSTM, 4, 6, 2).withOutput(3);
        Path a = ModelFiles.write(dir.resolve("a.safetensors"), spec, 1);
        Path b = ModelFiles.write(dir.resolve("b.safetensors"), spec, 2);
        String fa;
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.load(d, a); StreamingModel n = StreamingModel.load(d, b)) {
            fa = m.fingerprint();
            assertTrue(fa.matches("sha256:[0-9a-f]{64}"), fa);
            assertEquals(fa, m.fingerprint());
            assertNotEquals(fa, n.fingerprint(), "other weights, same shape");
            Path copy = dir.resolve("copy.safetensors");
            m.save(copy);
            try (StreamingModel c = StreamingModel.load(d, copy)) { assertEquals(fa, c.fingerprint(), "saved and loaded again"); }
            // The same weights with the previous output kept: another state layout, another fingerprint.
            try (StreamingModel p = StreamingModel.load(d, spec.withPreviousOutput(true), a)) { assertNotEquals(fa, p.fingerprint()); }
        }
        for (Device.BackendInfo info : Device.backends()) {
            if (!info.available()) continue;
            try (Device d = Device.open(info.name()); StreamingModel m = StreamingModel.load(d, a)) {
                assertEquals(fa, m.fingerprint(), "on " + info.name());
            } catch (RuntimeException e) {
                if (!info.name().equals("cuda")) throw e;   // listed but without a GPU here
            }
        }
    }
}
