package dev.rnn4j.nn;

import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.conformance.ConformanceCase;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The sru 2.x layer's public surface: sru's state_dict names and order, strict loading of a state
 * dict written by sru 2.6.0 (the conformance files), reset_parameters' rules, the errors for
 * bad configurations, state dicts of the other version and bad lengths, and v1 left as it was.
 */
class Sru2ApiTest extends ReferenceDeviceTest {

    @Test
    void stateDictNamesAndOrderAreSrus() {
        try (SRU s = SRU.builder(8, 6).v1(false).numLayers(2).projectionSize(3).layerNorm(true).build(dev)) {
            assertEquals(List.of(
                    "rnn_lst.0.weight_proj", "rnn_lst.0.weight", "rnn_lst.0.weight_c", "rnn_lst.0.bias", "rnn_lst.0.scale_x",
                    "rnn_lst.0.layer_norm.weight", "rnn_lst.0.layer_norm.bias",
                    "rnn_lst.1.weight_proj", "rnn_lst.1.weight", "rnn_lst.1.weight_c", "rnn_lst.1.bias", "rnn_lst.1.scale_x",
                    "rnn_lst.1.layer_norm.weight", "rnn_lst.1.layer_norm.bias"), new ArrayList<>(s.stateDict().keySet()));
            // scale_x is a buffer: in the state dict, not among the parameters an optimiser sees
            assertFalse(s.namedParameters().containsKey("rnn_lst.0.scale_x"));
            assertArrayEquals(new int[] {8, 3}, s.layers().get(0).weightProj().shape());
            assertArrayEquals(new int[] {3, 6 * 4}, s.layers().get(0).weight().shape());   // K = 4: 8 != 6
            assertArrayEquals(new int[] {3, 6 * 3}, s.layers().get(1).weight().shape());
            assertArrayEquals(new int[] {8}, s.layers().get(0).layerNorm().weight().shape()); // before the layer: input width
        }
        try (SRUCell c = SRUCell.builder(4, 3).v1(false).bidirectional(true).layerNorm(true).normalizeAfter(true).build(dev)) {
            assertArrayEquals(new int[] {6}, c.layerNorm().weight().shape());                 // after: output width
            assertEquals(4, c.k());
        }
        try (SRUCell c = SRUCell.builder(4, 3).v1(false).hasSkipTerm(false).build(dev)) {
            assertEquals(3, c.k(), "no skip term: no projected skip column");
        }
    }

    @Test
    void loadsAStateDictWrittenBySru260Strictly() throws Exception {
        ConformanceCase c = ConformanceCase.load(Path.of("tests/conformance/sru2_projection.safetensors"));
        Map<String, HostTensor> state = new LinkedHashMap<>();
        for (var e : c.tensors().entrySet()) if (e.getKey().startsWith("rnn_lst.")) state.put(e.getKey(), e.getValue());
        try (SRU s = SRU.builder(8, 6).v1(false).numLayers(2).projectionSize(3).build(dev)) {
            s.loadStateDict(state);
            for (var e : state.entrySet()) assertEquals(e.getValue(), s.stateDict().get(e.getKey()), e.getKey());
        }
        // the same file into a layer without the projection: the error names the option
        try (SRU s = SRU.builder(8, 6).v1(false).numLayers(2).build(dev)) {
            StateDictException e = assertThrows(StateDictException.class, () -> s.loadStateDict(state));
            assertTrue(e.getMessage().contains("projectionSize"), e.getMessage());
        }
    }

    @Test
    void aStateDictOfTheOtherVersionIsRefusedNamingV1() throws Exception {
        ConformanceCase c2 = ConformanceCase.load(Path.of("tests/conformance/sru2_basic.safetensors"));
        Map<String, HostTensor> state2 = new LinkedHashMap<>();
        for (var e : c2.tensors().entrySet()) if (e.getKey().startsWith("rnn_lst.")) state2.put(e.getKey(), e.getValue());
        try (SRU v1 = SRU.builder(5, 5).numLayers(2).build(dev)) {
            StateDictException e = assertThrows(StateDictException.class, () -> v1.loadStateDict(state2));
            assertTrue(e.getMessage().contains("v1(false)"), e.getMessage());
        }
        try (SRU v1 = SRU.builder(5, 5).numLayers(2).build(dev); SRU v2 = SRU.builder(5, 5).v1(false).numLayers(2).build(dev)) {
            StateDictException e = assertThrows(StateDictException.class, () -> v2.loadStateDict(v1.stateDict()));
            assertTrue(e.getMessage().contains("v1(true)"), e.getMessage());
            ConformanceCase ln = ConformanceCase.load(Path.of("tests/conformance/sru2_layernorm_post.safetensors"));
            Map<String, HostTensor> s3 = new LinkedHashMap<>();
            for (var en : ln.tensors().entrySet()) if (en.getKey().startsWith("rnn_lst.")) s3.put(en.getKey(), en.getValue());
            e = assertThrows(StateDictException.class, () -> v2.loadStateDict(s3));
            assertTrue(e.getMessage().contains("layerNorm(true)"), e.getMessage());
        }
    }

    @Test
    void resetParametersFollowsSru() {
        double hb = -2;
        try (SRUCell c = SRUCell.builder(40, 30).v1(false).highwayBias(hb).rescale(true).dropout(0.36).build(dev)) {
            c.resetParameters(5);
            int out = 30, k = 4, rows = 40, cols = out * k;
            float[] b = c.bias().value().toArray();
            for (int i = 0; i < out; i++) assertEquals(0f, b[i]);
            for (int i = out; i < 2 * out; i++) assertEquals((float) hb, b[i]);
            double scale = Math.sqrt(1 + 2 * Math.exp(hb));
            assertEquals((float) scale, c.scaleX().value().toArray()[0], 1e-7);
            float[] w = c.weight().value().toArray();
            double bound = Math.sqrt(3.0 / rows);
            // per column kind m: the bound after sru's rescalings, and the variance close to (bound^2)/3
            double[] f = {Math.sqrt(1 - 0.36), Math.sqrt(0.5), Math.sqrt(0.5), scale};
            double[] sumSq = new double[k];
            int[] n = new int[k];
            for (int i = 0; i < w.length; i++) {
                int m = (i % cols) % k;
                assertTrue(Math.abs(w[i]) <= bound * f[m] * (1 + 1e-6), "weight column kind " + m + " beyond its range: " + w[i]);
                sumSq[m] += (double) w[i] * w[i];
                n[m]++;
            }
            for (int m = 0; m < k; m++) {
                double var = sumSq[m] / n[m], expected = bound * bound * f[m] * f[m] / 3;
                assertEquals(expected, var, expected * 0.15, "variance of column kind " + m);
            }
            float[] wc = c.weightC().value().toArray();
            double s2 = 0;
            for (float v : wc) {
                assertTrue(Math.abs(v) <= Math.sqrt(1.5) + 1e-6);
                s2 += (double) v * v;
            }
            assertEquals(0.5, s2 / wc.length, 0.2, "Var[weight_c] = 1/2");
        }
        try (SRUCell c = SRUCell.builder(20, 10).v1(false).layerNorm(true).rescale(false).weightCInit(0.25).build(dev)) {
            c.resetParameters(9);
            for (float v : c.weightC().value().toArray()) assertTrue(Math.abs(v) <= 0.25f);
            double bound = Math.sqrt(3.0 / 20) * 0.1;                               // the 0.1 factor with layer norm
            for (float v : c.weight().value().toArray()) assertTrue(Math.abs(v) <= bound + 1e-7);
            assertEquals(1f, c.scaleX().value().toArray()[0], "scale_x without rescale");
            for (float v : c.layerNorm().weight().value().toArray()) assertEquals(1f, v);
        }
        // SRU's rescale default is off: scale_x = 1 even with a highway bias
        try (SRU s = SRU.builder(4, 4).v1(false).numLayers(1).highwayBias(-3).build(dev)) {
            assertEquals(1f, s.layers().get(0).scaleX().value().toArray()[0]);
            assertFalse(s.layers().get(0).rescale());
        }
        try (SRUCell c = SRUCell.builder(4, 4).v1(false).highwayBias(-3).build(dev)) {
            assertTrue(c.rescale());
            assertEquals((float) Math.sqrt(1 + 2 * Math.exp(-3)), c.scaleX().value().toArray()[0], 1e-7);
        }
    }

    @Test
    void badConfigurationsNameTheOption() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SRU.builder(8, 6).v1(false).projectionSize(6).build(dev));
        assertTrue(e.getMessage().contains("projectionSize 6") && e.getMessage().contains("input width 8")
                && e.getMessage().contains("output width 6"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SRUCell.builder(4, 10).v1(false).projectionSize(5).build(dev));
        assertTrue(e.getMessage().contains("projectionSize 5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SRU.builder(8, 6).layerNorm(true).build(dev));
        assertTrue(e.getMessage().contains("layerNorm") && e.getMessage().contains("v1(false)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SRUCell.builder(8, 6).projectionSize(2).highwayBias(1).build(dev));
        assertTrue(e.getMessage().contains("projectionSize, highwayBias"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SRU.builder(8, 6).v1(false).useRelu(true).build(dev));
        assertTrue(e.getMessage().contains("useRelu"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SRU.builder(8, 6).v1(false).normalizeAfter(true).build(dev));
        assertTrue(e.getMessage().contains("normalizeAfter"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SRU.builder(8, 6).projectionSize(-1));
        assertThrows(IllegalArgumentException.class, () -> SRU.builder(8, 6).weightCInit(0));
        assertEquals(DeviceAccess.backend(dev).liveBuffers(), baseline, "a refused build leaves nothing allocated");
    }

    @Test
    void badLengthsAreRefusedBeforeAnyWork() {
        try (SRU s = SRU.builder(3, 2).v1(false).numLayers(2).build(dev); Tensor x = Tensor.zeros(dev, 4, 3, 3)) {
            long live = DeviceAccess.backend(dev).liveBuffers();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.forward(x, null, new int[] {4, 4}));
            assertTrue(e.getMessage().contains("lengths has 2 entries for a batch of 3"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.forward(x, null, new int[] {4, 0, 1}));
            assertTrue(e.getMessage().contains("lengths[1] = 0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.forward(x, null, new int[] {5, 1, 1}));
            assertTrue(e.getMessage().contains("lengths[0] = 5 is outside 1..4"), e.getMessage());
            assertEquals(live, DeviceAccess.backend(dev).liveBuffers());
            // the caller's array may change after forward: the layer keeps its own copy
            int[] len = {4, 2, 1};
            try (RecurrentOutput o = s.forward(x, null, len); Tensor g = Tensor.zeros(dev, 4, 3, 2)) {
                len[1] = 4;
                s.backward(o, g, null).close();
            }
        }
    }

    @Test
    void lengthsMatchRunningEachSequenceAlone() {
        int T = 5, B = 3, in = 4, h = 3;
        int[] len = {2, 5, 1};
        try (SRU s = SRU.builder(in, h).v1(false).numLayers(2).bidirectional(true).layerNorm(true).build(dev)) {
            s.eval();
            TestSupport.randomize(s, 3, 0.8);
            float[] x = TestSupport.randn(new java.util.SplittableRandom(1), T * B * in, 1);
            try (Tensor xt = dev.tensor(x, T, B, in); RecurrentOutput all = s.forward(xt, null, len)) {
                float[] y = all.output().toArray(), cn = all.cN().toArray();
                for (int b = 0; b < B; b++) {
                    float[] xb = new float[len[b] * in];
                    for (int t = 0; t < len[b]; t++) System.arraycopy(x, (t * B + b) * in, xb, t * in, in);
                    try (Tensor xs = dev.tensor(xb, len[b], 1, in); RecurrentOutput one = s.forward(xs, null)) {
                        float[] y1 = one.output().toArray(), c1 = one.cN().toArray();
                        for (int t = 0; t < T; t++)
                            for (int j = 0; j < 2 * h; j++) {
                                float expected = t < len[b] ? y1[t * 2 * h + j] : 0f;
                                assertEquals(expected, y[(t * B + b) * 2 * h + j], 1e-5, "output b=" + b + " t=" + t);
                            }
                        for (int l = 0; l < 2; l++)
                            for (int j = 0; j < 2 * h; j++)
                                assertEquals(c1[l * 2 * h + j], cn[(l * B + b) * 2 * h + j], 1e-5, "c_n layer " + l + " b=" + b);
                    }
                }
            }
        }
    }

    @Test
    void v1IsUnchanged() {
        try (SRU s = SRU.builder(5, 4).numLayers(2).build(dev)) {
            assertTrue(s.v1());
            assertEquals(List.of("rnn_lst.0.weight", "rnn_lst.0.bias", "rnn_lst.1.weight", "rnn_lst.1.bias"),
                    new ArrayList<>(s.stateDict().keySet()));
            assertNull(s.layers().get(0).weightC());
            assertTrue(s.useTanh(), "v1 keeps use_tanh on by default");
            assertEquals("SRU(5, 4, num_layers=2)", s.toString());
        }
        try (SRU s = SRU.builder(5, 4).v1(false).build(dev)) {
            assertFalse(s.useTanh(), "sru 2.x: use_tanh off by default");
            assertEquals("SRU(5, 4, num_layers=2, rescale=False, v1=False)", s.toString());
        }
    }
}
