package dev.rnn4j.nn;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DropoutRng;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static dev.rnn4j.nn.SruTestSupport.naiveLayer;
import static dev.rnn4j.nn.SruTestSupport.toFloat;
import static dev.rnn4j.nn.TestSupport.assertClose;
import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.*;

/** Dropout semantics of the original SRU: which values the masks touch, when they are drawn, and eval mode. */
class SruDropoutTest extends ReferenceDeviceTest {
    /** The mask a backend draws: keep with probability 1-p, kept elements scaled by 1/(1-p). */
    private static float[] mask(long seed, int n, double p) {
        float[] m = new float[n];
        float pf = (float) p, scale = 1f / (1f - pf);
        for (int i = 0; i < n; i++) m[i] = DropoutRng.keep(seed, i, pf) ? scale : 0f;
        return m;
    }

    private static boolean hasZeroAndNonZero(float[] m) {
        boolean zero = false, nonZero = false;
        for (float v : m) if (v == 0) zero = true; else nonZero = true;
        return zero && nonZero;
    }

    /**
     * Runs a cell in training mode with seed 'seed' and compares with the plain double SRU fed
     * the masks the cell must have drawn: the x mask first (stream element 0), then the h mask.
     */
    private void compareWithHandComputation(int nIn, int nOut, boolean bidir, double dropout, double rnnDropout) {
        int seqLen = 3, batch = 4, out = (bidir ? 2 : 1) * nOut;
        SplittableRandom r = new SplittableRandom(11);
        try (SRUCell cell = SRUCell.builder(nIn, nOut).bidirectional(bidir).dropout(dropout).rnnDropout(rnnDropout).build(dev)) {
            TestSupport.randomize(cell, 5, 0.9);
            float[] x = randn(r, seqLen * batch * nIn, 1), c0 = randn(r, batch * out, 0.5);
            long seed = 1234;
            long n = 0;
            float[] maskX = rnnDropout > 0 ? mask(DropoutRng.stream(seed, n++), batch * nIn, rnnDropout) : null;
            float[] maskH = dropout > 0 ? mask(DropoutRng.stream(seed, n), batch * out, dropout) : null;
            if (maskX != null) assertTrue(hasZeroAndNonZero(maskX), "test needs a mask that drops and keeps");
            if (maskH != null) assertTrue(hasZeroAndNonZero(maskH), "test needs a mask that drops and keeps");

            float[] w = cell.weight().value().toArray(), b = cell.bias().value().toArray();
            double[][] want = naiveLayer(x, seqLen, batch, nIn, w, b, c0, nOut, bidir ? 2 : 1, 1, maskX, maskH, false);
            cell.train(true);
            cell.setDropoutSeed(seed);
            try (Tensor xt = dev.tensor(x, seqLen, batch, nIn); Tensor c0t = dev.tensor(c0, batch, out);
                 RecurrentOutput o = cell.forward(xt, c0t)) {
                float[] h = o.output().toArray();
                assertClose("h", toFloat(want[0]), h, 1e-5, 1e-5);
                assertClose("cN", toFloat(want[1]), o.cN().toArray(), 1e-5, 1e-5);
                if (maskX != null && cell.k() == 3) {
                    // Feeding the dropped x to the highway would give a visibly different answer.
                    double[][] wrong = naiveLayer(x, seqLen, batch, nIn, w, b, c0, nOut, bidir ? 2 : 1, 1, maskX, maskH, true);
                    double maxDiff = 0;
                    for (int i = 0; i < h.length; i++) maxDiff = Math.max(maxDiff, Math.abs(h[i] - wrong[0][i]));
                    assertTrue(maxDiff > 1e-2, "the test cannot tell a dropped highway from an undropped one");
                }
            }
        }
    }

    @Test
    void rnnDropoutLeavesTheK3HighwayUndropped() {
        compareWithHandComputation(2, 2, false, 0, 0.5);
    }

    @Test
    void rnnDropoutBidirectionalK3() {
        compareWithHandComputation(4, 2, true, 0, 0.4);
    }

    @Test
    void rnnDropoutK4() {
        compareWithHandComputation(3, 2, false, 0, 0.5);
    }

    @Test
    void dropoutScalesTheActivatedCellOnly() {
        compareWithHandComputation(3, 2, true, 0.3, 0);
    }

    @Test
    void bothDropoutsXMaskDrawnFirst() {
        compareWithHandComputation(2, 2, false, 0.5, 0.5);
        compareWithHandComputation(4, 2, true, 0.3, 0.4);
    }

    @Test
    void evalModeIgnoresDropout() {
        SplittableRandom r = new SplittableRandom(3);
        try (SRU dropping = SRU.builder(3, 4).numLayers(2).dropout(0.5).rnnDropout(0.5).bidirectional(true).build(dev);
             SRU plain = SRU.builder(3, 4).numLayers(2).bidirectional(true).build(dev);
             Tensor x = dev.tensor(randn(r, 5 * 2 * 3, 1), 5, 2, 3);
             Tensor g = dev.tensor(randn(r, 5 * 2 * 8, 1), 5, 2, 8)) {
            TestSupport.randomize(dropping, 9, 0.8);
            plain.loadStateDict(dropping.stateDict());
            dropping.eval();
            assertFalse(dropping.layers().get(0).isTraining());
            try (RecurrentOutput a = dropping.forward(x, null); RecurrentOutput b = plain.forward(x, null);
                 RecurrentGrads ga = dropping.backward(a, g, null); RecurrentGrads gb = plain.backward(b, g, null)) {
                assertArrayEquals(b.output().toArray(), a.output().toArray());
                assertArrayEquals(b.cN().toArray(), a.cN().toArray());
                assertArrayEquals(gb.input().toArray(), ga.input().toArray());
                assertArrayEquals(plain.layers().get(0).weight().grad().toArray(), dropping.layers().get(0).weight().grad().toArray());
            }
            dropping.train(true);
            try (RecurrentOutput a = dropping.forward(x, null); RecurrentOutput b = plain.forward(x, null)) {
                assertFalse(java.util.Arrays.equals(b.output().toArray(), a.output().toArray()), "training mode must drop");
            }
        }
    }

    @Test
    void masksRepeatAfterSeedingAndChangeBetweenForwards() {
        SplittableRandom r = new SplittableRandom(4);
        try (SRU sru = SRU.builder(3, 3).numLayers(2).dropout(0.5).rnnDropout(0.5).build(dev);
             Tensor x = dev.tensor(randn(r, 4 * 3 * 3, 1), 4, 3, 3)) {
            sru.setDropoutSeed(99);
            float[] first, second, again;
            try (RecurrentOutput o = sru.forward(x, null)) { first = o.output().toArray(); }
            try (RecurrentOutput o = sru.forward(x, null)) { second = o.output().toArray(); }
            sru.setDropoutSeed(99);
            try (RecurrentOutput o = sru.forward(x, null)) { again = o.output().toArray(); }
            assertArrayEquals(first, again);
            assertFalse(java.util.Arrays.equals(first, second), "a new forward draws new masks");
        }
    }

    @Test
    void lastLayerOfTheStackHasNoOutputDropout() {
        try (SRU sru = SRU.builder(5, 3).numLayers(3).dropout(0.2).rnnDropout(0.1).build(dev)) {
            assertEquals(0.2, sru.layers().get(0).dropout());
            assertEquals(0.2, sru.layers().get(1).dropout());
            assertEquals(0.0, sru.layers().get(2).dropout());
            for (SRUCell l : sru.layers()) assertEquals(0.1, l.rnnDropout());
            assertEquals(0.2, sru.dropout());
        }
    }
}
