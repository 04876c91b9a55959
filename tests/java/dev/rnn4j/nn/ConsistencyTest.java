package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.rnn4j.nn.TestSupport.assertClose;
import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Consistency between ways of computing the same thing: a cell stepped over a sequence and the
 * one-layer module; a stacked module and single-layer modules chained; a batch and each of its
 * sequences alone; batch_first and time-major; unbatched and a batch of one; repeated backward.
 * Forward values and gradients (input, initial states, parameters) must agree to float32 rounding.
 */
class ConsistencyTest {
    static final double RTOL = 1e-5, ATOL = 1e-6;
    static Device dev;
    final List<AutoCloseable> owned = new ArrayList<>();
    long baseline;

    @BeforeAll
    static void open() { dev = Device.reference(); }

    @AfterAll
    static void closeDevice() { dev.close(); }

    @BeforeEach
    void mark() { baseline = DeviceAccess.backend(dev).liveBuffers(); }

    @AfterEach
    void release() {
        Closeables.closeAll(owned.reversed().toArray(new AutoCloseable[0]));
        owned.clear();
        assertEquals(baseline, DeviceAccess.backend(dev).liveBuffers(), "device buffers leaked");
    }

    private <T extends AutoCloseable> T own(T t) {
        owned.add(t);
        return t;
    }

    private Tensor tensor(float[] data, int... shape) { return own(dev.tensor(data, shape)); }

    private static RNNBase module(String kind, int in, int hid, int layers, boolean bidir, long seed) {
        return switch (kind) {
            case "tanh", "relu" -> RNN.builder(in, hid).nonlinearity(kind).numLayers(layers).bidirectional(bidir).seed(seed).build(dev);
            case "lstm" -> LSTM.builder(in, hid).numLayers(layers).bidirectional(bidir).seed(seed).build(dev);
            case "gru" -> GRU.builder(in, hid).numLayers(layers).bidirectional(bidir).seed(seed).build(dev);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /** Upstream gradients and results of one forward + backward of a module. */
    record Run(float[] output, float[] hN, float[] cN, float[] gInput, float[] gH0, float[] gC0, Map<String, float[]> gParams) {}

    private Run run(RNNBase m, float[] x, int[] xShape, float[] h0, float[] c0, int[] hShape, int[] cShape,
                    float[] gOut, float[] gHn, float[] gCn) {
        m.zeroGrad();
        boolean lstm = TestSupport.isLstm(m);
        Tensor xt = tensor(x, xShape);
        Tensor ht = h0 == null ? null : tensor(h0, hShape);
        Tensor ct = c0 == null ? null : tensor(c0, cShape);
        RecurrentOutput out = own(TestSupport.forward(m, xt, ht, ct));
        Tensor go = gOut == null ? null : tensor(gOut, out.output().shape());
        Tensor gh = gHn == null ? null : tensor(gHn, hShape);
        Tensor gc = gCn == null ? null : tensor(gCn, cShape);
        RecurrentGrads g = own(TestSupport.backward(m, out, go, gh, gc));
        Map<String, float[]> gp = new HashMap<>();
        m.namedParameters().forEach((k, p) -> gp.put(k, p.grad().toArray()));
        return new Run(out.output().toArray(), out.hN().toArray(), lstm ? out.cN().toArray() : null,
                g.input().toArray(), g.h0().toArray(), lstm ? g.c0().toArray() : null, gp);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tanh", "relu", "lstm", "gru"})
    void cellSteppedOverSequenceEqualsOneLayerModule(String kind) {
        int T = 5, B = 3, I = 4, H = 6;
        SplittableRandom rng = new SplittableRandom(kind.hashCode());
        RNNBase m = own(module(kind, I, H, 1, false, 7));
        RNNCellBase cell = own(switch (kind) {
            case "lstm" -> LSTMCell.builder(I, H).build(dev);
            case "gru" -> GRUCell.builder(I, H).build(dev);
            default -> RNNCell.builder(I, H).nonlinearity(kind).build(dev);
        });
        Map<String, HostTensor> sd = new HashMap<>();
        m.stateDict().forEach((k, v) -> sd.put(k.replace("_l0", ""), v));
        cell.loadStateDict(sd);
        boolean lstm = kind.equals("lstm");
        float[] x = randn(rng, T * B * I, 1), h0 = randn(rng, B * H, 0.5), c0 = lstm ? randn(rng, B * H, 0.5) : null;
        float[] gOut = randn(rng, T * B * H, 1), gHn = randn(rng, B * H, 1), gCn = lstm ? randn(rng, B * H, 1) : null;
        Run ref = run(m, x, new int[]{T, B, I}, h0, c0, new int[]{1, B, H}, new int[]{1, B, H}, gOut, gHn, gCn);

        CellOutput[] steps = new CellOutput[T];
        Tensor h = tensor(h0, B, H), c = lstm ? tensor(c0, B, H) : null;
        float[] output = new float[T * B * H];
        for (int t = 0; t < T; t++) {
            steps[t] = own(TestSupport.step(cell, tensor(TestSupport.slice(x, t * B * I, B * I), B, I), h, c));
            h = steps[t].h();
            c = steps[t].c();
            System.arraycopy(h.toArray(), 0, output, t * B * H, B * H);
        }
        assertClose("output", ref.output(), output, RTOL, ATOL);
        assertClose("h_n", ref.hN(), h.toArray(), RTOL, ATOL);
        if (lstm) assertClose("c_n", ref.cN(), c.toArray(), RTOL, ATOL);

        float[] dh = gHn, dc = gCn, gIn = new float[T * B * I];
        for (int t = T - 1; t >= 0; t--) {
            dh = TestSupport.add(dh, TestSupport.slice(gOut, t * B * H, B * H));
            CellGrads g = own(TestSupport.backStep(cell, steps[t], tensor(dh, B, H), lstm ? tensor(dc, B, H) : null));
            System.arraycopy(g.input().toArray(), 0, gIn, t * B * I, B * I);
            dh = g.h().toArray();
            if (lstm) dc = g.c().toArray();
        }
        assertClose("grad input", ref.gInput(), gIn, RTOL, ATOL);
        assertClose("grad h0", ref.gH0(), dh, RTOL, ATOL);
        if (lstm) assertClose("grad c0", ref.gC0(), dc, RTOL, ATOL);
        cell.namedParameters().forEach((k, p) ->
                assertClose("grad " + k, ref.gParams().get(k.replace("_ih", "_ih_l0").replace("_hh", "_hh_l0")), p.grad().toArray(), 1e-4, 1e-5));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tanh", "lstm", "gru"})
    void twoLayerModuleEqualsTwoChainedOneLayerModules(String kind) {
        for (boolean bidir : new boolean[]{false, true}) {
            int T = 4, B = 2, I = 3, H = 5, D = bidir ? 2 : 1;
            boolean lstm = kind.equals("lstm");
            SplittableRandom rng = new SplittableRandom(31 + kind.hashCode());
            RNNBase two = own(module(kind, I, H, 2, bidir, 11));
            RNNBase first = own(module(kind, I, H, 1, bidir, 12)), second = own(module(kind, D * H, H, 1, bidir, 13));
            Map<String, HostTensor> sd1 = new HashMap<>(), sd2 = new HashMap<>();
            two.stateDict().forEach((k, v) -> {
                if (k.contains("_l0")) sd1.put(k, v);
                else sd2.put(k.replace("_l1", "_l0"), v);
            });
            first.loadStateDict(sd1);
            second.loadStateDict(sd2);

            int n = D * B * H;   // elements of one layer's slice of h0 / h_n
            float[] x = randn(rng, T * B * I, 1), h0 = randn(rng, 2 * n, 0.5), c0 = lstm ? randn(rng, 2 * n, 0.5) : null;
            float[] gOut = randn(rng, T * B * D * H, 1), gHn = randn(rng, 2 * n, 1), gCn = lstm ? randn(rng, 2 * n, 1) : null;
            int[] h2 = {2 * D, B, H}, h1 = {D, B, H};
            Run ref = run(two, x, new int[]{T, B, I}, h0, c0, h2, h2, gOut, gHn, gCn);

            // chained: forward through both, then backward through the second and the first
            Run top;
            float[] y;
            first.zeroGrad();
            Tensor xt = tensor(x, T, B, I);
            RecurrentOutput o1 = own(TestSupport.forward(first, xt, tensor(TestSupport.slice(h0, 0, n), h1),
                    lstm ? tensor(TestSupport.slice(c0, 0, n), h1) : null));
            y = o1.output().toArray();
            top = run(second, y, new int[]{T, B, D * H}, TestSupport.slice(h0, n, n), lstm ? TestSupport.slice(c0, n, n) : null,
                    h1, h1, gOut, TestSupport.slice(gHn, n, n), lstm ? TestSupport.slice(gCn, n, n) : null);
            RecurrentGrads g1 = own(TestSupport.backward(first, o1, tensor(top.gInput(), T, B, D * H),
                    tensor(TestSupport.slice(gHn, 0, n), h1), lstm ? tensor(TestSupport.slice(gCn, 0, n), h1) : null));

            assertClose("output", ref.output(), top.output(), RTOL, ATOL);
            assertClose("h_n", ref.hN(), concat(o1.hN().toArray(), top.hN()), RTOL, ATOL);
            if (lstm) assertClose("c_n", ref.cN(), concat(o1.cN().toArray(), top.cN()), RTOL, ATOL);
            assertClose("grad input", ref.gInput(), g1.input().toArray(), RTOL, ATOL);
            assertClose("grad h0", ref.gH0(), concat(g1.h0().toArray(), top.gH0()), RTOL, ATOL);
            if (lstm) assertClose("grad c0", ref.gC0(), concat(g1.c0().toArray(), top.gC0()), RTOL, ATOL);
            first.namedParameters().forEach((k, p) -> assertClose("grad " + k, ref.gParams().get(k), p.grad().toArray(), 1e-4, 1e-5));
            top.gParams().forEach((k, v) -> assertClose("grad " + k, ref.gParams().get(k.replace("_l0", "_l1")), v, 1e-4, 1e-5));
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"relu", "lstm", "gru"})
    void batchEqualsEachSequenceAlone(String kind) {
        int T = 3, B = 4, I = 2, H = 3, L = 2, D = 2;
        boolean lstm = kind.equals("lstm");
        SplittableRandom rng = new SplittableRandom(57 + kind.hashCode());
        RNNBase m = own(module(kind, I, H, L, true, 21));
        float[] x = randn(rng, T * B * I, 1), h0 = randn(rng, L * D * B * H, 0.5), c0 = lstm ? randn(rng, L * D * B * H, 0.5) : null;
        float[] gOut = randn(rng, T * B * D * H, 1), gHn = randn(rng, L * D * B * H, 1), gCn = lstm ? randn(rng, L * D * B * H, 1) : null;
        int[] hs = {L * D, B, H}, h1 = {L * D, 1, H};
        Run ref = run(m, x, new int[]{T, B, I}, h0, c0, hs, hs, gOut, gHn, gCn);

        Map<String, float[]> summed = new HashMap<>();
        for (int b = 0; b < B; b++) {
            // (T, B, W) and (L*D, B, H) -> the batch-b column
            float[] xb = column(x, T, B, I, b), h0b = column(h0, L * D, B, H, b), c0b = lstm ? column(c0, L * D, B, H, b) : null;
            Run one = run(m, xb, new int[]{T, 1, I}, h0b, c0b, h1, h1, column(gOut, T, B, D * H, b),
                    column(gHn, L * D, B, H, b), lstm ? column(gCn, L * D, B, H, b) : null);
            assertClose("output[b=" + b + "]", column(ref.output(), T, B, D * H, b), one.output(), RTOL, ATOL);
            assertClose("h_n[b=" + b + "]", column(ref.hN(), L * D, B, H, b), one.hN(), RTOL, ATOL);
            if (lstm) assertClose("c_n[b=" + b + "]", column(ref.cN(), L * D, B, H, b), one.cN(), RTOL, ATOL);
            assertClose("grad input[b=" + b + "]", column(ref.gInput(), T, B, I, b), one.gInput(), RTOL, ATOL);
            assertClose("grad h0[b=" + b + "]", column(ref.gH0(), L * D, B, H, b), one.gH0(), RTOL, ATOL);
            if (lstm) assertClose("grad c0[b=" + b + "]", column(ref.gC0(), L * D, B, H, b), one.gC0(), RTOL, ATOL);
            one.gParams().forEach((k, v) -> summed.merge(k, v, TestSupport::add));
        }
        summed.forEach((k, v) -> assertClose("grad " + k + " summed over sequences", ref.gParams().get(k), v, 1e-4, 1e-5));
    }

    /** Elements [i, b, :] of a (n0, B, w) array. */
    private static float[] column(float[] a, int n0, int batch, int w, int b) {
        float[] out = new float[n0 * w];
        for (int i = 0; i < n0; i++) System.arraycopy(a, (i * batch + b) * w, out, i * w, w);
        return out;
    }

    /** (d0, d1, w) -> (d1, d0, w). */
    private static float[] swap(float[] a, int d0, int d1, int w) {
        float[] out = new float[a.length];
        for (int i = 0; i < d0; i++)
            for (int j = 0; j < d1; j++) System.arraycopy(a, (i * d1 + j) * w, out, (j * d0 + i) * w, w);
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tanh", "lstm", "gru"})
    void batchFirstEqualsTimeMajor(String kind) {
        int T = 4, B = 3, I = 2, H = 5, L = 2, D = 2;
        boolean lstm = kind.equals("lstm");
        SplittableRandom rng = new SplittableRandom(3);
        RNNBase tm = own(module(kind, I, H, L, true, 41));
        RNNBase bf = own(switch (kind) {
            case "lstm" -> LSTM.builder(I, H).numLayers(L).bidirectional(true).batchFirst(true).build(dev);
            case "gru" -> GRU.builder(I, H).numLayers(L).bidirectional(true).batchFirst(true).build(dev);
            default -> RNN.builder(I, H).numLayers(L).bidirectional(true).batchFirst(true).build(dev);
        });
        TestSupport.copyParameters(tm, bf);
        float[] x = randn(rng, T * B * I, 1), h0 = randn(rng, L * D * B * H, 0.5), c0 = lstm ? randn(rng, L * D * B * H, 0.5) : null;
        float[] gOut = randn(rng, T * B * D * H, 1), gHn = randn(rng, L * D * B * H, 1), gCn = lstm ? randn(rng, L * D * B * H, 1) : null;
        int[] hs = {L * D, B, H};
        Run a = run(tm, x, new int[]{T, B, I}, h0, c0, hs, hs, gOut, gHn, gCn);
        Run b = run(bf, swap(x, T, B, I), new int[]{B, T, I}, h0, c0, hs, hs, swap(gOut, T, B, D * H), gHn, gCn);
        assertArrayEquals(a.output(), swap(b.output(), B, T, D * H));
        assertArrayEquals(a.hN(), b.hN());
        assertArrayEquals(a.gInput(), swap(b.gInput(), B, T, I));
        assertArrayEquals(a.gH0(), b.gH0());
        if (lstm) assertArrayEquals(a.gC0(), b.gC0());
        a.gParams().forEach((k, v) -> assertArrayEquals(v, b.gParams().get(k), k));
    }

    @Test
    void unbatchedEqualsBatchOfOne() {
        int T = 3, I = 2, H = 4, P = 3, L = 2, D = 2;
        SplittableRandom rng = new SplittableRandom(8);
        RNNBase m = own(LSTM.builder(I, H).projSize(P).numLayers(L).bidirectional(true).seed(5).build(dev));
        float[] x = randn(rng, T * I, 1), h0 = randn(rng, L * D * P, 0.5), c0 = randn(rng, L * D * H, 0.5);
        float[] gOut = randn(rng, T * D * P, 1), gHn = randn(rng, L * D * P, 1), gCn = randn(rng, L * D * H, 1);
        Run batched = run(m, x, new int[]{T, 1, I}, h0, c0, new int[]{L * D, 1, P}, new int[]{L * D, 1, H}, gOut, gHn, gCn);
        Run unbatched = run(m, x, new int[]{T, I}, h0, c0, new int[]{L * D, P}, new int[]{L * D, H}, gOut, gHn, gCn);
        assertArrayEquals(batched.output(), unbatched.output());
        assertArrayEquals(batched.hN(), unbatched.hN());
        assertArrayEquals(batched.cN(), unbatched.cN());
        assertArrayEquals(batched.gInput(), unbatched.gInput());
        assertArrayEquals(batched.gH0(), unbatched.gH0());
        assertArrayEquals(batched.gC0(), unbatched.gC0());
        batched.gParams().forEach((k, v) -> assertArrayEquals(v, unbatched.gParams().get(k), k));
    }

    @Test
    void unbatchedShapes() {
        RNNBase m = own(GRU.builder(2, 3).numLayers(2).bidirectional(true).build(dev));
        Tensor x = tensor(new float[10], 5, 2);
        RecurrentOutput out = own(TestSupport.forward(m, x, null, null));
        assertArrayEquals(new int[]{5, 6}, out.output().shape());
        assertArrayEquals(new int[]{4, 3}, out.hN().shape());
        RecurrentGrads g = own(TestSupport.backward(m, out, null, null, null));
        assertArrayEquals(new int[]{5, 2}, g.input().shape());
        assertArrayEquals(new int[]{4, 3}, g.h0().shape());
        RNNCellBase cell = own(LSTMCell.builder(2, 3).build(dev));
        CellOutput co = own(TestSupport.step(cell, tensor(new float[]{1, 2}, 2), null, null));
        assertArrayEquals(new int[]{3}, co.h().shape());
        assertArrayEquals(new int[]{3}, co.c().shape());
        CellGrads cg = own(TestSupport.backStep(cell, co, null, null));
        assertArrayEquals(new int[]{2}, cg.input().shape());
        assertArrayEquals(new int[]{3}, cg.h().shape());
    }

    @Test
    void backwardTwiceAccumulatesParameterGradientsAndRepeatsTheRest() {
        int T = 3, B = 2, I = 2, H = 3;
        SplittableRandom rng = new SplittableRandom(9);
        LSTM m = own(LSTM.builder(I, H).numLayers(2).projSize(2).seed(3).build(dev));
        RecurrentOutput out = own(m.forward(own(randn(dev, rng, 1, T, B, I))));
        Tensor go = own(randn(dev, rng, 1, T, B, 2));
        RecurrentGrads g1 = own(m.backward(out, go, null, null));
        Map<String, float[]> once = new HashMap<>();
        m.namedParameters().forEach((k, p) -> once.put(k, p.grad().toArray()));
        RecurrentGrads g2 = own(m.backward(out, go, null, null));
        assertArrayEquals(g1.input().toArray(), g2.input().toArray());
        assertArrayEquals(g1.h0().toArray(), g2.h0().toArray());
        m.namedParameters().forEach((k, p) -> {
            float[] twice = once.get(k).clone();
            for (int i = 0; i < twice.length; i++) twice[i] *= 2;
            assertClose("accumulated grad " + k, twice, p.grad().toArray(), 1e-6, 1e-7);
        });
        m.zeroGrad();
        m.namedParameters().forEach((k, p) -> assertArrayEquals(new float[(int) p.numel()], p.grad().toArray(), k));
    }

    @Test
    void nullUpstreamGradientsMeanZero() {
        SplittableRandom rng = new SplittableRandom(10);
        LSTM m = own(LSTM.builder(2, 3).bidirectional(true).seed(3).build(dev));
        RecurrentOutput out = own(m.forward(own(randn(dev, rng, 1, 4, 2, 2))));
        Tensor zo = own(Tensor.zeros(dev, out.output().shape()));
        Tensor zh = own(Tensor.zeros(dev, out.hN().shape())), zc = own(Tensor.zeros(dev, out.cN().shape()));
        Tensor go = own(randn(dev, rng, 1, out.output().shape()));
        RecurrentGrads a = own(m.backward(out, go, null, null));
        RecurrentGrads b = own(m.backward(out, go, zh, zc));
        assertArrayEquals(a.input().toArray(), b.input().toArray());
        Tensor gh = own(randn(dev, rng, 1, out.hN().shape()));
        RecurrentGrads c = own(m.backward(out, null, gh, null));
        RecurrentGrads d = own(m.backward(out, zo, gh, zc));
        assertArrayEquals(c.input().toArray(), d.input().toArray());
        assertArrayEquals(c.c0().toArray(), d.c0().toArray());
    }
}
