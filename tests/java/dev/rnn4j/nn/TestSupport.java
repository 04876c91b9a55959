package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Helpers shared by the recurrent-layer tests: uniform calls over the modules and cells, comparisons, random data. */
final class TestSupport {
    private TestSupport() {}

    static RecurrentOutput forward(RNNBase m, Tensor x, Tensor h0, Tensor c0) {
        return m.forwardStates(x, h0, m.hasCellState() ? c0 : null, null);
    }

    static RecurrentGrads backward(RNNBase m, RecurrentOutput out, Tensor gOut, Tensor gHn, Tensor gCn) {
        return m.backwardStates(out, gOut, gHn, m.hasCellState() ? gCn : null);
    }

    static boolean isLstm(RNNBase m) { return m.hasCellState(); }

    /** One cell step; c is used by a cell with a cell state only. */
    static CellOutput step(RNNCellBase cell, Tensor x, Tensor h, Tensor c) {
        return cell.forwardStates(x, h, cell.hasCellState() ? c : null);
    }

    /** Backward through one cell step; gc is used by a cell with a cell state only. */
    static CellGrads backStep(RNNCellBase cell, CellOutput out, Tensor gh, Tensor gc) {
        return cell.backwardStates(out, gh, cell.hasCellState() ? gc : null);
    }

    /** numpy allclose, elementwise: |actual - expected| <= atol + rtol*|expected|; the message names the worst element. */
    static void assertClose(String what, float[] expected, float[] actual, double rtol, double atol) {
        if (expected.length != actual.length)
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            double excess = d - (atol + rtol * Math.abs(expected[i]));
            if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
                worst = i;
                worstExcess = excess;
            }
        }
        if (worst >= 0)
            fail(what + ": element " + worst + " is " + actual[worst] + ", expected " + expected[worst]
                    + " (rtol " + rtol + ", atol " + atol + ")");
    }

    static void assertClose(String what, HostTensor expected, Tensor actual, double rtol, double atol) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        assertClose(what, expected.data(), actual.toArray(), rtol, atol);
    }

    static float[] randn(SplittableRandom rng, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller: plenty for test data
            double u1 = 1 - rng.nextDouble(), u2 = rng.nextDouble();
            v[i] = (float) (scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return v;
    }

    static Tensor randn(Device dev, SplittableRandom rng, double scale, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return dev.tensor(randn(rng, n, scale), shape);
    }

    static float[] uniform(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * scale);
        return a;
    }

    /** Fills every parameter of m with U(-scale, scale) values (biases too, so they matter in tests). */
    static void randomize(Module m, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Parameter p : m.namedParameters().values()) p.set(uniform(r, (int) p.numel(), scale));
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    static float[] add(float[] a, float[] b) {
        float[] out = a.clone();
        for (int i = 0; i < out.length; i++) out[i] += b[i];
        return out;
    }

    static float[] slice(float[] a, int from, int len) { return Arrays.copyOfRange(a, from, from + len); }

    /** Copies every parameter of {@code from} into the same-named parameter of {@code to}. */
    static void copyParameters(Module from, Module to) { to.loadStateDict(from.stateDict()); }
}
