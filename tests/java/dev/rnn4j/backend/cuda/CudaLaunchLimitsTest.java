package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.TwinHarness;
import dev.rnn4j.natives.CudaNative;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only the CUDA backend has: work split over several launches or staging pieces (grid
 * limits, the host staging size), large zero-filled allocations, and the GEMM path it reports.
 * The ops' results are compared with the reference backend. Skips only as {@link CudaTestSupport} allows.
 */
class CudaLaunchLimitsTest {
    private CudaBackend cuda;
    private TwinHarness t;

    @BeforeEach
    void setUp(TestInfo info) {
        cuda = CudaTestSupport.backend();
        t = new TwinHarness(cuda, info.getDisplayName().hashCode(), "cuda", "CUDA");
    }

    @AfterEach
    void tearDown() {
        if (t != null) t.close();
    }

    @org.junit.jupiter.api.AfterAll
    static void closeKernelGemm() { CudaKernelGemmPrimitivesTest.closeKernelGemm(); }

    @Test
    void largeAllocationsAreZeroFilled() {
        for (int n : new int[]{0, 1, 4099, 5_000_000}) {
            try (var b = cuda.allocate(n)) {
                float[] a = new float[n];
                Arrays.fill(a, 9f);
                cuda.download(b, 0, a, 0, n);
                for (float v : a) assertEquals(0f, v);
            }
        }
    }

    /** Transfers larger than the host staging piece go in several pieces, in order. */
    @Test
    void transfersLargerThanTheStagingPiece() {
        int n = (4 << 20) * 2 + 12345;
        float[] data = new float[n];
        for (int i = 0; i < n; i++) data[i] = i;
        try (var b = cuda.allocate(n + 1)) {
            cuda.upload(data, 0, b, 1, n);
            float[] back = new float[n + 1];
            cuda.download(b, 0, back, 0, n + 1);
            assertEquals(0f, back[0]);
            for (int i = 0; i < n; i++) if (back[i + 1] != i) assertEquals((float) i, back[i + 1], "element " + i);
        }
    }

    /** Matrices taller than 65535 blocks of rows go in several launches (gridDim.y is limited), on both GEMM paths. */
    @Test
    void tallMatricesSpanSeveralLaunches() {
        int rows = 65535 * 16 + 37, cols = 3;
        TwinHarness.Twin src = t.rand(rows * (cols + 1)), dst = t.rand(rows * cols + 2), bias = t.rand(cols);
        t.both(be -> be.copy2d(rows, cols, src.on(be), 0, cols + 1, dst.on(be), 2, cols));
        t.assertExact(dst, "copy2d tall");
        t.both(be -> be.addRowVector(rows, cols, bias.on(be), 0, src.on(be), 1, cols + 1));
        t.assertExact(src, "addRowVector tall");
        TwinHarness.Twin a = t.rand(rows * 3), w = t.rand(3 * 2), c = t.rand(rows * 2);
        t.both(be -> be.gemm(false, false, rows, 2, 3, 1f, a.on(be), 0, 3, w.on(be), 0, 2, 0f, c.on(be), 0, 2, 1, 0, 0, 0));
        t.assertClose(c, 1e-5, 1e-5, "gemm tall (" + cuda.gemmPath() + ")");
        try (TwinHarness k = new TwinHarness(CudaKernelGemmPrimitivesTest.kernelGemmBackend(), 7, "cuda kernel gemm", "CUDA")) {
            TwinHarness.Twin ka = k.rand(rows * 3), kw = k.rand(3 * 2), kc = k.rand(rows * 2);
            k.both(be -> be.gemm(true, false, rows, 2, 3, -1f, ka.on(be), 0, rows, kw.on(be), 0, 2, 0.5f, kc.on(be), 0, 2, 1, 0, 0, 0));
            k.assertClose(kc, 1e-5, 1e-5, "gemm tall (rnn4j_gemm kernel)");
        }
    }

    /** More positions or distinct ids than one launch covers (65535 blocks of 8 rows): several launches. */
    @Test
    void embeddingBeyondOneLaunch() {
        int n = 65535 * 16 + 100, dim = 2, vocab = n + 7;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = (int) ((i * 7919L) % vocab);
        ids[n - 1] = ids[0];
        TwinHarness.Twin w = t.rand(vocab * dim), out = t.rand(n * dim);
        t.both(be -> be.embeddingForward(ids, 0, n, dim, w.on(be), 0, out.on(be), 0));
        t.assertExact(out, "embeddingForward");
        t.both(be -> be.embeddingBackward(ids, 0, n, dim, out.on(be), 0, w.on(be), 0));
        t.assertExact(w, "embeddingBackward");
    }

    @Test
    void gemmPathIsReported() {
        CudaBackendProvider.CublasSource c = CudaBackendProvider.cublas(CudaNative.get());
        assertEquals(c.found() && (CudaBackendProvider.flags() & CudaNative.NO_CUBLAS) == 0, cuda.usesCublas(), cuda.gemmPath());
        // the GPU bundle's run requires cuBLAS: there the kernel path would be a silent fallback
        if (CudaTestSupport.cublasRequired()) assertTrue(cuda.usesCublas(), CudaTestSupport.REQUIRE_CUBLAS_ENV + "=1: " + cuda.gemmPath());
        assertTrue(cuda.description().contains("; GEMM: " + cuda.gemmPath()), cuda.description());
        if (cuda.usesCublas()) assertTrue(cuda.gemmPath().matches("cuBLAS \\((.*/)?libcublas\\.so\\.1[23], FP32\\)"), cuda.gemmPath());
        else assertTrue(cuda.gemmPath().startsWith("rnn4j_gemm kernel ("), cuda.gemmPath());
        Backend kernel = CudaKernelGemmPrimitivesTest.kernelGemmBackend();
        assertFalse(((CudaBackend) kernel).usesCublas());
        assertEquals("rnn4j_gemm kernel (cuBLAS disabled)", ((CudaBackend) kernel).gemmPath());
    }

    @Test
    void tf32IsOnlyUsedWhenAskedFor() {
        try (CudaBackend tf32 = CudaBackendProvider.open(CudaNative.TF32)) {
            if (tf32.usesCublas()) assertTrue(tf32.gemmPath().endsWith(", TF32 tensor cores)"), tf32.gemmPath());
        }
        if (cuda.usesCublas()) assertTrue(cuda.gemmPath().endsWith(", FP32)"), cuda.gemmPath());
    }
}
