package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;

import static dev.rnn4j.nn.TestSupport.dot;
import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The finite-difference check the SRU gradient tests (v1 and 2.x) share: random x, c0 and
 * upstream gradients, the analytic gradients of loss = sum(output * gO) + sum(cN * gC), the loss
 * itself at the current values (the dropout seed reset before every forward, so every evaluation
 * sees the same masks), and central differences over every coordinate of input, c0 and each
 * parameter.
 */
final class SruGradients {
    private SruGradients() {}

    static final double ATOL = 1e-3, RTOL = 1e-2;

    /** The layer under test (SRUCell or SRU), behind one interface. */
    interface Net {
        RecurrentOutput forward(Tensor x, Tensor c0);

        RecurrentGrads backward(RecurrentOutput out, Tensor gOut, Tensor gC);
    }

    /** Where the checks of one run count coordinates and collect those blamed on relu kinks. */
    static final class Tally {
        final List<String> kinks = new java.util.ArrayList<>();
        int total;
    }

    /**
     * One run: randomises the module's parameters and draws the data from {@code r}, computes the
     * analytic gradients ({@code inspect} sees the forward output and the input gradient), then
     * checks input, c0 and every parameter; returns the number of parameters checked.
     *
     * @param eps the central-difference step
     * @param allowKinks whether a mismatch may be blamed on a relu kink (see {@link #checkAll})
     */
    static int check(String name, Device dev, Module module, Net net, SplittableRandom r, int T, int B, int nIn, int out,
                     int[] c0Shape, BiConsumer<RecurrentOutput, float[]> inspect, double eps, boolean allowKinks, Tally tally) {
        module.train(true);
        TestSupport.randomize(module, r.nextLong(), 0.9);
        float[] x = randn(r, T * B * nIn, 1);
        float[] c0 = randn(r, numel(c0Shape), 0.5);
        float[] gOut = randn(r, T * B * out, 1);
        float[] gC = randn(r, numel(c0Shape), 1);
        long seed = r.nextLong();

        // Analytic gradients.
        module.zeroGrad();
        float[] gx, gc0;
        module.setDropoutSeed(seed);
        try (Tensor xt = dev.tensor(x, T, B, nIn); Tensor c0t = dev.tensor(c0, c0Shape);
             Tensor go = dev.tensor(gOut, T, B, out); Tensor gct = dev.tensor(gC, c0Shape);
             RecurrentOutput o = net.forward(xt, c0t); RecurrentGrads g = net.backward(o, go, gct)) {
            gx = g.input().toArray();
            gc0 = g.c0().toArray();
            inspect.accept(o, gx);
        }

        // The loss at the current values of x, c0 and the parameters.
        float[][] cur = {x, c0};
        DoubleSupplier loss = () -> {
            module.setDropoutSeed(seed);
            try (Tensor xt = dev.tensor(cur[0], T, B, nIn); Tensor c0t = dev.tensor(cur[1], c0Shape);
                 RecurrentOutput o = net.forward(xt, c0t)) {
                return dot(o.output().toArray(), gOut) + dot(o.cN().toArray(), gC);
            }
        };

        checkAll(name + " input", x, gx, v -> {}, loss, eps, allowKinks, tally);
        checkAll(name + " c0", c0, gc0, v -> {}, loss, eps, allowKinks, tally);
        int checked = 0;
        for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
            Parameter p = e.getValue();
            checkAll(name + " " + e.getKey(), p.value().toArray(), p.grad().toArray(), p::set, loss, eps, allowKinks, tally);
            checked++;
        }
        return checked;
    }

    /**
     * Central differences over every element of {@code values} (perturbed in place; {@code apply}
     * pushes the array wherever the loss reads it from). relu has kinks: a difference quotient
     * that straddles one is not a derivative. With {@code allowKinks}, a mismatch is blamed on a
     * kink only when the quotient itself changes with the step (a smooth function's does not, so
     * a wrong gradient cannot hide this way); the caller bounds how many such coordinates it allows.
     */
    static void checkAll(String what, float[] values, float[] analytic, Consumer<float[]> apply, DoubleSupplier loss,
                         double eps, boolean allowKinks, Tally tally) {
        assertEquals(values.length, analytic.length, what);
        for (int i = 0; i < values.length; i++) {
            tally.total++;
            double fd = quotient(values, i, eps, apply, loss);
            double an = analytic[i];
            if (Math.abs(fd - an) <= ATOL + RTOL * Math.abs(an)) continue;
            if (allowKinks) {
                double fd2 = quotient(values, i, eps / 4, apply, loss);
                if (Math.abs(fd - fd2) > ATOL + RTOL * Math.abs(fd2)) {
                    tally.kinks.add(what + "[" + i + "]");
                    continue;
                }
            }
            fail(what + "[" + i + "]: backward " + an + ", finite difference " + fd);
        }
    }

    private static double quotient(float[] values, int i, double eps, Consumer<float[]> apply, DoubleSupplier loss) {
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

    static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }
}
