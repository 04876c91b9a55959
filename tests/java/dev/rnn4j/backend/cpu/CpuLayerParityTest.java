package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.LayerParityTests;

/**
 * Whole layers on the cpu backend against the same layers on the reference backend (the shared body
 * is {@link LayerParityTests}); never skips (the backend needs nothing installed), and fails
 * under {@code RNN4J_REQUIRE_CPU=1} if the plain-Java kernels ran instead of the vector ones.
 */
class CpuLayerParityTest extends LayerParityTests {
    @Override
    protected void assumeBackend() { CpuTestSupport.assumeCpu(); }

    @Override
    protected String deviceName() { return "cpu"; }

    @Override
    protected String leakLabel() { return "cpu"; }
}
