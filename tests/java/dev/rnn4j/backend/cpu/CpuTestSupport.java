package dev.rnn4j.backend.cpu;

import org.junit.jupiter.api.Assumptions;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The cpu backend shared by its tests. A test may skip only when OpenBLAS is not installed, and
 * then with the provider's documented reason; with {@code RNN4J_REQUIRE_CPU=1} in the
 * environment (CI, which installs OpenBLAS) that fails too.
 */
public final class CpuTestSupport {
    private CpuTestSupport() {}

    public static final String REQUIRE_ENV = "RNN4J_REQUIRE_CPU";

    private static CpuBackend shared;

    public static boolean required() { return "1".equals(System.getenv(REQUIRE_ENV)); }

    /** Skips the calling test if OpenBLAS is absent and not required; fails if it is required. */
    public static void assumeCpu() {
        String reason = CpuBackendProvider.unavailableReason();
        if (reason == null) return;
        assertTrue(reason.startsWith(OpenBlas.NOT_FOUND_PREFIX), reason);
        if (!required()) Assumptions.abort("cpu backend unavailable: " + reason);
        fail(REQUIRE_ENV + "=1 but the cpu backend is unavailable: " + reason);
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
