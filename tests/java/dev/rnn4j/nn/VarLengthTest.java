package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Variable-length batches of RNN, LSTM and GRU on the reference backend: a batch with lengths
 * against running each sequence alone (batch 1, cut to its length), forward and backward, for
 * all lengths 1, all lengths T, unsorted lengths, a longest length below T, bidirectional and
 * stacked layers, batch_first, proj_size and unbatched input; cells stepped over the running
 * sequences; the argument checks.
 */
class VarLengthTest extends ReferenceDeviceTest {

    static RNNBase build(Device d, String kind, int in, int hid, int layers, boolean bidir, boolean bf, int proj) {
        return switch (kind) {
            case "RNN_TANH", "RNN_RELU" -> RNN.builder(in, hid).nonlinearity(kind.equals("RNN_RELU") ? "relu" : "tanh")
                    .numLayers(layers).bidirectional(bidir).batchFirst(bf).build(d);
            case "LSTM" -> LSTM.builder(in, hid).numLayers(layers).bidirectional(bidir).batchFirst(bf).projSize(proj).build(d);
            case "GRU" -> GRU.builder(in, hid).numLayers(layers).bidirectional(bidir).batchFirst(bf).build(d);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static RecurrentOutput forward(RNNBase m, Tensor x, Tensor h0, Tensor c0, int[] lengths) {
        return m.forwardStates(x, h0, m.hasCellState() ? c0 : null, lengths);
    }

    static float[] randn(SplittableRandom rnd, int n) { return TestSupport.randn(rnd, n, 1.0); }

    /** Element (b, t, j) of a (T, B, w) or (B, T, w) tensor. */
    static int at(boolean bf, int T, int B, int w, int b, int t, int j) {
        return (bf ? (b * T + t) : (t * B + b)) * w + j;
    }

    static Map<String, float[]> grads(Module m) {
        Map<String, float[]> g = new LinkedHashMap<>();
        for (var e : m.namedParameters().entrySet()) g.put(e.getKey(), e.getValue().grad().toArray());
        return g;
    }

    @ParameterizedTest(name = "{0} I={1} H={2} layers={3} bidir={4} batchFirst={5} proj={6} h0={7} T={8} lengths={9}")
    @CsvSource(delimiter = ';', value = {
            "RNN_TANH; 3; 5; 1; false; false; 0; true;  4; 1 1 1",
            "RNN_RELU; 4; 6; 2; true;  true;  0; true;  5; 3 5 1 5 2",
            "LSTM;     3; 7; 2; true;  false; 0; true;  6; 2 6 6 1",
            "LSTM;     5; 8; 1; true;  true;  3; true;  7; 4 2 5 3",
            "LSTM;     4; 6; 3; false; false; 2; false; 5; 5 5 5",
            "GRU;      4; 6; 3; true;  false; 0; false; 4; 1 4 2 4 3",
            "GRU;      3; 5; 1; false; true;  0; true;  6; 2 2 2",
            "GRU;      2; 3; 2; true;  true;  0; true;  3; 3 1 3 2 1 3 1 2"})
    void batchWithLengthsEqualsEachSequenceAlone(String kind, int in, int hid, int layers, boolean bidir, boolean bf, int proj,
                                                 boolean withH0, int T, String lengthList) {
        int[] len = Arrays.stream(lengthList.trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        int B = len.length, D = bidir ? 2 : 1, hOut = proj > 0 ? proj : hid, W = D * hOut, LD = layers * D;
        boolean lstm = kind.equals("LSTM");
        SplittableRandom rnd = new SplittableRandom(kind.hashCode() + 31L * T + B);
        float[] x = randn(rnd, T * B * in), h0 = randn(rnd, LD * B * hOut), c0 = randn(rnd, LD * B * hid);
        // Upstream gradients everywhere, padded steps included: those must not reach anything.
        float[] gOut = randn(rnd, T * B * W), gHn = randn(rnd, LD * B * hOut), gCn = randn(rnd, LD * B * hid);
        try (RNNBase m = build(dev, kind, in, hid, layers, bidir, bf, proj)) {
            m.resetParameters(rnd.nextLong());
            // Expected: each sequence alone; its parameter gradients accumulate into the sum over sequences.
            float[] eOut = new float[T * B * W], eGIn = new float[T * B * in];
            float[] eHn = new float[LD * B * hOut], eCn = new float[LD * B * hid];
            float[] eGh0 = new float[LD * B * hOut], eGc0 = new float[LD * B * hid];
            m.zeroGrad();
            for (int b = 0; b < B; b++) {
                int n = len[b];
                float[] xb = new float[n * in], gb = new float[n * W];
                for (int t = 0; t < n; t++) {
                    System.arraycopy(x, at(bf, T, B, in, b, t, 0), xb, t * in, in);
                    System.arraycopy(gOut, at(bf, T, B, W, b, t, 0), gb, t * W, W);
                }
                int[] xs = bf ? new int[]{1, n, in} : new int[]{n, 1, in}, gs = bf ? new int[]{1, n, W} : new int[]{n, 1, W};
                try (Tensor xt = dev.tensor(xb, xs); Tensor gt = dev.tensor(gb, gs);
                     Tensor h0t = withH0 ? dev.tensor(rows(h0, LD, B, hOut, b), LD, 1, hOut) : null;
                     Tensor c0t = withH0 && lstm ? dev.tensor(rows(c0, LD, B, hid, b), LD, 1, hid) : null;
                     Tensor ght = dev.tensor(rows(gHn, LD, B, hOut, b), LD, 1, hOut);
                     Tensor gct = lstm ? dev.tensor(rows(gCn, LD, B, hid, b), LD, 1, hid) : null;
                     RecurrentOutput o = forward(m, xt, h0t, c0t, null);
                     RecurrentGrads g = TestSupport.backward(m, o, gt, ght, gct)) {
                    float[] ob = o.output().toArray(), gib = g.input().toArray();
                    for (int t = 0; t < n; t++) {
                        System.arraycopy(ob, t * W, eOut, at(bf, T, B, W, b, t, 0), W);
                        System.arraycopy(gib, t * in, eGIn, at(bf, T, B, in, b, t, 0), in);
                    }
                    putRows(o.hN().toArray(), eHn, LD, B, hOut, b);
                    putRows(g.h0().toArray(), eGh0, LD, B, hOut, b);
                    if (lstm) {
                        putRows(o.cN().toArray(), eCn, LD, B, hid, b);
                        putRows(g.c0().toArray(), eGc0, LD, B, hid, b);
                    }
                }
            }
            Map<String, float[]> eGrads = grads(m);

            m.zeroGrad();
            int[] xs = bf ? new int[]{B, T, in} : new int[]{T, B, in}, os = bf ? new int[]{B, T, W} : new int[]{T, B, W};
            int[] lenCopy = len.clone();
            try (Tensor xt = dev.tensor(x, xs); Tensor gt = dev.tensor(gOut, os);
                 Tensor h0t = withH0 ? dev.tensor(h0, LD, B, hOut) : null;
                 Tensor c0t = withH0 && lstm ? dev.tensor(c0, LD, B, hid) : null;
                 Tensor ght = dev.tensor(gHn, LD, B, hOut); Tensor gct = lstm ? dev.tensor(gCn, LD, B, hid) : null;
                 RecurrentOutput o = forward(m, xt, h0t, c0t, lenCopy);
                 RecurrentGrads g = TestSupport.backward(m, o, gt, ght, gct)) {
                assertArrayEquals(len, lenCopy, "the caller's lengths are left as they were");
                double rtol = 1e-5, atol = 1e-6;
                assertArrayEquals(os, o.output().shape());
                // Padded steps are exactly zero (the expected arrays hold zeros there).
                TestSupport.assertClose("output", eOut, o.output().toArray(), rtol, atol);
                TestSupport.assertClose("h_n", eHn, o.hN().toArray(), rtol, atol);
                TestSupport.assertClose("grad_input", eGIn, g.input().toArray(), rtol, atol);
                TestSupport.assertClose("grad_h0", eGh0, g.h0().toArray(), rtol, atol);
                if (lstm) {
                    TestSupport.assertClose("c_n", eCn, o.cN().toArray(), rtol, atol);
                    TestSupport.assertClose("grad_c0", eGc0, g.c0().toArray(), rtol, atol);
                }
                for (int b = 0; b < B; b++)
                    for (int t = len[b]; t < T; t++) {
                        for (int j = 0; j < W; j++) assertEquals(0f, o.output().toArray()[at(bf, T, B, W, b, t, j)]);
                        for (int j = 0; j < in; j++) assertEquals(0f, g.input().toArray()[at(bf, T, B, in, b, t, j)]);
                    }
                Map<String, float[]> got = grads(m);
                for (String p : eGrads.keySet()) TestSupport.assertClose("grad." + p, eGrads.get(p), got.get(p), rtol, 1e-5);
            }
        }
    }

    /** Rows of batch element b of a (LD, B, w) array, as (LD, 1, w). */
    static float[] rows(float[] a, int ld, int B, int w, int b) {
        float[] r = new float[ld * w];
        for (int k = 0; k < ld; k++) System.arraycopy(a, (k * B + b) * w, r, k * w, w);
        return r;
    }

    static void putRows(float[] src, float[] dst, int ld, int B, int w, int b) {
        for (int k = 0; k < ld; k++) System.arraycopy(src, k * w, dst, (k * B + b) * w, w);
    }

    @Test
    void allLengthsTEqualsTheCallWithoutLengths() {
        SplittableRandom rnd = new SplittableRandom(5);
        int T = 4, B = 3;
        try (LSTM m = LSTM.builder(3, 5).numLayers(2).bidirectional(true).seed(1L).build(dev);
             Tensor x = dev.tensor(randn(rnd, T * B * 3), T, B, 3);
             Tensor g = dev.tensor(randn(rnd, T * B * 10), T, B, 10);
             RecurrentOutput a = m.forward(x); RecurrentOutput b = m.forward(x, new int[]{T, T, T})) {
            assertArrayEquals(a.output().toArray(), b.output().toArray());
            assertArrayEquals(a.hN().toArray(), b.hN().toArray());
            assertArrayEquals(a.cN().toArray(), b.cN().toArray());
            try (RecurrentGrads ga = m.backward(a, g, null, null); RecurrentGrads gb = m.backward(b, g, null, null)) {
                assertArrayEquals(ga.input().toArray(), gb.input().toArray());
            }
        }
    }

    @Test
    void unbatchedInputTakesOneLength() {
        SplittableRandom rnd = new SplittableRandom(6);
        int T = 5;
        try (GRU m = GRU.builder(3, 4).bidirectional(true).seed(2L).build(dev);
             Tensor x = dev.tensor(randn(rnd, T * 3), T, 3);
             Tensor xShort = dev.tensor(Arrays.copyOf(x.toArray(), 3 * 3), 3, 3);
             RecurrentOutput o = m.forward(x, new int[]{3}); RecurrentOutput e = m.forward(xShort)) {
            assertArrayEquals(new int[]{T, 8}, o.output().shape());
            assertArrayEquals(new int[]{2, 4}, o.hN().shape());
            float[] out = o.output().toArray();
            TestSupport.assertClose("valid steps", e.output().toArray(), Arrays.copyOf(out, 3 * 8), 1e-6, 1e-7);
            for (int i = 3 * 8; i < out.length; i++) assertEquals(0f, out[i], "padded step");
            TestSupport.assertClose("h_n", e.hN().toArray(), o.hN().toArray(), 1e-6, 1e-7);
            assertThrows(IllegalArgumentException.class, () -> m.forward(x, new int[]{3, 3}));
        }
    }

    @Test
    void dropoutBetweenLayersKeepsPaddedStepsZero() {
        SplittableRandom rnd = new SplittableRandom(7);
        int T = 6, B = 4;
        int[] len = {2, 6, 3, 1};
        try (LSTM m = LSTM.builder(3, 5).numLayers(3).dropout(0.5).bidirectional(true).seed(3L).build(dev);
             Tensor x = dev.tensor(randn(rnd, T * B * 3), T, B, 3);
             Tensor g = dev.tensor(randn(rnd, T * B * 10), T, B, 10)) {
            m.train(true);
            m.setDropoutSeed(11);
            try (RecurrentOutput o = m.forward(x, len); RecurrentGrads gr = m.backward(o, g, null, null)) {
                float[] out = o.output().toArray(), gin = gr.input().toArray();
                boolean someNonZero = false;
                for (int b = 0; b < B; b++)
                    for (int t = 0; t < T; t++) {
                        for (int j = 0; j < 10; j++) {
                            float v = out[at(false, T, B, 10, b, t, j)];
                            if (t >= len[b]) assertEquals(0f, v);
                            else someNonZero |= v != 0;
                        }
                        for (int j = 0; j < 3; j++) if (t >= len[b]) assertEquals(0f, gin[at(false, T, B, 3, b, t, j)]);
                    }
                assertTrue(someNonZero);
            }
        }
    }

    /** A cell stepped over time, each sequence stopping after its length, gives the one-layer module's results. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"RNN_TANH", "LSTM", "GRU"})
    void cellsSteppedOverTheRunningSequencesMatchTheModule(String kind) {
        SplittableRandom rnd = new SplittableRandom(kind.hashCode());
        int T = 5, B = 4, in = 3, hid = 4;
        int[] len = {3, 5, 1, 4};
        boolean lstm = kind.equals("LSTM");
        float[] x = randn(rnd, T * B * in), h0 = randn(rnd, B * hid), c0 = randn(rnd, B * hid);
        try (RNNBase m = build(dev, kind, in, hid, 1, false, false, 0);
             RNNCellBase cell = switch (kind) {
                 case "LSTM" -> LSTMCell.builder(in, hid).build(dev);
                 case "GRU" -> GRUCell.builder(in, hid).build(dev);
                 default -> RNNCell.builder(in, hid).build(dev);
             }) {
            Map<String, HostTensor> sd = new LinkedHashMap<>();
            m.stateDict().forEach((k, v) -> sd.put(k.replace("_l0", ""), v));
            cell.loadStateDict(sd);
            float[] h = h0.clone(), c = c0.clone(), out = new float[T * B * hid];
            for (int t = 0; t < T; t++) {
                try (Tensor xt = dev.tensor(Arrays.copyOfRange(x, t * B * in, (t + 1) * B * in), B, in);
                     Tensor ht = dev.tensor(h, B, hid); Tensor ct = dev.tensor(c, B, hid);
                     CellOutput o = TestSupport.step(cell, xt, ht, ct)) {
                    float[] hn = o.h().toArray(), cn = lstm ? o.c().toArray() : null;
                    for (int b = 0; b < B; b++)
                        if (t < len[b]) {   // a finished sequence keeps its state and outputs zeros
                            System.arraycopy(hn, b * hid, h, b * hid, hid);
                            if (lstm) System.arraycopy(cn, b * hid, c, b * hid, hid);
                            System.arraycopy(hn, b * hid, out, (t * B + b) * hid, hid);
                        }
                }
            }
            try (Tensor xt = dev.tensor(x, T, B, in); Tensor h0t = dev.tensor(h0, 1, B, hid);
                 Tensor c0t = lstm ? dev.tensor(c0, 1, B, hid) : null;
                 RecurrentOutput o = forward(m, xt, h0t, c0t, len)) {
                TestSupport.assertClose("output", out, o.output().toArray(), 1e-5, 1e-6);
                TestSupport.assertClose("h_n", h, o.hN().toArray(), 1e-5, 1e-6);
                if (lstm) TestSupport.assertClose("c_n", c, o.cN().toArray(), 1e-5, 1e-6);
            }
        }
    }

    @Test
    void badLengthsAreRejectedBeforeAnyWork() {
        try (RNN rnn = RNN.builder(3, 4).seed(1L).build(dev); LSTM lstm = LSTM.builder(3, 4).seed(1L).build(dev);
             GRU gru = GRU.builder(3, 4).batchFirst(true).seed(1L).build(dev);
             Tensor x = dev.zeros(5, 2, 3)) {
            long live = DeviceAccess.backend(dev).liveBuffers();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rnn.forward(x, new int[]{5}));
            assertTrue(e.getMessage().contains("one length per batch element (2), got 1 lengths"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> lstm.forward(x, new int[]{5, 0}));
            assertTrue(e.getMessage().contains("lengths[1] = 0 is out of range: every length must be in 1..5"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> lstm.forward(x, null, null, new int[]{6, 1}));
            assertTrue(e.getMessage().contains("lengths[0] = 6 is out of range"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> rnn.forward(x, new int[]{-1, 2}));
            assertTrue(e.getMessage().contains("lengths[0] = -1"), e.getMessage());
            // batch_first: (B, T, I) = (5, 2, 3) is 5 sequences of 2 steps.
            e = assertThrows(IllegalArgumentException.class, () -> gru.forward(x, new int[]{1, 2, 3, 1, 1}));
            assertTrue(e.getMessage().contains("lengths[2] = 3 is out of range: every length must be in 1..2"), e.getMessage());
            assertThrows(NullPointerException.class, () -> gru.forward(x, (int[]) null));
            try (Tensor wrongH0 = dev.zeros(1, 3, 4)) {
                e = assertThrows(IllegalArgumentException.class, () -> rnn.forward(x, wrongH0, new int[]{1, 1}));
                assertTrue(e.getMessage().contains("h0"), e.getMessage());
            }
            try (Device other = Device.reference(); Tensor foreign = other.zeros(5, 2, 3)) {
                e = assertThrows(IllegalArgumentException.class, () -> rnn.forward(foreign, new int[]{1, 1}));
                assertTrue(e.getMessage().contains("device"), e.getMessage());
            }
            assertEquals(live, DeviceAccess.backend(dev).liveBuffers(), "a rejected call allocates nothing");
        }
    }
}
