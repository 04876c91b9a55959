package dev.rnn4j.backend.cuda;

import dev.rnn4j.natives.CudaNative;
import dev.rnn4j.natives.NativeLoader;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The CUDA backend shared by the CUDA tests, and the one rule for skipping them.
 *
 * <p>A GPU test may skip only when this machine has no CUDA driver (CUDA error 35) or no GPU
 * (error 100), with exactly the provider's reason for it; or when the build had no nvcc, which
 * the build's own record ({@code rnn4j-cuda-status.txt} in the CMake build directory) must
 * confirm. Anything else (the library missing from a build that made it, a symbol or ABI
 * mismatch, another CUDA error, a bad device property) is a failure. With
 * {@code RNN4J_REQUIRE_CUDA=1} in the environment (tools/gpu-validate.sh sets it) absence fails
 * too, so a GPU run cannot pass by skipping.
 */
public final class CudaTestSupport {
    private CudaTestSupport() {}

    public static final String REQUIRE_ENV = "RNN4J_REQUIRE_CUDA";

    private static CudaBackend shared;
    private static Throwable creationFailure;

    public static boolean required() { return "1".equals(System.getenv(REQUIRE_ENV)); }

    /** With this set to 1 (the GPU bundle's run.sh does), GEMM must run on cuBLAS. */
    public static final String REQUIRE_CUBLAS_ENV = "RNN4J_REQUIRE_CUBLAS";

    public static boolean cublasRequired() { return "1".equals(System.getenv(REQUIRE_CUBLAS_ENV)); }

    /**
     * Whether the build made librnn4j_cuda.so, from the status file CMake writes (the surefire
     * configuration passes its directory as rnn4j.native.build.dir); outside Maven, whether the
     * library is on the classpath.
     */
    public static boolean builtByThisBuild() {
        String dir = System.getProperty("rnn4j.native.build.dir");
        if (dir == null || dir.isBlank()) return NativeLoader.bundled(CudaNative.LIBRARY, null);
        Path status = Path.of(dir, "rnn4j-cuda-status.txt");
        try {
            String s = Files.readString(status).strip();
            if (s.equals("built")) return true;
            assertTrue(s.startsWith("not built: "), status + " says neither built nor not built: " + s);
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("the CMake build must write " + status, e);
        }
    }

    /** Skips the calling test if (and only if) CUDA is absent as described above and not required; fails otherwise. */
    public static void assumeCuda() {
        CudaBackendProvider.Probe p = CudaBackendProvider.probeStatus();
        if (p.available()) return;
        switch (p.status()) {
            case NO_DRIVER, NO_DEVICE -> {
                assertAbsenceReason(p);
                if (required()) fail(REQUIRE_ENV + "=1 but CUDA is absent: " + p.detail());
                Assumptions.abort("CUDA absent: " + p.detail());
            }
            case NOT_BUILT -> {
                if (builtByThisBuild()) fail("the build made librnn4j_cuda.so but it is not found: " + p.detail());
                assertEquals(CudaBackendProvider.NOT_BUILT, p.detail());
                if (required()) fail(REQUIRE_ENV + "=1 but this build has no CUDA library: " + p.detail());
                Assumptions.abort("CUDA library not built: " + p.detail());
            }
            default -> fail("CUDA is present but unusable (" + p.status() + "): " + p.detail());
        }
    }

    /** No driver is CUDA error 35 and no device error 100, each with the runtime's name, code and text. */
    public static void assertAbsenceReason(CudaBackendProvider.Probe p) {
        switch (p.status()) {
            case NO_DRIVER -> {
                assertEquals(35, p.cudaError());
                assertTrue(p.detail().startsWith(CudaBackendProvider.NO_DRIVER_PREFIX + "cudaErrorInsufficientDriver (35): "),
                        p.detail());
            }
            case NO_DEVICE -> {
                assertEquals(100, p.cudaError());
                assertTrue(p.detail().startsWith(CudaBackendProvider.NO_DEVICE_PREFIX + "cudaErrorNoDevice (100): "), p.detail());
            }
            default -> fail("not an absence of driver or device: " + p);
        }
    }

    /** The shared backend (created on first use, closed when the JVM exits); skips or fails as described above. */
    public static synchronized CudaBackend backend() {
        assumeCuda();
        if (shared != null) return shared;
        if (creationFailure != null) fail("creating the CUDA backend failed earlier", creationFailure);
        try {
            shared = CudaBackendProvider.open();
        } catch (RuntimeException | Error e) {
            creationFailure = e;
            throw e;
        }
        CudaBackend b = shared;
        Runtime.getRuntime().addShutdownHook(new Thread(b::close, "rnn4j-cuda-test-close"));
        return shared;
    }
}
