package dev.rnn4j;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Tensor arithmetic (add, sub, mul, scale, sum, mean, sumAll, expandDim, transpose) on every
 * available backend: hand values, a plain-Java oracle over awkward shapes, the reference
 * backend, and the backward rules their Javadoc gives (as adjoint identities).
 */
class TensorOpsTest {
    static Stream<String> backends() {
        List<String> out = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) {
            if (b.available()) out.add(b.name());
            else if (("cpu".equals(b.name()) && "1".equals(System.getenv("RNN4J_REQUIRE_CPU")))
                    || ("opencl".equals(b.name()) && "1".equals(System.getenv("RNN4J_REQUIRE_OPENCL"))))
                fail(b.name() + " is required but unavailable: " + b.detail());
        }
        return out.stream();
    }

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    static void close(String what, float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            if (!(Math.abs(expected[i] - actual[i]) <= tol * (1 + Math.abs(expected[i]))))
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
    }

    @ParameterizedTest
    @MethodSource("backends")
    void handValues(String backend) {
        try (Device d = Device.open(backend); Tensor a = d.tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor b = d.tensor(new float[] {6, 5, 4, 3, 2, 1}, 2, 3)) {
            long live = d.backend().liveBuffers();
            try (Tensor s = a.add(b); Tensor m = a.sub(b); Tensor p = a.mul(b); Tensor k = a.scale(-0.5f);
                 Tensor s0 = a.sum(0); Tensor s1 = a.sum(1); Tensor m0 = a.mean(0); Tensor m1 = a.mean(1);
                 Tensor t = a.transpose(0, 1); Tensor e0 = a.expandDim(0, 2); Tensor e1 = a.expandDim(1, 2); Tensor e2 = a.expandDim(2, 2)) {
                assertArrayEquals(new float[] {7, 7, 7, 7, 7, 7}, s.toArray());
                assertArrayEquals(new float[] {-5, -3, -1, 1, 3, 5}, m.toArray());
                assertArrayEquals(new float[] {6, 10, 12, 12, 10, 6}, p.toArray());
                assertArrayEquals(new float[] {-0.5f, -1, -1.5f, -2, -2.5f, -3}, k.toArray());
                assertArrayEquals(new int[] {3}, s0.shape());
                assertArrayEquals(new float[] {5, 7, 9}, s0.toArray(), 1e-6f);
                assertArrayEquals(new float[] {6, 15}, s1.toArray(), 1e-6f);
                assertArrayEquals(new float[] {2.5f, 3.5f, 4.5f}, m0.toArray(), 1e-6f);
                assertArrayEquals(new float[] {2, 5}, m1.toArray(), 1e-6f);
                assertArrayEquals(new int[] {3, 2}, t.shape());
                assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, t.toArray());
                assertArrayEquals(new int[] {2, 2, 3}, e0.shape());
                assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, e0.toArray());
                assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, e1.toArray());
                assertArrayEquals(new int[] {2, 3, 2}, e2.shape());
                assertArrayEquals(new float[] {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}, e2.toArray());
                assertEquals(21.0, a.sumAll(), 1e-6);
                assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.toArray(), "inputs unchanged");
            }
            assertEquals(live, d.backend().liveBuffers(), "no buffer left open");
        }
    }

    /** Sums, means and transposes over every dimension of awkward shapes against plain Java loops and the reference backend. */
    @ParameterizedTest
    @MethodSource("backends")
    void reductionsAndTransposesMatchPlainJavaAndTheReference(String backend) {
        int[][] shapes = {{7}, {1, 9}, {5, 1}, {3, 4, 5}, {2, 3, 1, 4}, {2, 17, 3, 2}};
        try (Device d = Device.open(backend); Device ref = Device.reference()) {
            long seed = 1;
            for (int[] shape : shapes) {
                float[] data = random((int) Shapes.numel(shape), seed++);
                try (Tensor x = d.tensor(data, shape); Tensor xr = ref.tensor(data, shape)) {
                    for (int dim = 0; dim < shape.length; dim++) {
                        float[] want = sumOracle(data, shape, dim);
                        String what = "sum(" + dim + ") of " + Shapes.str(shape) + " on " + backend;
                        try (Tensor s = x.sum(dim); Tensor sr = xr.sum(dim); Tensor m = x.mean(dim)) {
                            close(what, want, s.toArray(), 1e-5);
                            close(what + " vs reference", sr.toArray(), s.toArray(), 1e-5);
                            float[] wantMean = want.clone();
                            for (int i = 0; i < wantMean.length; i++) wantMean[i] /= shape[dim];
                            close("mean" + what.substring(3), wantMean, m.toArray(), 1e-5);
                        }
                        for (int dim1 = 0; dim1 < shape.length; dim1++) {
                            try (Tensor t = x.transpose(dim, dim1); Tensor tr = xr.transpose(dim, dim1)) {
                                float[] wantT = transposeOracle(data, shape, dim, dim1);
                                assertArrayEquals(wantT, t.toArray(), "transpose(" + dim + ", " + dim1 + ") of " + Shapes.str(shape));
                                assertArrayEquals(tr.toArray(), t.toArray());
                                int[] ts = shape.clone();
                                ts[dim] = shape[dim1];
                                ts[dim1] = shape[dim];
                                assertArrayEquals(ts, t.shape());
                            }
                        }
                    }
                    float[] other = random(data.length, 100 + seed);
                    try (Tensor y = d.tensor(other, shape); Tensor yr = ref.tensor(other, shape);
                         Tensor s = x.add(y); Tensor sr = xr.add(yr); Tensor m = x.sub(y); Tensor mr = xr.sub(yr);
                         Tensor p = x.mul(y); Tensor pr = xr.mul(yr); Tensor k = x.scale(0.3f); Tensor kr = xr.scale(0.3f)) {
                        String where = " of " + Shapes.str(shape) + " on " + backend;
                        close("add" + where, sr.toArray(), s.toArray(), 1e-6);
                        close("sub" + where, mr.toArray(), m.toArray(), 1e-6);
                        close("mul" + where, pr.toArray(), p.toArray(), 1e-6);
                        close("scale" + where, kr.toArray(), k.toArray(), 1e-6);
                    }
                    for (int at = 0; at <= shape.length; at++)
                        try (Tensor e = x.expandDim(at, 3); Tensor er = xr.expandDim(at, 3)) {
                            assertArrayEquals(er.toArray(), e.toArray(), "expandDim(" + at + ", 3) of " + Shapes.str(shape));
                        }
                    double all = 0;
                    for (float v : data) all += v;
                    assertEquals(all, x.sumAll(), 1e-5 * (1 + Math.abs(all)));
                }
            }
            // a larger sum, whose column sums run over many rows
            float[] big = random(100_003, 99);
            double all = 0;
            for (float v : big) all += v;
            try (Tensor x = d.tensor(big, 100_003)) {
                assertEquals(all, x.sumAll(), 1e-3);
                try (Tensor s = x.sum(0)) { assertEquals(all, s.toArray()[0], 2e-2); }
            }
        }
    }

    static float[] sumOracle(float[] data, int[] shape, int dim) {
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        float[] out = new float[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++) {
                double s = 0;
                for (int k = 0; k < shape[dim]; k++) s += data[(o * shape[dim] + k) * inner + j];
                out[o * inner + j] = (float) s;
            }
        return out;
    }

    static float[] transposeOracle(float[] data, int[] shape, int d0, int d1) {
        int[] ts = shape.clone();
        ts[d0] = shape[d1];
        ts[d1] = shape[d0];
        float[] out = new float[data.length];
        int[] idx = new int[shape.length];
        for (int flat = 0; flat < data.length; flat++) {
            int rem = flat;
            for (int k = shape.length - 1; k >= 0; k--) {
                idx[k] = rem % shape[k];
                rem /= shape[k];
            }
            int[] tidx = idx.clone();
            tidx[d0] = idx[d1];
            tidx[d1] = idx[d0];
            int o = 0;
            for (int k = 0; k < ts.length; k++) o = o * ts[k] + tidx[k];
            out[o] = data[flat];
        }
        return out;
    }

    private static double dot(Tensor a, Tensor b) {
        float[] x = a.toArray(), y = b.toArray();
        double s = 0;
        for (int i = 0; i < x.length; i++) s += (double) x[i] * y[i];
        return s;
    }

    /** The backward rules of the Javadoc, as adjoints: &lt;op(x), g&gt; = &lt;x, backward(g)&gt; for the linear ops. */
    @ParameterizedTest
    @MethodSource("backends")
    void backwardRulesAreTheAdjoints(String backend) {
        int[] shape = {3, 4, 5};
        try (Device d = Device.open(backend); Tensor x = d.tensor(random(60, 5), shape)) {
            for (int dim = 0; dim < 3; dim++) {
                int n = shape[dim];
                try (Tensor s = x.sum(dim); Tensor g = d.tensor(random((int) s.numel(), 10 + dim), s.shape());
                     Tensor gx = g.expandDim(dim, n); Tensor m = x.mean(dim); Tensor gm = gx.scale(1f / n)) {
                    assertEquals(dot(s, g), dot(x, gx), 1e-4, "sum(" + dim + ")");
                    assertEquals(dot(m, g), dot(x, gm), 1e-4, "mean(" + dim + ")");
                }
                try (Tensor gx = d.tensor(random(60, 20 + dim), shape); Tensor back = gx.sum(dim); Tensor e = back.expandDim(dim, n)) {
                    // expandDim's backward is sum: <expand(y), g> = <y, sum(g)>
                    assertEquals(dot(e, gx), dot(back, back), 1e-3 * (1 + dot(back, back)));
                }
                for (int dim1 = 0; dim1 < 3; dim1++)
                    try (Tensor t = x.transpose(dim, dim1); Tensor g = d.tensor(random(60, 30 + dim1), t.shape()); Tensor gt = g.transpose(dim, dim1)) {
                        assertEquals(dot(t, g), dot(x, gt), 1e-4, "transpose(" + dim + ", " + dim1 + ")");
                    }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void emptyDimensionsAndBadArguments(String backend) {
        try (Device d = Device.open(backend); Tensor e = d.zeros(2, 0, 3); Tensor a = d.zeros(2, 3); Tensor b = d.zeros(3, 2)) {
            try (Tensor s = e.sum(1); Tensor m = e.mean(1); Tensor s0 = e.sum(0); Tensor t = e.transpose(0, 2)) {
                assertArrayEquals(new float[6], s.toArray());
                for (float v : m.toArray()) assertTrue(Float.isNaN(v), "the mean of nothing is NaN");
                assertArrayEquals(new int[] {0, 3}, s0.shape());
                assertArrayEquals(new int[] {3, 0, 2}, t.shape());
            }
            assertEquals(0.0, e.sumAll());
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(ex.getMessage().contains("[2, 3]") && ex.getMessage().contains("[3, 2]"), ex.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.mul(b));
            assertThrows(NullPointerException.class, () -> a.sub(null));
            assertThrows(IndexOutOfBoundsException.class, () -> a.sum(2));
            assertThrows(IndexOutOfBoundsException.class, () -> a.mean(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> a.transpose(0, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> a.expandDim(3, 2));
            assertThrows(IllegalArgumentException.class, () -> a.expandDim(0, -1));
            try (Device other = Device.reference(); Tensor c = other.zeros(2, 3)) {
                if (other != d) assertThrows(IllegalArgumentException.class, () -> a.add(c));
            }
        }
    }
}
