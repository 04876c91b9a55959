package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.PrimitiveParityTests;

/**
 * Every cpu-backend primitive against the reference backend, as {@link CpuPrimitivesTest}, on a
 * cpu backend without the native kernels (the Java kernels' path, what a jar built without a C
 * compiler runs), in the same JVM; {@link CpuPrimitivesTest} runs the native path where the
 * library loads.
 */
class CpuJavaKernelsPrimitivesTest extends PrimitiveParityTests {
    private static CpuBackend shared;

    @Override
    protected synchronized CpuBackend backend() {
        CpuTestSupport.assumeCpu();
        if (shared == null) {
            shared = new CpuBackend(GemmKernels.choice().javaOnly());
            CpuBackend b = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(b::close, "rnn4j-cpu-java-test-close"));
        }
        return shared;
    }

    @Override
    protected String label() { return "cpu (Java kernels)"; }

    @Override
    protected String leakLabel() { return "cpu"; }
}
