package dev.rnn4j.backend;

import dev.rnn4j.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The reference GEMM is arranged for speed (op(B) as rows, row blocks, parallel blocks) but must
 * compute exactly the textbook sum: each element accumulated in double over l = 0..k-1 in order,
 * then alpha*s + beta*c rounded once. Checked bit for bit, on products large enough to run in
 * parallel, and with one and with several worker threads.
 */
class ReferenceGemmTest {
    private final Backend be = new ReferenceBackend();

    @AfterEach
    void noLeaks() {
        assertEquals(0, be.liveBuffers(), "buffers leaked");
        be.close();
    }

    private static float[] rand(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    private DeviceBuffer up(float[] a) {
        DeviceBuffer b = be.allocate(a.length);
        be.upload(a, 0, b, 0, a.length);
        return b;
    }

    @ParameterizedTest
    @CsvSource({"false,false,0", "false,true,0", "true,false,0", "true,true,0", "false,true,1", "true,false,-0.5"})
    void bitIdenticalToTheTextbookLoopWhateverTheThreads(boolean ta, boolean tb, float beta) throws Exception {
        SplittableRandom r = new SplittableRandom(7);
        int m = 150, n = 97, k = 61, batch = 2, pad = 3;   // m*n*k > the parallel threshold; ragged blocks
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        long sA = (long) (ta ? k : m) * lda, sB = (long) (tb ? n : k) * ldb, sC = (long) m * ldc;
        float[] a = rand(r, (int) (sA * batch)), b = rand(r, (int) (sB * batch)), c = rand(r, (int) (sC * batch));
        float alpha = 1.25f;

        float[] want = c.clone();
        for (int p = 0; p < batch; p++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int l = 0; l < k; l++) {
                        double av = ta ? a[(int) (p * sA + l * lda + i)] : a[(int) (p * sA + i * lda + l)];
                        double bv = tb ? b[(int) (p * sB + j * ldb + l)] : b[(int) (p * sB + l * ldb + j)];
                        s += av * bv;
                    }
                    int ci = (int) (p * sC + i * ldc + j);
                    double v = alpha * s;
                    if (beta != 0f) v += (double) beta * c[ci];
                    want[ci] = (float) v;
                }

        for (int threads : new int[] {1, 3}) {
            ForkJoinPool pool = new ForkJoinPool(threads);
            try (DeviceBuffer A = up(a); DeviceBuffer B = up(b); DeviceBuffer C = up(c)) {
                // A parallel stream started inside a pool's task runs in that pool.
                pool.submit(() -> be.gemm(ta, tb, m, n, k, alpha, A, 0, lda, B, 0, ldb, beta, C, 0, ldc, batch, sA, sB, sC)).get();
                float[] got = new float[c.length];
                be.download(C, 0, got, 0, got.length);
                for (int i = 0; i < got.length; i++)
                    if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i]))
                        fail(threads + " threads: element " + i + " is " + got[i] + ", the textbook loop gives " + want[i]);
            } finally {
                pool.shutdown();
            }
        }
    }
}
