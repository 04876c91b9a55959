package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.PrimitiveParityTests;

/**
 * Every cpu-backend primitive against the reference backend (the shared body is
 * {@link PrimitiveParityTests}); never skips (the backend needs nothing installed), and fails
 * under {@code RNN4J_REQUIRE_CPU=1} if the plain-Java kernels ran instead of the vector ones.
 */
class CpuPrimitivesTest extends PrimitiveParityTests {
    @Override
    protected CpuBackend backend() { return CpuTestSupport.backend(); }

    @Override
    protected String label() { return "cpu"; }

    @Override
    protected String leakLabel() { return "cpu"; }
}
