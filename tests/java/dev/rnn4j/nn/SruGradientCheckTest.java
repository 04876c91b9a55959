package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static dev.rnn4j.nn.TestSupport.dot;
import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Backward against float32 central differences of loss = sum(output * gO) + sum(cN * gC), for
 * every input of the layer: input, c0, weight and bias. Dropout cases run in training mode with
 * the dropout seed reset before every forward, so every evaluation sees the same masks.
 *
 * <p>relu has kinks: a difference quotient that straddles one is not a derivative. A mismatch is
 * blamed on a kink only when the quotient itself changes with the step (a smooth function's does
 * not, so a wrong gradient cannot hide this way), and only a few such coordinates are allowed.
 */
class SruGradientCheckTest {
    private static final int T = 3, B = 2;
    private static final double EPS = 1e-2;
    /** A smaller step for relu makes straddling a kink rarer; float32 noise still stays well under ATOL. */
    private static final double EPS_RELU = 2e-3;
    private static final double ATOL = 1e-3, RTOL = 1e-2;

    /** layers == 0 means a bare SRUCell; act: 0 identity, 1 tanh, 2 relu. */
    record Case(String name, int nIn, int hidden, int layers, boolean bidir, int act, double dropout, double rnnDropout) {
        @Override public String toString() { return name; }
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                new Case("cell k3 tanh", 3, 3, 0, false, 1, 0, 0),
                new Case("cell k4 tanh", 4, 3, 0, false, 1, 0, 0),
                new Case("cell k3 identity", 2, 2, 0, false, 0, 0, 0),
                new Case("cell k4 identity", 3, 2, 0, false, 0, 0, 0),
                new Case("cell k3 relu", 3, 3, 0, false, 2, 0, 0),
                new Case("cell k4 relu", 2, 3, 0, false, 2, 0, 0),
                new Case("cell k3 bidir", 4, 2, 0, true, 1, 0, 0),
                new Case("cell k4 bidir", 3, 2, 0, true, 1, 0, 0),
                new Case("cell k3 dropout+rnnDropout", 3, 3, 0, false, 1, 0.4, 0.4),
                new Case("cell k4 dropout+rnnDropout", 4, 3, 0, false, 1, 0.4, 0.4),
                new Case("cell k3 bidir dropout+rnnDropout", 4, 2, 0, true, 1, 0.3, 0.5),
                new Case("cell k4 bidir relu rnnDropout", 3, 2, 0, true, 2, 0, 0.3),
                new Case("sru 2 layers tanh", 3, 3, 2, false, 1, 0, 0),
                new Case("sru 2 layers bidir", 3, 2, 2, true, 1, 0, 0),
                new Case("sru 2 layers identity", 2, 3, 2, false, 0, 0, 0),
                new Case("sru 3 layers relu dropout+rnnDropout", 3, 2, 3, false, 2, 0.3, 0.3),
                new Case("sru 2 layers bidir dropout+rnnDropout", 4, 2, 2, true, 1, 0.4, 0.4)
        ).map(Arguments::of);
    }

    /** The layer under test, behind one interface. */
    private interface Net {
        RecurrentOutput forward(Tensor x, Tensor c0);

        RecurrentGrads backward(RecurrentOutput out, Tensor gOut, Tensor gC);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void backwardMatchesFiniteDifferences(Case c) {
        try (Device dev = Device.reference()) {
            long baseline = dev.backend().liveBuffers();
            Module module;
            Net net;
            int[] c0Shape;
            int out = (c.bidir ? 2 : 1) * c.hidden;
            if (c.layers == 0) {
                SRUCell cell = SRUCell.builder(c.nIn, c.hidden).bidirectional(c.bidir)
                        .useTanh(c.act == 1).useRelu(c.act == 2).dropout(c.dropout).rnnDropout(c.rnnDropout).build(dev);
                module = cell;
                net = new Net() {
                    public RecurrentOutput forward(Tensor x, Tensor c0) { return cell.forward(x, c0); }
                    public RecurrentGrads backward(RecurrentOutput o, Tensor g, Tensor gc) { return cell.backward(o, g, gc); }
                };
                c0Shape = new int[] {B, out};
            } else {
                SRU sru = SRU.builder(c.nIn, c.hidden).numLayers(c.layers).bidirectional(c.bidir)
                        .useTanh(c.act == 1).useRelu(c.act == 2).dropout(c.dropout).rnnDropout(c.rnnDropout).build(dev);
                module = sru;
                net = new Net() {
                    public RecurrentOutput forward(Tensor x, Tensor c0) { return sru.forward(x, c0); }
                    public RecurrentGrads backward(RecurrentOutput o, Tensor g, Tensor gc) { return sru.backward(o, g, gc); }
                };
                c0Shape = new int[] {c.layers, B, out};
            }
            try (module) {
                module.train(true);
                SplittableRandom r = new SplittableRandom(c.name.hashCode());
                TestSupport.randomize(module, r.nextLong(), 0.9);
                float[] x = randn(r, T * B * c.nIn, 1);
                float[] c0 = randn(r, numel(c0Shape), 0.5);
                float[] gOut = randn(r, T * B * out, 1);
                float[] gC = randn(r, numel(c0Shape), 1);
                long seed = r.nextLong();

                // Analytic gradients.
                module.zeroGrad();
                float[] gx, gc0;
                module.setDropoutSeed(seed);
                try (Tensor xt = dev.tensor(x, T, B, c.nIn); Tensor c0t = dev.tensor(c0, c0Shape);
                     Tensor go = dev.tensor(gOut, T, B, out); Tensor gct = dev.tensor(gC, c0Shape);
                     RecurrentOutput o = net.forward(xt, c0t); RecurrentGrads g = net.backward(o, go, gct)) {
                    gx = g.input().toArray();
                    gc0 = g.c0().toArray();
                }

                // The loss at the current values of x, c0 and the parameters.
                float[][] cur = {x, c0};
                java.util.function.DoubleSupplier loss = () -> {
                    module.setDropoutSeed(seed);
                    try (Tensor xt = dev.tensor(cur[0], T, B, c.nIn); Tensor c0t = dev.tensor(cur[1], c0Shape);
                         RecurrentOutput o = net.forward(xt, c0t)) {
                        return dot(o.output().toArray(), gOut) + dot(o.cN().toArray(), gC);
                    }
                };

                boolean relu = c.act == 2;
                List<String> kinks = new ArrayList<>();
                int[] total = {0};
                checkAll(c.name + " input", x, gx, v -> {}, loss, relu, kinks, total);
                checkAll(c.name + " c0", c0, gc0, v -> {}, loss, relu, kinks, total);
                for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
                    Parameter p = e.getValue();
                    float[] values = p.value().toArray();
                    checkAll(c.name + " " + e.getKey(), values, p.grad().toArray(), p::set, loss, relu, kinks, total);
                }
                assertTrue(kinks.size() <= total[0] / 20, "too many coordinates blamed on relu kinks: " + kinks);
            }
            assertEquals(baseline, dev.backend().liveBuffers(), "buffers leaked");
        }
    }

    /**
     * Central differences over every element of {@code values} (perturbed in place; {@code apply}
     * pushes the array wherever the loss reads it from).
     */
    private static void checkAll(String what, float[] values, float[] analytic, Consumer<float[]> apply,
                                 java.util.function.DoubleSupplier loss, boolean allowKinks,
                                 List<String> kinks, int[] total) {
        assertEquals(values.length, analytic.length, what);
        for (int i = 0; i < values.length; i++) {
            total[0]++;
            double eps = allowKinks ? EPS_RELU : EPS;
            double fd = quotient(values, i, eps, apply, loss);
            double an = analytic[i];
            if (Math.abs(fd - an) <= ATOL + RTOL * Math.abs(an)) continue;
            if (allowKinks) {
                double fd2 = quotient(values, i, eps / 4, apply, loss);
                if (Math.abs(fd - fd2) > ATOL + RTOL * Math.abs(fd2)) {
                    kinks.add(what + "[" + i + "]");
                    continue;
                }
            }
            fail(what + "[" + i + "]: backward " + an + ", finite difference " + fd);
        }
    }

    private static double quotient(float[] values, int i, double eps, Consumer<float[]> apply,
                                   java.util.function.DoubleSupplier loss) {
        float orig = values[i];
        float plus = (float) (orig + eps), minus = (float) (orig - eps);
        values[i] = plus;
        apply.accept(values);
        double lp = loss.getAsDouble();
        values[i] = minus;
        apply.accept(values);
        double lm = loss.getAsDouble();
        values[i] = orig;
        apply.accept(values);
        // Divide by the step actually taken after rounding to float.
        return (lp - lm) / ((double) plus - (double) minus);
    }

    private static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }
}
