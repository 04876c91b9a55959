package dev.rnn4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The cpu backend shared by its tests. The backend needs nothing installed, so it is always
 * available and its tests never skip. With {@code RNN4J_REQUIRE_CPU=1} in the environment (CI)
 * the fast vector kernels are required too: the build runs the tests with
 * {@code --add-modules jdk.incubator.vector}, and the plain-Java fallback there would mean that
 * the kernels the tests are meant to check are not the ones running.
 */
public final class CpuTestSupport {
    private CpuTestSupport() {}

    public static final String REQUIRE_ENV = "RNN4J_REQUIRE_CPU";

    private static CpuBackend shared;

    public static boolean required() { return "1".equals(System.getenv(REQUIRE_ENV)); }

    /** Never skips; fails where the vector kernels are required but the plain ones were picked. */
    public static void assumeCpu() {
        String reason = CpuBackendProvider.scalarReason();
        if (reason != null && required())
            fail(REQUIRE_ENV + "=1 but the cpu backend runs its plain-Java kernels: " + reason);
    }

    /** The shared backend (closed when the JVM exits). */
    public static synchronized CpuBackend backend() {
        assumeCpu();
        if (shared == null) {
            shared = CpuBackendProvider.open();
            CpuBackend b = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(b::close, "rnn4j-cpu-test-close"));
        }
        return shared;
    }
}
