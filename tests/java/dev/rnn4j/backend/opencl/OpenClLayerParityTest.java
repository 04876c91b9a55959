package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.LayerParityTests;

/**
 * Whole layers on OpenCL against the same layers on the reference backend (the shared body is
 * {@link LayerParityTests}); skips only where OpenCL is absent, and fails then under
 * {@code RNN4J_REQUIRE_OPENCL=1}.
 */
class OpenClLayerParityTest extends LayerParityTests {
    @Override
    protected void assumeBackend() { OpenClTestSupport.assumeOpenCl(); }

    @Override
    protected String deviceName() { return "opencl"; }

    @Override
    protected String leakLabel() { return "OpenCL"; }
}
