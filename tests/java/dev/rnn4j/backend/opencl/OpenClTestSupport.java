package dev.rnn4j.backend.opencl;

import org.junit.jupiter.api.Assumptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The OpenCL backend shared by the OpenCL tests (building the kernels once per test JVM).
 *
 * <p>A test may skip only when OpenCL is absent from the machine (no libOpenCL, no platform, or
 * no device), and then the reason must be exactly the provider's documented one. With
 * {@code RNN4J_REQUIRE_OPENCL=1} in the environment (CI, which installs PoCL) absence fails too.
 * Any other problem (JOCL natives, a build failure, a bad device selector) is a failure.
 */
public final class OpenClTestSupport {
    private OpenClTestSupport() {}

    public static final String REQUIRE_ENV = "RNN4J_REQUIRE_OPENCL";

    private static OpenClBackend shared;
    private static Throwable creationFailure;

    public static boolean required() { return "1".equals(System.getenv(REQUIRE_ENV)); }

    /** Skips the calling test if (and only if) OpenCL is absent and not required; fails on any other problem. */
    public static void assumeOpenCl() {
        OpenClBackendProvider.Probe p = OpenClBackendProvider.probeStatus();
        if (p.available()) return;
        if (p.status().absent()) {
            assertAbsenceReason(p);
            if (!required()) Assumptions.abort("OpenCL absent: " + p.detail());
            fail(REQUIRE_ENV + "=1 but OpenCL is absent: " + p.detail());
        }
        fail("OpenCL is present but unusable (" + p.status() + "): " + p.detail());
    }

    /** The reason for an absent OpenCL must be the documented one, word for word. */
    static void assertAbsenceReason(OpenClBackendProvider.Probe p) {
        switch (p.status()) {
            case NO_RUNTIME -> assertEquals(OpenClBackendProvider.NO_RUNTIME, p.detail());
            case NO_PLATFORM -> assertEquals(OpenClBackendProvider.NO_PLATFORM, p.detail());
            case NO_DEVICE -> assertTrue(p.detail().startsWith(OpenClBackendProvider.NO_DEVICE_PREFIX), p.detail());
            default -> fail("not an absence: " + p);
        }
    }

    /** The shared backend (created on first use, closed when the JVM exits); skips or fails as described above. */
    public static synchronized OpenClBackend backend() {
        assumeOpenCl();
        if (shared != null) return shared;
        if (creationFailure != null) fail("creating the OpenCL backend failed earlier", creationFailure);
        try {
            shared = OpenClBackendProvider.open();
        } catch (RuntimeException | Error e) {
            creationFailure = e;
            throw e;
        }
        OpenClBackend b = shared;
        Runtime.getRuntime().addShutdownHook(new Thread(b::close, "rnn4j-opencl-test-close"));
        return shared;
    }
}
