package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Embedding, Linear (incl. weight tying), Dropout and the fused log-softmax + NLL primitive. */
class LmModulesTest {
    private final Device dev = Device.reference();
    private final SplittableRandom rnd = new SplittableRandom(3);

    @AfterEach
    void close() {
        assertEquals(0, DeviceAccess.backend(dev).liveBuffers(), "leaked buffers");
        dev.close();
    }

    private float[] rand(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    @Test
    void embeddingLooksUpAndScatterAdds() {
        try (Embedding e = new Embedding(dev, 5, 3)) {
            float[] w = e.weight().value().toArray();
            int[] ids = {4, 0, 4, 2};
            try (Tensor out = e.forward(ids, 2, 2)) {
                assertArrayEquals(new int[]{2, 2, 3}, out.shape());
                float[] o = out.toArray();
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 3; j++) assertEquals(w[ids[i] * 3 + j], o[i * 3 + j]);
            }
            float[] g = rand(12);
            try (Tensor dy = dev.tensor(g, 4, 3)) { e.backward(ids, dy); }
            float[] dw = e.weight().grad().toArray();
            for (int j = 0; j < 3; j++) {
                assertEquals(g[j] + g[6 + j], dw[4 * 3 + j], 1e-6, "repeated id accumulates");
                assertEquals(g[3 + j], dw[j], 1e-6);
                assertEquals(0f, dw[3 + j]);
            }
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> e.forward(new int[]{5}, 1));
            assertTrue(ex.getMessage().contains("ids[0] = 5"), ex.getMessage());
        }
    }

    @Test
    void linearForwardBackwardAndTying() {
        try (Embedding emb = new Embedding(dev, 4, 3); Linear tiedOut = new Linear(emb.weight(), true);
             Linear own = new Linear(dev, 3, 2, true)) {
            assertSame(emb.weight(), tiedOut.weight());
            float[] x = rand(6), w = own.weight().value().toArray(), b = own.bias().value().toArray();
            try (Tensor X = dev.tensor(x, 2, 3); Tensor y = own.forward(X)) {
                float[] out = y.toArray();
                for (int i = 0; i < 2; i++)
                    for (int o = 0; o < 2; o++) {
                        double s = b[o];
                        for (int k = 0; k < 3; k++) s += x[i * 3 + k] * w[o * 3 + k];
                        assertEquals(s, out[i * 2 + o], 1e-5);
                    }
                float[] g = rand(4);
                try (Tensor dy = dev.tensor(g, 2, 2); Tensor dx = own.backward(X, dy)) {
                    float[] d = dx.toArray(), dw = own.weight().grad().toArray(), db = own.bias().grad().toArray();
                    for (int i = 0; i < 2; i++)
                        for (int k = 0; k < 3; k++)
                            assertEquals(g[i * 2] * w[k] + g[i * 2 + 1] * w[3 + k], d[i * 3 + k], 1e-5);
                    for (int o = 0; o < 2; o++) {
                        assertEquals(g[o] + g[2 + o], db[o], 1e-5);
                        for (int k = 0; k < 3; k++) assertEquals(g[o] * x[k] + g[2 + o] * x[3 + k], dw[o * 3 + k], 1e-5);
                    }
                }
            }
            // tied: gradients from the embedding and the output layer land in one tensor
            int[] ids = {1};
            float[] ge = rand(3);
            try (Tensor dy = dev.tensor(ge, 1, 3)) { emb.backward(ids, dy); }
            float[] h = rand(3), go = rand(4);
            try (Tensor H = dev.tensor(h, 1, 3); Tensor dy = dev.tensor(go, 1, 4); Tensor dx = tiedOut.backward(H, dy)) {
                float[] dw = emb.weight().grad().toArray();
                for (int k = 0; k < 3; k++) assertEquals(ge[k] + go[1] * h[k], dw[3 + k], 1e-5);
                assertEquals(go[0] * h[0], dw[0], 1e-6);
            }
            // the tied pair counts its matrix once and names it twice in the state dict
            try (Composite c = new Composite()) {
                assertEquals(4 * 3 + 4, c.numParameters());
                assertEquals(java.util.List.of("emb.weight", "out.bias"), java.util.List.copyOf(c.namedParameters().keySet()));
                assertEquals(java.util.List.of("emb.weight", "out.weight", "out.bias"), java.util.List.copyOf(c.stateDict().keySet()));
            }
        }
    }

    private final class Composite extends Module {
        Composite() {
            super(dev);
            Embedding e = registerModule("emb", new Embedding(dev, 4, 3));
            registerModule("out", new Linear(e.weight(), true));
        }

        @Override public String toString() { return "Composite"; }
    }

    @Test
    void logSoftmaxNllValueAndGradient() {
        int rows = 3, classes = 5;
        float[] logits = rand(rows * classes);
        for (int i = 0; i < logits.length; i++) logits[i] *= 4;
        int[] t = {2, 0, 4};
        double expect = 0;
        for (int i = 0; i < rows; i++) {
            double z = 0;
            for (int j = 0; j < classes; j++) z += Math.exp(logits[i * classes + j]);
            expect += Math.log(z) - logits[i * classes + t[i]];
        }
        try (Tensor L = dev.tensor(logits, rows, classes); Tensor G = dev.zeros(rows, classes)) {
            double got = DeviceAccess.backend(dev).logSoftmaxNll(rows, classes, DeviceAccess.buffer(L), 0, t, 0, 0.5f, DeviceAccess.buffer(G), 0);
            assertEquals(expect, got, 1e-9);
            float[] g = G.toArray();
            for (int i = 0; i < rows; i++) {
                double z = 0;
                for (int j = 0; j < classes; j++) z += Math.exp(logits[i * classes + j]);
                double rowSum = 0;
                for (int j = 0; j < classes; j++) {
                    double p = Math.exp(logits[i * classes + j]) / z;
                    assertEquals(0.5 * (p - (j == t[i] ? 1 : 0)), g[i * classes + j], 1e-6);
                    rowSum += g[i * classes + j];
                }
                assertEquals(0, rowSum, 1e-6);
            }
            // in place: dLogits aliasing logits gives the same gradient
            double again = DeviceAccess.backend(dev).logSoftmaxNll(rows, classes, DeviceAccess.buffer(L), 0, t, 0, 0.5f, DeviceAccess.buffer(L), 0);
            assertEquals(expect, again, 1e-9);
            assertArrayEquals(g, L.toArray(), 1e-7f);
        }
    }

    @Test
    void dropoutTrainEvalAndBackward() {
        try (Dropout d = new Dropout(dev, 0.5); Tensor x = dev.tensor(rand(1000), 10, 100)) {
            d.setDropoutSeed(11);
            float[] xs = x.toArray();
            try (Dropout.Output out = d.forward(x)) {
                float[] o = out.output().toArray(), m = out.mask().toArray();
                int zeros = 0;
                for (int i = 0; i < o.length; i++) {
                    assertTrue(m[i] == 0f || m[i] == 2f);
                    assertEquals(xs[i] * m[i], o[i], 1e-7);
                    if (m[i] == 0f) zeros++;
                }
                assertTrue(zeros > 400 && zeros < 600, "about half dropped: " + zeros);
                float[] g = rand(1000);
                try (Tensor dy = dev.tensor(g, 10, 100); Tensor dx = d.backward(out, dy)) {
                    float[] dxs = dx.toArray();
                    for (int i = 0; i < g.length; i++) assertEquals(g[i] * m[i], dxs[i], 1e-7);
                }
                try (Dropout.Output second = d.forward(x)) {
                    assertFalse(java.util.Arrays.equals(m, second.mask().toArray()), "a fresh mask per call");
                }
            }
            d.eval();
            try (Dropout.Output out = d.forward(x)) {
                assertNull(out.mask());
                assertArrayEquals(xs, out.output().toArray());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new Dropout(dev, 1.0));
    }
}
