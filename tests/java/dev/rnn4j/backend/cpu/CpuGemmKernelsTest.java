package dev.rnn4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The cpu backend's GEMM kernels ({@link VectorGemm}, {@link JavaGemm}) against a double-precision
 * product, over shapes that reach every kernel and every edge: m = 1 (dot), m below, at and past
 * a panel, n not a multiple of the tile, k not a multiple of the vector, both transposes, offsets,
 * leading dimensions above the row length, alpha and beta; and the same product from many threads
 * at once, bitwise equal to one thread's.
 */
class CpuGemmKernelsTest {
    private static final int[][] SHAPES = {
            {1, 1, 1}, {1, 37, 5}, {1, 70, 33}, {2, 13, 17}, {3, 25, 16}, {5, 12, 31}, {16, 24, 64}, {17, 11, 3},
            {31, 65, 40}, {32, 36, 910}, {33, 130, 47}, {35, 50, 91}, {47, 67, 19}, {48, 64, 20}, {49, 129, 33},
            {64, 200, 70}, {97, 75, 29}, {130, 13, 257}
    };

    private static List<GemmKernels.Gemm> kernels() {
        List<GemmKernels.Gemm> ks = new ArrayList<>();
        ks.add(new JavaGemm());
        GemmKernels.Gemm chosen = GemmKernels.choice().gemm();
        if (!(chosen instanceof JavaGemm)) ks.add(chosen);
        else if (CpuTestSupport.required()) fail("the vector kernels were not picked: " + GemmKernels.choice().why());
        return ks;
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    @Test
    void everyShapeAndLayoutMatchesADoubleProduct() {
        SplittableRandom rnd = new SplittableRandom(5);
        int checked = 0;
        for (GemmKernels.Gemm g : kernels()) {
            for (int[] sh : SHAPES) {
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    int m = sh[0], n = sh[1], k = sh[2];
                    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                    int ao = 7, bo = 5, co = 3;
                    float[] A = random(rnd, ao + (ta ? k : m) * lda), B = random(rnd, bo + (tb ? n : k) * ldb);
                    float[] C = random(rnd, co + m * ldc);
                    float[] C0 = C.clone();
                    float alpha = t == 3 ? 0.5f : 1f, beta = t == 0 ? 0f : t == 1 ? 1f : -0.25f;
                    g.gemm(ta, tb, m, n, k, alpha, A, ao, lda, B, bo, ldb, beta, C, co, ldc);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            double s = 0;
                            for (int l = 0; l < k; l++)
                                s += (double) A[ao + (ta ? l * lda + i : i * lda + l)] * B[bo + (tb ? j * ldb + l : l * ldb + j)];
                            double want = alpha * s + (beta == 0f ? 0 : beta * (double) C0[co + i * ldc + j]);
                            float got = C[co + i * ldc + j];
                            assertEquals(want, got, 2e-6 * (k + 1) + 1e-6 * Math.abs(want),
                                    () -> g.describe() + " " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb);
                        }
                    // padding between rows of C untouched
                    for (int i = 0; i < m; i++)
                        for (int j = n; j < ldc && co + i * ldc + j < C.length; j++)
                            assertEquals(C0[co + i * ldc + j], C[co + i * ldc + j], "padding of C written");
                    assertEquals(C0[0], C[0]);
                    checked++;
                }
            }
        }
        assertTrue(checked >= SHAPES.length * 4);
    }

    @Test
    void betaZeroIgnoresNaNInC() {
        for (GemmKernels.Gemm g : kernels()) {
            for (int m : new int[]{1, 5, 40, 64}) {
                int n = 37, k = 20;
                float[] A = new float[m * k], B = new float[k * n], C = new float[m * n];
                java.util.Arrays.fill(A, 1f);
                java.util.Arrays.fill(B, 2f);
                java.util.Arrays.fill(C, Float.NaN);
                g.gemm(false, m == 1, m, n, k, 1f, A, 0, k, B, 0, m == 1 ? k : n, 0f, C, 0, n);
                for (float v : C) assertEquals(40f, v, g.describe() + " m=" + m);
            }
        }
    }

    /**
     * x W^T on the packed panels (the NN tiles: 6, 4 and 1 rows, rows past a tile's last read
     * row 0 and are not stored) is the NT kernel's arithmetic bit for bit at every row count,
     * and each row's result does not depend on how many rows share the call (m = 1 against the
     * first row of m = 2).
     */
    @Test
    void packedTilesEqualTheNtKernelBitForBitAtEveryRowCount() {
        if (!(GemmKernels.choice().gemm() instanceof VectorGemm g)) {
            if (CpuTestSupport.required()) fail("the vector kernels were not picked: " + GemmKernels.choice().why());
            return;
        }
        SplittableRandom rnd = new SplittableRandom(13);
        int n = 4 * VectorGemm.lanes() * 2 + 19, k = 37, ldc = n + 3, co = 2;
        float[] W = random(rnd, n * k);
        float[] P = VectorGemm.packTransposed(W, 0, k, n, k);
        for (int m = 1; m <= 19; m++) {
            for (float beta : new float[]{0f, 0.5f}) {
                float[] A = random(rnd, m * k), C0 = random(rnd, co + m * ldc);
                float[] got = C0.clone(), want = C0.clone();
                VectorGemm.productPacked(m, n, k, 0.75f, A, 0, k, P, beta, got, co, ldc);
                if (m > 1) {
                    g.gemm(false, true, m, n, k, 0.75f, A, 0, k, W, 0, k, beta, want, co, ldc);
                } else {
                    // one row: the first row of the same row twice through the NT kernel
                    float[] A2 = new float[2 * k], C2 = new float[2 * ldc];
                    System.arraycopy(A, 0, A2, 0, k);
                    System.arraycopy(A, 0, A2, k, k);
                    System.arraycopy(C0, co, C2, 0, ldc);
                    System.arraycopy(C0, co, C2, ldc, ldc);
                    g.gemm(false, true, 2, n, k, 0.75f, A2, 0, k, W, 0, k, beta, C2, 0, ldc);
                    System.arraycopy(C2, 0, want, co, n);
                }
                assertArrayEquals(want, got, "m=" + m + " beta=" + beta);
            }
        }
    }

    @Test
    void concurrentCallersGetBitwiseTheSingleThreadedResult() throws Exception {
        SplittableRandom rnd = new SplittableRandom(9);
        int[][] shapes = {{32, 3640 / 4, 910 / 4}, {1, 700, 300}, {96, 300, 200}};
        for (GemmKernels.Gemm g : kernels()) {
            for (int[] sh : shapes) {
                for (boolean tb : new boolean[]{true, false}) {
                    int m = sh[0], n = sh[1], k = sh[2];
                    float[] A = random(rnd, m * k), B = random(rnd, n * k);
                    float[] want = new float[m * n];
                    g.gemm(false, tb, m, n, k, 1f, A, 0, k, B, 0, tb ? k : n, 0f, want, 0, n);
                    ExecutorService ex = Executors.newFixedThreadPool(16);
                    try {
                        List<Future<float[]>> fs = new ArrayList<>();
                        for (int t = 0; t < 16; t++)
                            fs.add(ex.submit(() -> {
                                float[] c = new float[m * n];
                                for (int rep = 0; rep < 3; rep++)
                                    g.gemm(false, tb, m, n, k, 1f, A, 0, k, B, 0, tb ? k : n, 0f, c, 0, n);
                                return c;
                            }));
                        for (Future<float[]> f : fs) assertArrayEquals(want, f.get(60, TimeUnit.SECONDS), g.describe());
                    } finally {
                        ex.shutdownNow();
                    }
                }
            }
        }
    }
}
