package dev.rnn4j.nn;

import dev.rnn4j.HostTensor;
import dev.rnn4j.conformance.CaseFiles;
import dev.rnn4j.conformance.ConformanceCase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** initWeight, setBias, the language-model init rule, parameter shapes and names, and the SRU conformance files' settings. */
class SruInitTest extends ReferenceDeviceTest {
    /** Every |value| <= bound, the values spread over the range, mean about 0 and variance about bound^2/3. */
    private static void assertUniform(float[] w, double bound) {
        float fb = (float) bound;
        double sum = 0, sq = 0, max = 0;
        for (float v : w) {
            assertTrue(Math.abs(v) <= fb, v + " outside +-" + bound);
            sum += v;
            sq += (double) v * v;
            max = Math.max(max, Math.abs(v));
        }
        double n = w.length, mean = sum / n, var = sq / n - mean * mean, want = bound * bound / 3;
        assertTrue(max > 0.95 * bound, "values should reach near the bound, max " + max);
        assertEquals(0, mean, 5 * Math.sqrt(want / n), "mean");
        assertEquals(want, var, 0.1 * want, "variance");
    }

    private static void assertAllEqual(float expected, float[] a) {
        for (float v : a) assertEquals(expected, v);
    }

    @Test
    void initWeightDrawsUniformWeightsAndZeroBias() {
        try (SRUCell cell = SRUCell.builder(50, 30).build(dev)) {
            assertEquals(4, cell.k());
            // The constructor already initialised it, like the original.
            assertUniform(cell.weight().value().toArray(), Math.sqrt(3.0 / 50));
            assertAllEqual(0f, cell.bias().value().toArray());

            TestSupport.randomize(cell, 1, 5);
            cell.initWeight(7);
            float[] w = cell.weight().value().toArray();
            assertUniform(w, Math.sqrt(3.0 / 50)); // Var = 1/nIn
            assertAllEqual(0f, cell.bias().value().toArray());

            cell.initWeight(7);
            assertArrayEquals(w, cell.weight().value().toArray(), "same seed, same weights");
            cell.initWeight(8);
            assertFalse(Arrays.equals(w, cell.weight().value().toArray()), "another seed, other weights");
        }
    }

    @Test
    void setBiasTouchesOnlyTheHighwayHalf() {
        for (boolean bidir : new boolean[] {false, true}) {
            try (SRUCell cell = SRUCell.builder(4, 3).bidirectional(bidir).build(dev)) {
                int out = bidir ? 6 : 3;
                TestSupport.randomize(cell, 2, 1);
                float[] before = cell.bias().value().toArray();
                float[] w = cell.weight().value().toArray();
                cell.setBias(-3f);
                float[] after = cell.bias().value().toArray();
                assertEquals(2 * out, after.length);
                assertArrayEquals(Arrays.copyOf(before, out), Arrays.copyOf(after, out), "forget half unchanged");
                assertAllEqual(-3f, Arrays.copyOfRange(after, out, 2 * out));
                assertArrayEquals(w, cell.weight().value().toArray(), "weight unchanged");
            }
        }
    }

    @Test
    void sruInitWeightAndSetBiasReachEveryLayer() {
        try (SRU sru = SRU.builder(6, 4).numLayers(3).bidirectional(true).build(dev)) {
            TestSupport.randomize(sru, 3, 1);
            sru.initWeight(21);
            List<float[]> weights = new ArrayList<>();
            for (SRUCell l : sru.layers()) {
                weights.add(l.weight().value().toArray());
                assertAllEqual(0f, l.bias().value().toArray());
                for (float v : weights.getLast()) assertTrue(Math.abs(v) <= (float) Math.sqrt(3.0 / l.nIn()));
            }
            // Layers 1 and 2 have the same shape; their draws must still differ.
            assertFalse(Arrays.equals(weights.get(1), weights.get(2)));
            sru.initWeight(21);
            for (int i = 0; i < 3; i++) assertArrayEquals(weights.get(i), sru.layers().get(i).weight().value().toArray());

            sru.setBias(2f);
            for (SRUCell l : sru.layers()) {
                float[] b = l.bias().value().toArray();
                assertAllEqual(0f, Arrays.copyOf(b, 8));
                assertAllEqual(2f, Arrays.copyOfRange(b, 8, 16));
            }
        }
    }

    @Test
    void languageModelShapes() {
        // The SRU language model: d = 910, depth 6, input = hidden, so every layer has K = 3.
        int d = 910, depth = 6;
        try (SRU sru = SRU.builder(d, d).numLayers(depth).build(dev)) {
            assertEquals(depth, sru.layers().size());
            List<String> names = new ArrayList<>(sru.namedParameters().keySet());
            List<String> want = new ArrayList<>();
            for (int i = 0; i < depth; i++) {
                want.add("rnn_lst." + i + ".weight");
                want.add("rnn_lst." + i + ".bias");
                SRUCell l = sru.layers().get(i);
                assertEquals(3, l.k());
                assertArrayEquals(new int[] {910, 2730}, l.weight().shape());
                assertArrayEquals(new int[] {1820}, l.bias().shape());
            }
            assertEquals(want, names);
            long perLayer = 910L * 2730 + 1820;
            assertEquals(2_486_120L, perLayer);
            assertEquals(depth * perLayer, sru.numParameters());
            assertEquals(14_916_720L, sru.numParameters());

            Init.uniformMatricesZeroVectors(sru, d, 5);
            assertUniform(sru.layers().get(3).weight().value().toArray(), Math.sqrt(3.0 / d));
            assertAllEqual(0f, sru.layers().get(5).bias().value().toArray());
        }
    }

    @Test
    void initRuleCoversMatricesAndVectorsDeterministically() {
        try (SRU sru = SRU.builder(40, 20).numLayers(2).bidirectional(true).build(dev)) {
            TestSupport.randomize(sru, 4, 3);
            Init.uniformMatricesZeroVectors(sru, 64, 77);
            List<float[]> first = new ArrayList<>();
            for (Parameter p : sru.namedParameters().values()) {
                float[] v = p.value().toArray();
                first.add(v);
                if (p.value().dim() > 1) assertUniform(v, Math.sqrt(3.0 / 64)); // Var = 1/d, not 1/fan_in
                else assertAllEqual(0f, v);
            }
            Init.uniformMatricesZeroVectors(sru, 64, 77);
            int i = 0;
            for (Parameter p : sru.namedParameters().values()) assertArrayEquals(first.get(i++), p.value().toArray());
        }
    }

    @Test
    void initRuleRejectsBadArguments() {
        try (SRUCell cell = SRUCell.builder(2, 2).build(dev)) {
            assertThrows(IllegalArgumentException.class, () -> Init.uniformMatricesZeroVectors(cell, 0, 1));
            assertThrows(NullPointerException.class, () -> Init.uniformMatricesZeroVectors(null, 4, 1));
        }
        SRUCell closed = SRUCell.builder(2, 2).build(dev);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Init.uniformMatricesZeroVectors(closed, 4, 1));
    }

    static List<String> sruConformanceFiles() {
        return CaseFiles.names().stream().filter(n -> n.startsWith("sru_")).toList();
    }

    /**
     * Each SRU conformance file, built from its constructor flags: every layer has the activation
     * and K the config names, and the stored bias, which already went through {@code set_bias(v)}
     * where the config gives v, is left unchanged by doing it again.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("sruConformanceFiles")
    void conformanceFilesAgreeWithTheActivationAndSetBias(String fileName) throws IOException {
        ConformanceCase c = ConformanceCase.load(CaseFiles.dir().resolve(fileName));
        assertEquals(ConformanceCase.Mode.SRU, c.mode());
        try (SRU sru = SRU.builder(c.inputSize(), c.hiddenSize()).numLayers(c.numLayers())
                .bidirectional(c.bidirectional()).useTanh(c.useTanh()).useRelu(c.useRelu()).build(dev)) {
            long activationType = ((Number) c.config().get("activation_type")).longValue();
            for (int i = 0; i < c.numLayers(); i++) {
                assertEquals(activationType, sru.layers().get(i).activation().code, "activation of layer " + i);
                assertEquals(c.k().get(i), sru.layers().get(i).k(), "k of layer " + i);
            }
            Map<String, HostTensor> state = new LinkedHashMap<>();
            for (String p : sru.namedParameters().keySet()) state.put(p, c.tensor(p));
            sru.loadStateDict(state);

            Object setBias = c.config().get("set_bias");
            if (setBias != null) {
                sru.setBias(((Number) setBias).floatValue());
                for (String p : state.keySet())
                    assertArrayEquals(state.get(p).data(), sru.namedParameters().get(p).value().toArray(), p);
            }
        }
    }
}
