package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.PrimitiveParityTests;

/**
 * Every CUDA op against the reference backend through the shared parity suite
 * ({@link PrimitiveParityTests}), with GEMMs on the backend's own path (cuBLAS when found).
 * Skips only as {@link CudaTestSupport} allows.
 */
class CudaPrimitivesTest extends PrimitiveParityTests {
    @Override
    protected Backend backend() { return CudaTestSupport.backend(); }

    @Override
    protected String label() { return "cuda"; }

    @Override
    protected String leakLabel() { return "CUDA"; }
}
