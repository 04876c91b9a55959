package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static dev.rnn4j.nn.TestSupport.dot;
import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Backward against central finite differences of the forward pass, in float32 on the reference
 * backend. The loss is sum(output*gOut) + sum(h_n*gHn) [+ sum(c_n*gCn)] with fixed random
 * upstream gradients, accumulated in double; every element of input, h0, c0 and of every
 * parameter is perturbed (a random subset for the larger tensors).
 *
 * <p>Step and tolerance: with eps = 5e-3 the float32 rounding of the loss (relative 1e-7 on a
 * few hundred terms) and the truncation error (eps^2/6 times the third derivative) each move
 * the difference quotient by about 1e-5 here; the bound 3e-4 + 3e-3*|grad| leaves a margin of
 * ten while a real mistake in a gradient (order 0.01 and more) fails.
 *
 * <p>ReLU: a perturbation can cross a kink, where the central difference is not the derivative.
 * For a kink between x and x+eps the error of the quotient is exactly
 * |f(x+eps) - 2f(x) + f(x-eps)| / (2 eps), so relu checks add that amount to the bound.
 */
class GradientCheckTest {
    static final float EPS = 5e-3f;
    static final double ATOL = 3e-4, RTOL = 3e-3;
    static final int MAX_PER_TENSOR = 40;
    static Device dev;

    @BeforeAll
    static void open() { dev = Device.reference(); }

    @AfterAll
    static void close() { dev.close(); }

    /** A tensor the check perturbs: its values, how to install changed values, and its analytic gradient. */
    private record Target(String name, float[] values, java.util.function.Consumer<float[]> install, float[] grad) {}

    /** One target per parameter of {@code m}: its values and its accumulated gradient. */
    private static void addParameters(List<Target> targets, Module m) {
        for (var e : m.namedParameters().entrySet()) {
            Parameter p = e.getValue();
            targets.add(new Target(e.getKey(), p.value().toArray(), p::set, p.grad().toArray()));
        }
    }

    private static void checkTargets(String what, List<Target> targets, DoubleSupplier loss, boolean kinks, long seed) {
        SplittableRandom pick = new SplittableRandom(seed);
        StringBuilder failures = new StringBuilder();
        double worst = 0;
        for (Target t : targets) {
            int n = t.values.length;
            assertEquals(n, t.grad.length, t.name + ": gradient length");
            List<Integer> idx = new ArrayList<>();
            for (int i = 0; i < n; i++) idx.add(i);
            if (n > MAX_PER_TENSOR) {
                java.util.Collections.shuffle(idx, new java.util.Random(pick.nextLong()));
                idx = idx.subList(0, MAX_PER_TENSOR);
            }
            for (int i : idx) {
                float[] v = t.values.clone();
                v[i] = t.values[i] + EPS;
                t.install.accept(v);
                double up = loss.getAsDouble();
                v[i] = t.values[i] - EPS;
                t.install.accept(v);
                double down = loss.getAsDouble();
                t.install.accept(t.values);
                // divide by the float32 step actually taken, not the nominal one
                double step = (double) (t.values[i] + EPS) - (double) (t.values[i] - EPS);
                double num = (up - down) / step;
                double ana = t.grad[i], err = Math.abs(num - ana);
                double bound = ATOL + RTOL * Math.abs(ana);
                if (kinks) bound += Math.abs(up - 2 * loss.getAsDouble() + down) / step;
                worst = Math.max(worst, err / bound);
                if (!(err <= bound))
                    failures.append(String.format("%n  %s[%d]: analytic %.6g, numeric %.6g", t.name, i, ana, num));
            }
        }
        if (!failures.isEmpty())
            fail(what + ": gradients differ from finite differences (worst error " + String.format("%.3g", worst) + " x the bound):" + failures);
    }

    // ------------------------------------------------------------------ modules

    /** Checks every gradient of module m on random data; dropoutSeed, if not null, is fixed before each forward. */
    static void checkModule(String what, RNNBase m, int T, int B, boolean withH0, boolean unbatched, Long dropoutSeed, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int L = m.numLayers(), D = m.numDirections(), hOut = m.outputHiddenSize(), H = m.hiddenSize(), I = m.inputSize();
        boolean lstm = TestSupport.isLstm(m);
        int[] inShape = unbatched ? new int[]{T, I} : m.batchFirst() ? new int[]{B, T, I} : new int[]{T, B, I};
        int[] hShape = unbatched ? new int[]{L * D, hOut} : new int[]{L * D, B, hOut};
        int[] cShape = unbatched ? new int[]{L * D, H} : new int[]{L * D, B, H};
        float[][] x = {randn(rng, T * B * I, 1)};
        float[][] h0 = {withH0 ? randn(rng, L * D * B * hOut, 0.5) : null};
        float[][] c0 = {withH0 && lstm ? randn(rng, L * D * B * H, 0.5) : null};
        float[] gOut = randn(rng, T * B * D * hOut, 1), gHn = randn(rng, L * D * B * hOut, 1);
        float[] gCn = lstm ? randn(rng, L * D * B * H, 1) : null;

        DoubleSupplier loss = () -> {
            if (dropoutSeed != null) m.setDropoutSeed(dropoutSeed);
            try (Tensor xt = dev.tensor(x[0], inShape);
                 Tensor ht = h0[0] == null ? null : dev.tensor(h0[0], hShape);
                 Tensor ct = c0[0] == null ? null : dev.tensor(c0[0], cShape);
                 RecurrentOutput out = TestSupport.forward(m, xt, ht, ct)) {
                double l = dot(out.output().toArray(), gOut) + dot(out.hN().toArray(), gHn);
                if (lstm) l += dot(out.cN().toArray(), gCn);
                return l;
            }
        };

        List<Target> targets = new ArrayList<>();
        m.zeroGrad();
        if (dropoutSeed != null) m.setDropoutSeed(dropoutSeed);
        try (Tensor xt = dev.tensor(x[0], inShape);
             Tensor ht = h0[0] == null ? null : dev.tensor(h0[0], hShape);
             Tensor ct = c0[0] == null ? null : dev.tensor(c0[0], cShape);
             RecurrentOutput out = TestSupport.forward(m, xt, ht, ct);
             Tensor go = dev.tensor(gOut, out.output().shape()); Tensor gh = dev.tensor(gHn, hShape);
             Tensor gc = lstm ? dev.tensor(gCn, cShape) : null;
             RecurrentGrads g = TestSupport.backward(m, out, go, gh, gc)) {
            targets.add(new Target("input", x[0], v -> x[0] = v, g.input().toArray()));
            if (withH0) targets.add(new Target("h0", h0[0], v -> h0[0] = v, g.h0().toArray()));
            if (withH0 && lstm) targets.add(new Target("c0", c0[0], v -> c0[0] = v, g.c0().toArray()));
        }
        addParameters(targets, m);
        checkTargets(what, targets, loss, m instanceof RNN r && r.nonlinearity().equals("relu"), seed);
    }

    static Stream<Arguments> modules() {
        return Stream.of(
                // name, factory, T, B, h0, unbatched
                Arguments.of("RNN tanh", (Supplier<RNNBase>) () -> RNN.builder(3, 4).seed(1).build(dev), 4, 2, true, false),
                Arguments.of("RNN relu bidir 2 layers", (Supplier<RNNBase>) () -> RNN.builder(3, 4).nonlinearity("relu").numLayers(2).bidirectional(true).seed(2).build(dev), 3, 2, true, false),
                Arguments.of("RNN no bias batch_first 3 layers", (Supplier<RNNBase>) () -> RNN.builder(2, 3).bias(false).batchFirst(true).numLayers(3).seed(3).build(dev), 3, 2, true, false),
                Arguments.of("LSTM", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).seed(4).build(dev), 4, 2, true, false),
                Arguments.of("LSTM bidir 2 layers", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).numLayers(2).bidirectional(true).seed(5).build(dev), 3, 2, true, false),
                Arguments.of("LSTM proj bidir 2 layers batch_first", (Supplier<RNNBase>) () -> LSTM.builder(3, 5).projSize(2).numLayers(2).bidirectional(true).batchFirst(true).seed(6).build(dev), 3, 2, true, false),
                Arguments.of("LSTM proj no h0", (Supplier<RNNBase>) () -> LSTM.builder(2, 3).projSize(1).seed(7).build(dev), 3, 2, false, false),
                Arguments.of("LSTM no bias 3 layers H=1", (Supplier<RNNBase>) () -> LSTM.builder(2, 1).bias(false).numLayers(3).seed(8).build(dev), 3, 2, true, false),
                Arguments.of("GRU", (Supplier<RNNBase>) () -> GRU.builder(3, 4).seed(9).build(dev), 4, 2, true, false),
                Arguments.of("GRU bidir 2 layers batch_first", (Supplier<RNNBase>) () -> GRU.builder(3, 4).numLayers(2).bidirectional(true).batchFirst(true).seed(10).build(dev), 3, 2, true, false),
                Arguments.of("GRU H=7 I=2 T=1 B=1", (Supplier<RNNBase>) () -> GRU.builder(2, 7).seed(11).build(dev), 1, 1, true, false),
                Arguments.of("RNN T=1 B=1 H=1 bidir", (Supplier<RNNBase>) () -> RNN.builder(3, 1).bidirectional(true).seed(12).build(dev), 1, 1, true, false),
                Arguments.of("LSTM T=1 B=1 bidir proj", (Supplier<RNNBase>) () -> LSTM.builder(1, 3).projSize(2).bidirectional(true).seed(13).build(dev), 1, 1, true, false),
                Arguments.of("GRU 3 layers no bias no h0", (Supplier<RNNBase>) () -> GRU.builder(4, 3).numLayers(3).bias(false).seed(14).build(dev), 3, 3, false, false),
                Arguments.of("LSTM unbatched bidir", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).bidirectional(true).seed(15).build(dev), 3, 1, true, true),
                Arguments.of("GRU unbatched batch_first (ignored)", (Supplier<RNNBase>) () -> GRU.builder(3, 2).batchFirst(true).numLayers(2).seed(16).build(dev), 3, 1, true, true),
                Arguments.of("GRU reset before product", (Supplier<RNNBase>) () -> GRU.builder(3, 4).linearBeforeReset(false).seed(17).build(dev), 4, 2, true, false),
                Arguments.of("GRU reset before product bidir 2 layers", (Supplier<RNNBase>) () -> GRU.builder(3, 4).linearBeforeReset(false).numLayers(2).bidirectional(true).seed(18).build(dev), 3, 3, true, false),
                Arguments.of("LSTM peepholes", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).peepholes(true).seed(20).build(dev), 4, 2, true, false),
                Arguments.of("LSTM peepholes bidir 2 layers batch_first", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).peepholes(true).numLayers(2).bidirectional(true).batchFirst(true).seed(21).build(dev), 3, 3, true, false),
                Arguments.of("LSTM peepholes no bias no h0", (Supplier<RNNBase>) () -> LSTM.builder(2, 3).peepholes(true).bias(false).seed(22).build(dev), 3, 2, false, false),
                Arguments.of("LSTM coupled input-forget", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).coupledInputForget(true).seed(23).build(dev), 4, 2, true, false),
                Arguments.of("LSTM coupled input-forget bidir 2 layers", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).coupledInputForget(true).numLayers(2).bidirectional(true).seed(24).build(dev), 3, 2, true, false),
                Arguments.of("GRU reset before product no bias no h0", (Supplier<RNNBase>) () -> GRU.builder(2, 3).linearBeforeReset(false).bias(false).seed(19).build(dev), 3, 2, false, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modules")
    void moduleGradientsMatchFiniteDifferences(String name, Supplier<RNNBase> factory, int T, int B, boolean h0, boolean unbatched) {
        long before = DeviceAccess.backend(dev).liveBuffers();
        try (RNNBase m = factory.get()) {
            checkModule(name, m, T, B, h0, unbatched, null, 100 + name.hashCode());
        }
        assertEquals(before, DeviceAccess.backend(dev).liveBuffers(), "device buffers leaked");
    }

    static Stream<Arguments> dropoutModules() {
        return Stream.of(
                Arguments.of("LSTM 3 layers dropout 0.3", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).numLayers(3).dropout(0.3).seed(21).build(dev)),
                Arguments.of("GRU bidir 2 layers dropout 0.5", (Supplier<RNNBase>) () -> GRU.builder(3, 4).numLayers(2).bidirectional(true).dropout(0.5).seed(22).build(dev)),
                Arguments.of("RNN 2 layers batch_first dropout 0.4", (Supplier<RNNBase>) () -> RNN.builder(2, 5).numLayers(2).batchFirst(true).dropout(0.4).seed(23).build(dev)),
                Arguments.of("LSTM proj bidir 2 layers dropout 0.5", (Supplier<RNNBase>) () -> LSTM.builder(3, 4).projSize(3).numLayers(2).bidirectional(true).dropout(0.5).seed(24).build(dev)));
    }

    /** In training mode with a fixed dropout seed the masks are the same in every forward, so backward must apply them. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dropoutModules")
    void dropoutGradientsMatchFiniteDifferences(String name, Supplier<RNNBase> factory) {
        try (RNNBase m = factory.get()) {
            m.train(true);
            checkModule(name, m, 4, 3, true, false, 777L, 200 + name.hashCode());
        }
    }

    // ------------------------------------------------------------------ cells

    static void checkCell(String what, RNNCellBase cell, int B, boolean withState, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int I = cell.inputSize(), H = cell.hiddenSize();
        boolean lstm = cell instanceof LSTMCell;
        float[][] x = {randn(rng, B * I, 1)};
        float[][] h = {withState ? randn(rng, B * H, 0.5) : null};
        float[][] c = {withState && lstm ? randn(rng, B * H, 0.5) : null};
        float[] gH = randn(rng, B * H, 1), gC = lstm ? randn(rng, B * H, 1) : null;
        DoubleSupplier loss = () -> {
            try (Tensor xt = dev.tensor(x[0], B, I); Tensor ht = h[0] == null ? null : dev.tensor(h[0], B, H);
                 Tensor ct = c[0] == null ? null : dev.tensor(c[0], B, H);
                 CellOutput out = TestSupport.step(cell, xt, ht, ct)) {
                return dot(out.h().toArray(), gH) + (lstm ? dot(out.c().toArray(), gC) : 0);
            }
        };
        List<Target> targets = new ArrayList<>();
        cell.zeroGrad();
        try (Tensor xt = dev.tensor(x[0], B, I); Tensor ht = h[0] == null ? null : dev.tensor(h[0], B, H);
             Tensor ct = c[0] == null ? null : dev.tensor(c[0], B, H);
             CellOutput out = TestSupport.step(cell, xt, ht, ct);
             Tensor gh = dev.tensor(gH, B, H); Tensor gc = lstm ? dev.tensor(gC, B, H) : null;
             CellGrads g = TestSupport.backStep(cell, out, gh, gc)) {
            targets.add(new Target("x", x[0], v -> x[0] = v, g.input().toArray()));
            if (withState) targets.add(new Target("h", h[0], v -> h[0] = v, g.h().toArray()));
            if (withState && lstm) targets.add(new Target("c", c[0], v -> c[0] = v, g.c().toArray()));
        }
        addParameters(targets, cell);
        checkTargets(what, targets, loss, cell instanceof RNNCell r && r.nonlinearity().equals("relu"), seed);
    }

    @Test
    void cellGradientsMatchFiniteDifferences() {
        try (RNNCell a = RNNCell.builder(3, 4).seed(31).build(dev);
             RNNCell b = RNNCell.builder(2, 5).nonlinearity("relu").bias(false).seed(32).build(dev);
             LSTMCell c = LSTMCell.builder(3, 4).seed(33).build(dev);
             LSTMCell d = LSTMCell.builder(1, 1).bias(false).seed(34).build(dev);
             GRUCell e = GRUCell.builder(3, 4).seed(35).build(dev);
             GRUCell f = GRUCell.builder(4, 7).bias(false).seed(36).build(dev)) {
            checkCell("RNNCell tanh", a, 3, true, 41);
            checkCell("RNNCell relu no bias", b, 2, true, 42);
            checkCell("LSTMCell", c, 3, true, 43);
            checkCell("LSTMCell H=1 B=1 no state", d, 1, false, 44);
            checkCell("GRUCell", e, 2, true, 45);
            checkCell("GRUCell H=7 no bias no state", f, 1, false, 46);
        }
    }
}
