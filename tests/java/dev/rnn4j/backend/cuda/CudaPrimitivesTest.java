package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.reference.ReferenceBackend;
import dev.rnn4j.natives.CudaNative;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every CUDA primitive against the reference backend on random data and awkward shapes: sizes
 * 1, 7, 37, 129 and more than one block or tile, non-zero offsets, leading dimensions wider than
 * the rows, every transpose combination, batches (also more than gridDim.z allows), matrices
 * taller than one launch covers, T = 1, B = 1, K = 3/4, one and two directions, every activation,
 * optional arguments absent and present. GEMM runs on both paths: cuBLAS (when installed) and
 * the rnn4j_gemm kernel. Skips only as {@link CudaTestSupport} allows.
 */
class CudaPrimitivesTest {
    private static final int[] SIZES = {1, 7, 37, 129, 1000, 4099};
    /** Tolerance of the float32 pointwise kernels against the double reference. */
    private static final double RTOL = 2e-5, ATOL = 2e-6;

    private static CudaBackend kernelGemm;
    private CudaBackend cuda;
    private Twins t;

    /** A second backend on the same GPU whose GEMM always runs the rnn4j_gemm kernel. */
    private static synchronized CudaBackend kernelGemmBackend() {
        CudaTestSupport.assumeCuda();
        if (kernelGemm == null) kernelGemm = CudaBackendProvider.open(CudaNative.NO_CUBLAS);
        return kernelGemm;
    }

    @AfterAll
    static void closeKernelGemm() {
        if (kernelGemm != null) kernelGemm.close();
    }

    @BeforeEach
    void setUp(TestInfo info) {
        cuda = CudaTestSupport.backend();
        t = new Twins(cuda, info.getDisplayName().hashCode());
    }

    @AfterEach
    void tearDown() {
        if (t != null) t.close();
    }

    // ---------------------------------------------------------------- memory

    @Test
    void copyFillAndTransfers() {
        for (int n : SIZES) {
            int off = n % 5, pad = 3;
            Twins.Pair src = t.rand(n + off + pad), dst = t.rand(n + 2 * pad);
            t.both(be -> be.copy(src.on(be), off, dst.on(be), pad, n));
            t.assertExact(dst, "copy n=" + n);
            t.both(be -> be.fill(dst.on(be), 1, n, -2.5f));
            t.assertExact(dst, "fill n=" + n);
            Twins.Pair same = t.rand(2 * n + 1);
            t.both(be -> be.copy(same.on(be), 0, same.on(be), n + 1, n));
            t.assertExact(same, "copy within one buffer n=" + n);
            float[] data = t.uniform(n + 4, 1f);
            t.both(be -> be.upload(data, 2, src.on(be), 1, n));
            t.assertExact(src, "upload n=" + n);
            float[] back = new float[n + 6];
            t.dut.download(src.d, 1, back, 3, n);
            for (int i = 0; i < n; i++) assertEquals(data[2 + i], back[3 + i]);
            assertEquals(0f, back[0]);
            t.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,129", "129,1", "7,37", "37,7", "16,16", "17,33", "200,65"})
    void copy2d(int rows, int cols) {
        int srcLd = cols + 3, dstLd = cols + 1;
        Twins.Pair src = t.rand(rows * srcLd + 5), dst = t.rand(rows * dstLd + 4);
        t.both(be -> be.copy2d(rows, cols, src.on(be), 2, srcLd, dst.on(be), 3, dstLd));
        t.assertExact(dst, "copy2d");
        Twins.Pair tight = t.rand(rows * cols);
        t.both(be -> be.copy2d(rows, cols, src.on(be), 0, srcLd, tight.on(be), 0, cols));
        t.assertExact(tight, "copy2d packed");
    }

    @Test
    void allocateIsZeroFilled() {
        for (int n : new int[]{0, 1, 37, 4099, 5_000_000}) {
            try (var b = t.dut.allocate(n)) {
                assertEquals(n, b.size());
                float[] a = new float[n];
                Arrays.fill(a, 9f);
                t.dut.download(b, 0, a, 0, n);
                for (float v : a) assertEquals(0f, v);
            }
        }
    }

    /** Transfers larger than the 16 MiB host staging piece go in several pieces, in order. */
    @Test
    void transfersLargerThanTheStagingPiece() {
        int n = (4 << 20) * 2 + 12345;
        float[] data = new float[n];
        for (int i = 0; i < n; i++) data[i] = i;
        try (var b = t.dut.allocate(n + 1)) {
            t.dut.upload(data, 0, b, 1, n);
            float[] back = new float[n + 1];
            t.dut.download(b, 0, back, 0, n + 1);
            assertEquals(0f, back[0]);
            for (int i = 0; i < n; i++) if (back[i + 1] != i) assertEquals((float) i, back[i + 1], "element " + i);
        }
    }

    /** Matrices taller than 65535 blocks of rows go in several launches (gridDim.y is limited). */
    @Test
    void tallMatricesSpanSeveralLaunches() {
        int rows = 65535 * 16 + 37, cols = 3;
        Twins.Pair src = t.rand(rows * (cols + 1)), dst = t.rand(rows * cols + 2), bias = t.rand(cols);
        t.both(be -> be.copy2d(rows, cols, src.on(be), 0, cols + 1, dst.on(be), 2, cols));
        t.assertExact(dst, "copy2d tall");
        t.both(be -> be.addRowVector(rows, cols, bias.on(be), 0, src.on(be), 1, cols + 1));
        t.assertExact(src, "addRowVector tall");
        // C taller than one launch: on the kernel path the slices start further down A and C
        for (Backend be : new Backend[]{t.dut, kernelGemmBackend()}) {
            gemmCase(be, false, false, rows, 2, 3, 1, 1f, 0f, 1, 2);
            gemmCase(be, true, false, rows, 2, 3, 1, -1f, 0.5f, 0, 1);
        }
    }

    // ---------------------------------------------------------------- GEMM

    private static final int[][] GEMM_SHAPES = {
            {1, 1, 1}, {1, 7, 37}, {7, 1, 129}, {37, 129, 1}, {129, 37, 7}, {129, 129, 129},
            {16, 16, 16}, {17, 15, 33}, {3, 200, 5}, {200, 3, 64}, {33, 65, 17}, {7, 37, 0},
            // from one 64 x 64 block up: rnn4j_gemm_blocked on the kernel path, with partial blocks
            {64, 64, 1}, {65, 130, 31}, {100, 64, 16}, {64, 129, 0}};

    @ParameterizedTest(name = "transA={0} transB={1} kernel={2}")
    @CsvSource({"false,false,false", "false,true,false", "true,false,false", "true,true,false",
                "false,false,true", "false,true,true", "true,false,true", "true,true,true"})
    void gemm(boolean ta, boolean tb, boolean kernel) {
        Backend be = kernel ? kernelGemmBackend() : t.dut;
        float[] alphas = {1f, -0.5f, 2.25f}, betas = {0f, 1f, -0.75f};
        int caseNo = 0;
        for (int[] s : GEMM_SHAPES) {
            for (int batch : new int[]{1, 3}) {
                int m = s[0], n = s[1], k = s[2];
                float alpha = alphas[caseNo % 3], beta = betas[(caseNo / 3 + caseNo) % 3];
                caseNo++;
                gemmCase(be, ta, tb, m, n, k, batch, alpha, beta, t.rnd.nextInt(4), t.rnd.nextInt(6));
            }
        }
    }

    /** GEMM on {@code be} (the shared backend or the kernel-GEMM one) against the reference. */
    private void gemmCase(Backend be, boolean ta, boolean tb, int m, int n, int k, int batch, float alpha, float beta,
                          int pad, int off) {
        String what = "gemm on " + (be == t.dut ? cuda.gemmPath() : "rnn4j_gemm kernel") + " ta=" + ta + " tb=" + tb
                + " m=" + m + " n=" + n + " k=" + k + " batch=" + batch + " alpha=" + alpha + " beta=" + beta
                + " pad=" + pad + " off=" + off;
        int rowsA = ta ? k : m, colsA = ta ? m : k, rowsB = tb ? n : k, colsB = tb ? k : n;
        int lda = colsA + pad, ldb = colsB + pad + 1, ldc = n + pad;
        // more than a row between the batches of C and after the last, so that a write past row m-1
        // or column n-1 lands where the comparison sees it
        long sA = (long) rowsA * lda + 2, sB = (long) rowsB * ldb + 1, sC = (long) (m + 1) * ldc + 3;
        int aOff = off, bOff = off + 1, cOff = 2 * off;
        float[] a = t.uniform((int) (aOff + batch * sA + 2), 1f), b = t.uniform((int) (bOff + batch * sB + 2), 1f);
        float[] c = t.uniform((int) (cOff + batch * sC + ldc + 2), 1f);
        if (beta == 0f) Arrays.fill(c, Float.NaN); // C must not be read
        float[] expected;
        try (ReferenceBackend r = new ReferenceBackend(); var A = r.allocate(a.length); var B = r.allocate(b.length);
             var C = r.allocate(c.length)) {
            r.upload(a, 0, A, 0, a.length);
            r.upload(b, 0, B, 0, b.length);
            r.upload(c, 0, C, 0, c.length);
            r.gemm(ta, tb, m, n, k, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc, batch, sA, sB, sC);
            expected = new float[c.length];
            r.download(C, 0, expected, 0, c.length);
        }
        float[] got = new float[c.length];
        try (var A = be.allocate(a.length); var B = be.allocate(b.length); var C = be.allocate(c.length)) {
            be.upload(a, 0, A, 0, a.length);
            be.upload(b, 0, B, 0, b.length);
            be.upload(c, 0, C, 0, c.length);
            be.gemm(ta, tb, m, n, k, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc, batch, sA, sB, sC);
            be.download(C, 0, got, 0, c.length);
        }
        // A float32 dot product of length k errs by at most about (k+1) eps sum|a||b| (+ the beta
        // term), whatever the summation order (cuBLAS may split k); 16x margin.
        double[] mag = gemmMagnitude(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, batch, sA, sB, sC);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) == Float.floatToRawIntBits(got[i])) continue;
            double err = Math.abs((double) expected[i] - got[i]), tol = 1e-6 * (k + 2) * mag[i];
            assertTrue(err <= tol, what + ": element " + i + ": reference " + expected[i] + ", cuda " + got[i]
                    + ", |diff| " + err + " > " + tol);
        }
    }

    /** The reference GEMM over |A|, |B|, |C| with |alpha|, |beta|: the scale of each element's rounding error. */
    private static double[] gemmMagnitude(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
                                          float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc,
                                          int batch, long sA, long sB, long sC) {
        try (ReferenceBackend r = new ReferenceBackend(); var A = r.allocate(a.length); var B = r.allocate(b.length);
             var C = r.allocate(c.length)) {
            r.upload(abs(a), 0, A, 0, a.length);
            r.upload(abs(b), 0, B, 0, b.length);
            r.upload(beta == 0f ? new float[c.length] : abs(c), 0, C, 0, c.length);
            r.gemm(ta, tb, m, n, k, Math.abs(alpha), A, aOff, lda, B, bOff, ldb, Math.abs(beta), C, cOff, ldc, batch, sA, sB, sC);
            float[] out = new float[c.length];
            r.download(C, 0, out, 0, c.length);
            double[] d = new double[out.length];
            for (int i = 0; i < d.length; i++) d[i] = out[i];
            return d;
        }
    }

    private static float[] abs(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < a.length; i++) o[i] = Math.abs(a[i]);
        return o;
    }

    @ParameterizedTest(name = "kernel={0}")
    @ValueSource(booleans = {false, true})
    void gemmLargerThanManyTilesAndManyBatches(boolean kernel) {
        Backend be = kernel ? kernelGemmBackend() : t.dut;
        gemmCase(be, false, true, 300, 170, 150, 2, 1f, 0f, 1, 3);
        gemmCase(be, true, false, 45, 50, 260, 2, -1f, 0.5f, 2, 0);
        gemmCase(be, false, false, 5, 6, 7, 70, 1f, 1f, 0, 1);
        // more batches than gridDim.z (65535): the kernel walks the rest in a loop
        gemmCase(be, false, false, 2, 3, 2, 70_000, 1f, 0.5f, 0, 0);
    }

    @ParameterizedTest(name = "kernel={0}")
    @ValueSource(booleans = {false, true})
    void gemmBetaZeroIgnoresNaNAndSharedOperands(boolean kernel) {
        Backend be = kernel ? kernelGemmBackend() : t.dut;
        // B shared by every batch (stride 0), as a layer does with one weight matrix
        int m = 7, n = 37, k = 5, batch = 3;
        float[] a = t.uniform(batch * m * k, 1f), b = t.uniform(k * n, 1f), c = new float[batch * m * n];
        Arrays.fill(c, Float.NaN);
        float[] expected = new float[c.length], got = new float[c.length];
        for (Backend x : new Backend[]{t.ref, be}) {
            try (var A = x.allocate(a.length); var B = x.allocate(b.length); var C = x.allocate(c.length)) {
                x.upload(a, 0, A, 0, a.length);
                x.upload(b, 0, B, 0, b.length);
                x.upload(c, 0, C, 0, c.length);
                x.gemm(false, false, m, n, k, 1f, A, 0, k, B, 0, n, 0f, C, 0, n, batch, (long) m * k, 0, (long) m * n);
                x.download(C, 0, x == t.ref ? expected : got, 0, c.length);
            }
        }
        for (int i = 0; i < c.length; i++) {
            assertTrue(Float.isFinite(got[i]), "element " + i + " is " + got[i]);
            assertEquals(expected[i], got[i], 1e-5 + 1e-5 * Math.abs(expected[i]), "element " + i);
        }
    }

    @Test
    void gemmDegenerateSizes() {
        Twins.Pair A = t.rand(20), B = t.rand(20), C = t.rand(20);
        // k == 0: C = beta * C
        t.both(be -> be.gemm(false, false, 3, 4, 0, 1f, A.on(be), 0, 1, B.on(be), 0, 4, 0.5f, C.on(be), 0, 4, 1, 0, 0, 0));
        t.assertClose(C, 1e-7, 0, "gemm k=0");
        float[] before = C.actual();
        t.dut.gemm(false, false, 0, 4, 3, 1f, A.d, 0, 3, B.d, 0, 4, 0f, C.d, 0, 4, 1, 0, 0, 0);
        t.dut.gemm(false, false, 3, 0, 3, 1f, A.d, 0, 3, B.d, 0, 4, 0f, C.d, 0, 4, 1, 0, 0, 0);
        t.dut.gemm(true, true, 3, 4, 3, 1f, A.d, 0, 3, B.d, 0, 4, 0f, C.d, 0, 4, 0, 0, 0, 0);
        assertTrue(Arrays.equals(before, C.actual()));
        // a leading dimension cuBLAS refuses (lda < k) runs the kernel instead: rows overlap
        Twins.Pair O = t.rand(20);
        t.both(be -> be.gemm(false, false, 3, 2, 3, 1f, A.on(be), 0, 2, B.on(be), 0, 2, 0f, O.on(be), 0, 2, 1, 0, 0, 0));
        t.assertClose(O, 1e-5, 1e-6, "gemm with lda < k");
    }

    @Test
    void gemmPathIsReported() {
        CudaBackend be = cuda;
        CudaBackendProvider.CublasSource c = CudaBackendProvider.cublas(CudaNative.get());
        assertEquals(c.found() && (CudaBackendProvider.flags() & CudaNative.NO_CUBLAS) == 0, be.usesCublas(), be.gemmPath());
        // the GPU bundle's run requires cuBLAS: there the kernel path would be a silent fallback
        if (CudaTestSupport.cublasRequired()) assertTrue(be.usesCublas(), CudaTestSupport.REQUIRE_CUBLAS_ENV + "=1: " + be.gemmPath());
        assertTrue(be.description().contains("; GEMM: " + be.gemmPath()), be.description());
        if (be.usesCublas()) assertTrue(be.gemmPath().matches("cuBLAS \\((.*/)?libcublas\\.so\\.1[23], FP32\\)"), be.gemmPath());
        else assertTrue(be.gemmPath().startsWith("rnn4j_gemm kernel ("), be.gemmPath());
        assertFalse(kernelGemmBackend().usesCublas());
        assertEquals("rnn4j_gemm kernel (cuBLAS disabled)", kernelGemmBackend().gemmPath());
    }

    @Test
    void tf32IsOnlyUsedWhenAskedFor() {
        try (CudaBackend tf32 = CudaBackendProvider.open(CudaNative.TF32)) {
            if (tf32.usesCublas()) assertTrue(tf32.gemmPath().endsWith(", TF32 tensor cores)"), tf32.gemmPath());
        }
        if (cuda.usesCublas()) assertTrue(cuda.gemmPath().endsWith(", FP32)"), cuda.gemmPath());
    }

    // ---------------------------------------------------------------- element-wise

    @Test
    void elementwise() {
        for (int n : SIZES) {
            int off = (n * 7) % 4;
            Twins.Pair x = t.rand(n + off), y = t.rand(n + 5), out = t.rand(n + 2);
            t.both(be -> be.axpy(n, -1.75f, x.on(be), off, y.on(be), 5));
            t.assertClose(y, 1e-6, 1e-7, "axpy n=" + n);
            t.both(be -> be.scale(n, 0.3f, x.on(be), off));
            t.assertExact(x, "scale n=" + n);
            t.both(be -> be.mul(n, x.on(be), off, y.on(be), 5, out.on(be), 1));
            t.assertExact(out, "mul n=" + n);
            t.both(be -> be.mul(n, out.on(be), 1, y.on(be), 5, out.on(be), 1));
            t.assertExact(out, "mul in place n=" + n);
            t.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,129", "129,1", "7,37", "37,7", "3,1000", "40,17"})
    void rowBroadcasts(int rows, int cols) {
        Twins.Pair x = t.rand(rows * cols + 3), m = t.rand(cols + 2), out = t.rand(rows * cols + 1);
        t.both(be -> be.mulRows(rows, cols, x.on(be), 3, m.on(be), 2, out.on(be), 1));
        t.assertExact(out, "mulRows");
        t.both(be -> be.mulRows(rows, cols, x.on(be), 3, m.on(be), 0, x.on(be), 3));
        t.assertExact(x, "mulRows in place");
        int ldc = cols + 4;
        Twins.Pair c = t.rand(rows * ldc + 2);
        t.both(be -> be.addRowVector(rows, cols, m.on(be), 1, c.on(be), 2, ldc));
        t.assertExact(c, "addRowVector");
    }

    // ---------------------------------------------------------------- reductions

    @ParameterizedTest
    @CsvSource({"1,1", "1,129", "129,1", "7,37", "37,7", "0,5", "1000,3", "33,200", "5000,17"})
    void sumRows(int rows, int cols) {
        int lda = cols + 2;
        float[] a = t.uniform(rows * lda + 4, 1f);
        Twins.Pair A = t.pair(a);
        double[] tol = new double[cols + 3];
        double[] colAbs = new double[cols];
        for (int r = 0; r < rows; r++) for (int j = 0; j < cols; j++) colAbs[j] += Math.abs(a[1 + r * lda + j]);
        for (float beta : new float[]{0f, 1f, -0.5f}) {
            float[] o = t.uniform(cols + 3, 1f);
            if (beta == 0f) Arrays.fill(o, Float.NaN);
            Twins.Pair out = t.pair(o);
            t.both(be -> be.sumRows(rows, cols, A.on(be), 1, lda, beta, out.on(be), 2));
            for (int j = 0; j < cols; j++) tol[2 + j] = 1e-6 * (rows + 2) * (colAbs[j] + (beta == 0 ? 0 : Math.abs(beta * o[2 + j])));
            t.assertWithin(out, tol, "sumRows beta=" + beta);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 37, 129, 255, 256, 257, 100_000, 1_000_003})
    void sumSquares(int n) {
        Twins.Pair x = t.rand(n + 3);
        double e = t.ref.sumSquares(n, x.r, 3), g = t.dut.sumSquares(n, x.d, 3);
        assertEquals(e, g, 1e-5 * e, "sumSquares n=" + n);
        assertEquals(0.0, t.dut.sumSquares(0, x.d, 0));
    }

    // ---------------------------------------------------------------- dropout

    @ParameterizedTest
    @CsvSource({"1,0.5,0", "37,0.1,1", "129,0.9,-1", "100003,0.3,81985529216486895", "4099,0,7", "4099,0.999,-9223372036854775808"})
    void dropoutMaskIsBitExact(int n, float p, long seed) {
        Twins.Pair out = t.rand(n + 4);
        t.both(be -> be.dropoutMask(n, p, seed, out.on(be), 3));
        t.assertExact(out, "dropoutMask n=" + n + " p=" + p + " seed=" + seed);
    }

    // ---------------------------------------------------------------- recurrent pointwise

    @ParameterizedTest
    @EnumSource(Activation.class)
    void rnnPointwise(Activation act) {
        for (int n : SIZES) {
            Twins.Pair pre = t.pair(t.uniform(n + 1, 3f)), out = t.rand(n + 2);
            t.both(be -> be.rnnPointwiseForward(act, n, pre.on(be), 1, out.on(be), 2));
            t.assertClose(out, RTOL, ATOL, "rnn forward " + act + " n=" + n);
            Twins.Pair hv = t.pair(out.expected()), dh = t.rand(n + 3), dpre = t.rand(n);
            t.both(be -> be.rnnPointwiseBackward(act, n, hv.on(be), 2, dh.on(be), 3, dpre.on(be), 0));
            t.assertClose(dpre, RTOL, ATOL, "rnn backward " + act + " n=" + n);
            t.both(be -> be.rnnPointwiseBackward(act, n, hv.on(be), 2, dh.on(be), 3, dh.on(be), 3));
            t.assertClose(dh, RTOL, ATOL, "rnn backward in place " + act + " n=" + n);
            t.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "3,37", "2,129", "5,1", "1,300"})
    void lstmPointwise(int batch, int hidden) {
        int n = batch * hidden;
        Twins.Pair gates = t.pair(t.uniform(4 * n + 2, 4f)), cPrev = t.pair(t.uniform(n + 1, 2f));
        Twins.Pair c = t.rand(n + 3), hh = t.rand(n);
        t.both(be -> be.lstmPointwiseForward(batch, hidden, gates.on(be), 2, cPrev.on(be), 1, c.on(be), 3, hh.on(be), 0));
        t.assertClose(gates, RTOL, ATOL, "lstm forward gates");
        t.assertClose(c, RTOL, ATOL, "lstm forward c");
        t.assertClose(hh, RTOL, ATOL, "lstm forward h");
        Twins.Pair g = t.pair(gates.expected()), cc = t.pair(c.expected()), dh = t.rand(n + 1), dcNext = t.rand(n + 2);
        for (boolean withDc : new boolean[]{false, true}) {
            Twins.Pair dGates = t.rand(4 * n + 1), dcPrev = t.rand(n + 2);
            t.both(be -> be.lstmPointwiseBackward(batch, hidden, g.on(be), 2, cPrev.on(be), 1, cc.on(be), 3, dh.on(be), 1,
                    withDc ? dcNext.on(be) : null, 2, dGates.on(be), 1, dcPrev.on(be), 0));
            t.assertClose(dGates, RTOL, ATOL, "lstm backward dGates dcNext=" + withDc);
            t.assertClose(dcPrev, RTOL, ATOL, "lstm backward dcPrev dcNext=" + withDc);
        }
        Twins.Pair dGates = t.rand(4 * n);
        t.both(be -> be.lstmPointwiseBackward(batch, hidden, g.on(be), 2, cPrev.on(be), 1, cc.on(be), 3, dh.on(be), 1,
                dcNext.on(be), 2, dGates.on(be), 0, dcNext.on(be), 2));
        t.assertClose(dcNext, RTOL, ATOL, "lstm backward dcPrev in place");
        t.assertClose(dGates, RTOL, ATOL, "lstm backward dGates (aliased dc)");
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "3,37", "2,129", "5,1", "1,300"})
    void gruPointwise(int batch, int hidden) {
        int n = batch * hidden;
        Twins.Pair gx = t.pair(t.uniform(3 * n + 1, 3f)), gh = t.pair(t.uniform(3 * n + 2, 3f)), hPrev = t.rand(n + 3);
        Twins.Pair out = t.rand(n + 1), saved = t.rand(4 * n + 2);
        t.both(be -> be.gruPointwiseForward(batch, hidden, gx.on(be), 1, gh.on(be), 2, hPrev.on(be), 3, out.on(be), 1,
                saved.on(be), 2));
        t.assertClose(out, RTOL, ATOL, "gru forward h");
        t.assertClose(saved, RTOL, ATOL, "gru forward saved");
        Twins.Pair s = t.pair(saved.expected()), dh = t.rand(n), dgx = t.rand(3 * n + 1), dgh = t.rand(3 * n + 2),
                dhp = t.rand(n + 1);
        t.both(be -> be.gruPointwiseBackward(batch, hidden, s.on(be), 2, hPrev.on(be), 3, dh.on(be), 0, dgx.on(be), 1,
                dgh.on(be), 2, dhp.on(be), 1));
        t.assertClose(dgx, RTOL, ATOL, "gru backward dgx");
        t.assertClose(dgh, RTOL, ATOL, "gru backward dgh");
        t.assertClose(dhp, RTOL, ATOL, "gru backward dhPrevPartial");
    }

    // ---------------------------------------------------------------- SRU

    /**
     * For each K, direction count and activation: hidden 1, 7, 37, 129, T = 1 and longer, B = 1
     * and more, and c0 / mask / dcLast each absent and present.
     */
    @ParameterizedTest(name = "k={0} dirs={1} act={2}")
    @CsvSource({"3,1,IDENTITY", "3,1,TANH", "3,1,RELU", "3,2,IDENTITY", "3,2,TANH", "3,2,RELU",
                "4,1,IDENTITY", "4,1,TANH", "4,1,RELU", "4,2,IDENTITY", "4,2,TANH", "4,2,RELU"})
    void sru(int k, int dirs, Activation act) {
        int[][] cases = { // seqLen, batch, hidden, flags (bit 0 c0, bit 1 mask, bit 2 dcLast)
                {1, 1, 1, 0}, {5, 3, 7, 7}, {23, 1, 37, 3}, {4, 2, 129, 4}, {2, 4, 37, 5}, {9, 2, 1, 2}};
        for (int[] cs : cases) sruCase(cs[0], cs[1], cs[2], dirs, k, act, (cs[3] & 1) != 0, (cs[3] & 2) != 0, (cs[3] & 4) != 0);
    }

    private void sruCase(int T, int B, int d, int dirs, int k, Activation act, boolean withC0, boolean withMask, boolean withDc) {
        String what = "sru T=" + T + " B=" + B + " d=" + d + " dirs=" + dirs + " k=" + k + " act=" + act
                + " c0=" + withC0 + " mask=" + withMask + " dcLast=" + withDc;
        int nc = dirs * d, state = B * nc, seq = T * state;
        int o1 = 1, o2 = 2, o3 = 3;
        Twins.Pair u = t.pair(t.uniform(seq * k + o1, 2f)), x = t.rand(seq + o2), bias = t.rand(2 * nc + o3);
        Twins.Pair c0 = t.rand(state + o1);
        float[] m = new float[state + o2];
        for (int i = 0; i < m.length; i++) m[i] = t.rnd.nextInt(4) == 0 ? 0f : 1.25f;
        Twins.Pair mask = t.pair(m);
        Twins.Pair hh = t.rand(seq + o3), c = t.rand(seq + o1), cLast = t.rand(state + o2);
        t.both(be -> be.sruForward(T, B, d, dirs, k, act, u.on(be), o1, k == 3 ? x.on(be) : null, o2, bias.on(be), o3,
                withC0 ? c0.on(be) : null, o1, withMask ? mask.on(be) : null, o2, hh.on(be), o3, c.on(be), o1, cLast.on(be), o2));
        double rtol = 1e-4, atol = 1e-5;
        t.assertClose(hh, rtol, atol, what + " h");
        t.assertClose(c, rtol, atol, what + " c");
        t.assertClose(cLast, rtol, atol, what + " cLast");

        Twins.Pair cs = t.pair(c.expected()), dh = t.rand(seq + o2), dcLast = t.rand(state + o3);
        Twins.Pair du = t.rand(seq * k + o1), dx = t.rand(seq + o2), dBias = t.rand(2 * state + o3), dc0 = t.rand(state);
        t.both(be -> be.sruBackward(T, B, d, dirs, k, act, u.on(be), o1, k == 3 ? x.on(be) : null, o2, bias.on(be), o3,
                withC0 ? c0.on(be) : null, o1, withMask ? mask.on(be) : null, o2, cs.on(be), o1, dh.on(be), o2,
                withDc ? dcLast.on(be) : null, o3, du.on(be), o1, k == 3 ? dx.on(be) : null, o2, dBias.on(be), o3, dc0.on(be), 0));
        t.assertClose(du, rtol, atol, what + " du");
        t.assertClose(dx, rtol, atol, what + " dx");
        t.assertClose(dBias, rtol, atol * T, what + " dBias");
        t.assertClose(dc0, rtol, atol, what + " dc0");
        t.release();
    }

    // ---------------------------------------------------------------- language-model primitives

    @ParameterizedTest
    @CsvSource({"1,1,1", "7,5,3", "37,129,10", "129,37,1000", "300,16,7", "5000,3,50000"})
    void embedding(int n, int dim, int vocab) {
        int[] ids = new int[n + 3];
        for (int i = 0; i < ids.length; i++) ids[i] = t.rnd.nextInt(vocab);   // repeats when n > vocab
        if (n > 2) ids[2 + n - 1] = ids[2];                                      // a repeated id in any case
        Twins.Pair w = t.rand(vocab * dim + 3), out = t.rand(n * dim + 2);
        t.both(be -> be.embeddingForward(ids, 2, n, dim, w.on(be), 3, out.on(be), 2));
        t.assertExact(out, "embeddingForward");
        Twins.Pair dOut = t.rand(n * dim + 1), dW = t.rand(vocab * dim + 2);
        t.both(be -> be.embeddingBackward(ids, 2, n, dim, dOut.on(be), 1, dW.on(be), 2));
        t.assertExact(dW, "embeddingBackward (the reference's summation order)");
    }

    /** More positions or distinct ids than one launch covers (65535 blocks of 8 rows): several launches. */
    @Test
    void embeddingBeyondOneLaunch() {
        int n = 65535 * 16 + 100, dim = 2, vocab = n + 7;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = (int) ((i * 7919L) % vocab);  // distinct ids, more than one slice
        ids[n - 1] = ids[0];
        Twins.Pair w = t.rand(vocab * dim), out = t.rand(n * dim);
        t.both(be -> be.embeddingForward(ids, 0, n, dim, w.on(be), 0, out.on(be), 0));
        t.assertExact(out, "embeddingForward");
        t.both(be -> be.embeddingBackward(ids, 0, n, dim, out.on(be), 0, w.on(be), 0));
        t.assertExact(w, "embeddingBackward");
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "7,37", "37,129", "3,1000", "20,10007", "129,2"})
    void logSoftmaxNll(int rows, int classes) {
        int[] targets = new int[rows + 1];
        for (int i = 0; i < targets.length; i++) targets[i] = t.rnd.nextInt(classes);
        Twins.Pair logits = t.pair(t.uniform(rows * classes + 2, 8f)), grad = t.rand(rows * classes + 1);
        double e = t.ref.logSoftmaxNll(rows, classes, logits.r, 2, targets, 1, 0.25f, grad.r, 1);
        double g = t.dut.logSoftmaxNll(rows, classes, logits.d, 2, targets, 1, 0.25f, grad.d, 1);
        double tol = 2e-6 * rows * (1 + Math.log(classes)) + 1e-6 * Math.abs(e);
        assertEquals(e, g, tol, "loss");
        // softmax - onehot loses digits near p = 1 in float32: a few ulp(1) * |gradScale| absolute
        t.assertClose(grad, 1e-5, 0.25 * 5e-7, "dLogits");
        t.assertExact(logits, "logits untouched");
        assertEquals(e, t.dut.logSoftmaxNll(rows, classes, logits.d, 2, targets, 1, 1f, null, 0), tol, "loss without gradient");
        t.both(be -> be.logSoftmaxNll(rows, classes, logits.on(be), 2, targets, 1, -1.5f, logits.on(be), 2));
        t.assertClose(logits, 1e-5, 1.5 * 5e-7, "dLogits in place");
    }

    // ---------------------------------------------------------------- zero sizes

    @Test
    void zeroSizesAreNoOps() {
        Twins.Pair a = t.rand(8), b = t.rand(8), c = t.rand(8);
        CudaBackend be = cuda;
        float[] before = c.actual();
        be.copy(a.d, 0, c.d, 0, 0);
        be.copy2d(0, 3, a.d, 0, 3, c.d, 0, 3);
        be.copy2d(3, 0, a.d, 0, 3, c.d, 0, 3);
        be.fill(c.d, 8, 0, 1f);
        be.axpy(0, 1f, a.d, 0, c.d, 0);
        be.scale(0, 2f, c.d, 0);
        be.mul(0, a.d, 0, b.d, 0, c.d, 0);
        be.mulRows(0, 4, a.d, 0, b.d, 0, c.d, 0);
        be.mulRows(4, 0, a.d, 0, b.d, 0, c.d, 0);
        be.addRowVector(0, 4, a.d, 0, c.d, 0, 4);
        be.addRowVector(4, 0, a.d, 0, c.d, 0, 4);
        be.sumRows(5, 0, a.d, 0, 0, 0f, c.d, 0);
        be.dropoutMask(0, 0.5f, 1, c.d, 0);
        be.rnnPointwiseForward(Activation.TANH, 0, a.d, 0, c.d, 0);
        be.rnnPointwiseBackward(Activation.TANH, 0, a.d, 0, b.d, 0, c.d, 0);
        be.lstmPointwiseForward(0, 3, a.d, 0, b.d, 0, c.d, 0, c.d, 0);
        be.lstmPointwiseBackward(3, 0, a.d, 0, b.d, 0, b.d, 0, b.d, 0, null, 0, c.d, 0, c.d, 0);
        be.gruPointwiseForward(0, 3, a.d, 0, a.d, 0, b.d, 0, c.d, 0, c.d, 0);
        be.gruPointwiseBackward(0, 3, a.d, 0, b.d, 0, b.d, 0, c.d, 0, c.d, 0, c.d, 0);
        be.sruForward(0, 1, 2, 1, 3, Activation.TANH, a.d, 0, a.d, 0, b.d, 0, null, 0, null, 0, c.d, 0, c.d, 0, a.d, 0);
        be.sruForward(3, 0, 2, 2, 4, Activation.TANH, a.d, 0, null, 0, b.d, 0, null, 0, null, 0, c.d, 0, c.d, 0, c.d, 0);
        be.sruBackward(2, 1, 0, 1, 3, Activation.RELU, a.d, 0, a.d, 0, b.d, 0, null, 0, null, 0, a.d, 0, a.d, 0, null, 0,
                c.d, 0, c.d, 0, c.d, 0, c.d, 0);
        assertTrue(Arrays.equals(before, c.actual()), "zero-size calls wrote something");
        assertEquals(0.0, be.sumSquares(0, a.d, 8));
        be.embeddingForward(new int[0], 0, 0, 4, a.d, 0, c.d, 0);
        be.embeddingForward(new int[]{1}, 0, 1, 0, a.d, 0, c.d, 0);
        be.embeddingBackward(new int[0], 0, 0, 4, a.d, 0, c.d, 0);
        assertEquals(0.0, be.logSoftmaxNll(0, 5, a.d, 0, new int[0], 0, 1f, c.d, 0));
        assertTrue(Arrays.equals(before, c.actual()), "zero-size language-model calls wrote something");
        // T == 0 still defines cLast = c0 (the walk is empty), as the reference does
        Twins.Pair c0 = t.rand(4), cl = t.rand(4);
        t.both(x -> x.sruForward(0, 2, 2, 1, 4, Activation.TANH, a.on(x), 0, null, 0, b.on(x), 0, c0.on(x), 0, null, 0,
                c.on(x), 0, c.on(x), 0, cl.on(x), 0));
        t.assertExact(cl, "sru T=0 cLast");
    }
}
