package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.PrimitiveParityTests;

/**
 * Every OpenCL primitive against the reference backend (the shared body is
 * {@link PrimitiveParityTests}); skips only where OpenCL is absent, and fails then under
 * {@code RNN4J_REQUIRE_OPENCL=1}.
 */
class OpenClPrimitivesTest extends PrimitiveParityTests {
    /** The backend under test (subclasses run everything again on a differently built one). */
    @Override
    protected OpenClBackend backend() { return OpenClTestSupport.backend(); }

    @Override
    protected String label() { return "opencl"; }

    @Override
    protected String leakLabel() { return "OpenCL"; }
}
