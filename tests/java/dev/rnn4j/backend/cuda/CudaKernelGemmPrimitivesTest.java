package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.PrimitiveParityTests;
import dev.rnn4j.natives.CudaNative;
import org.junit.jupiter.api.AfterAll;

/**
 * The shared parity suite again on a CUDA backend opened with cuBLAS disabled, so that every GEMM
 * runs the rnn4j_gemm kernels (the fallback a machine without cuBLAS uses).
 */
class CudaKernelGemmPrimitivesTest extends PrimitiveParityTests {
    private static CudaBackend kernelGemm;

    static synchronized CudaBackend kernelGemmBackend() {
        CudaTestSupport.assumeCuda();
        if (kernelGemm == null) kernelGemm = CudaBackendProvider.open(CudaNative.NO_CUBLAS);
        return kernelGemm;
    }

    @AfterAll
    static synchronized void closeKernelGemm() {
        if (kernelGemm != null) kernelGemm.close();
        kernelGemm = null;
    }

    @Override
    protected Backend backend() { return kernelGemmBackend(); }

    @Override
    protected String label() { return "cuda (rnn4j_gemm kernel)"; }

    @Override
    protected String leakLabel() { return "CUDA"; }
}
