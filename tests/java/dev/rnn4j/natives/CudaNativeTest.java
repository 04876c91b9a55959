package dev.rnn4j.natives;

import dev.rnn4j.backend.cuda.CudaBackendProvider;
import dev.rnn4j.backend.cuda.CudaTestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * librnn4j_cuda.so through FFM without a GPU: it loads from the jar's resources, binds every
 * function rnn4j.h declares for it, turns bad arguments into exceptions that name the C
 * function, and a build without it reports "not built". Runs wherever the build made the
 * library (CI included); nothing here needs a GPU.
 */
class CudaNativeTest {

    @TempDir Path tmp;

    private static CudaNative lib() {
        assumeTrue(CudaTestSupport.builtByThisBuild(), "this build has no librnn4j_cuda.so (no nvcc)");
        return CudaNative.get();
    }

    @Test
    void loadsFromTheClasspathWhenTheBuildMadeIt() {
        if (!CudaTestSupport.builtByThisBuild()) {
            NativeLibraryException e = CudaNative.loadFailure().orElseThrow();
            assertTrue(CudaNative.isNotBuilt(e), e.getMessage());
            assertEquals("librnn4j_cuda.so not built (nvcc not found at build time)", e.getMessage());
            return;
        }
        CudaNative lib = CudaNative.get();
        assertTrue(Files.isRegularFile(lib.path()), lib.path().toString());
        assertTrue(lib.path().toString().endsWith(NativeLoader.platform() + "/" + NativeLoader.fileName(CudaNative.LIBRARY)),
                lib.path().toString());
        assertTrue(lib.source().startsWith("classpath"), lib.source());
        assertEquals(System.getProperty("rnn4j.project.version"), lib.version());
        assertEquals(CudaNative.ABI, lib.abiVersion());
        assertSame(lib, CudaNative.get());
    }

    /** Java binds exactly the rnn4j_cuda_* functions that rnn4j.h declares. */
    @Test
    void everyFunctionOfTheHeaderIsBound() throws IOException {
        Path header = Path.of("native", "include", "rnn4j.h");
        assertTrue(Files.isRegularFile(header), "run from the repository root");
        String text = Files.readString(header);
        Matcher m = Pattern.compile("RNN4J_API\\s+[^;]*?\\b(rnn4j_cuda_\\w+)\\s*\\(").matcher(text);
        Set<String> declared = new TreeSet<>();
        while (m.find()) declared.add(m.group(1));
        assertEquals(46, declared.size(), declared.toString());
        assertEquals(declared, new TreeSet<>(CudaNative.SYMBOLS.keySet()));
    }

    @Test
    void failedStatusBecomesAnExceptionNamingTheCall() {
        CudaNative lib = lib();
        int status = lib.abiVersion(MemorySegment.NULL);
        assertEquals(1, status);
        NativeCallException e = assertThrows(NativeCallException.class, () -> lib.check("rnn4j_cuda_abi_version", status));
        assertEquals("rnn4j_cuda_abi_version", e.call());
        assertEquals(1, e.status());
        assertEquals("rnn4j_cuda_abi_version failed (RNN4J_ERR_INVALID_ARGUMENT): rnn4j_cuda_abi_version: out is NULL",
                e.getMessage());
        assertEquals(1, lib.abiVersion());
        assertEquals("", lib.lastError());
    }

    /** The C library refuses bad arguments before CUDA sees them: these run without a GPU. */
    @Test
    void badArgumentsAreRefusedWithoutAGpu() {
        CudaNative lib = lib();
        MemorySegment nul = MemorySegment.NULL;
        assertInvalid(() -> lib.malloc(nul, 16), "rnn4j_cuda_malloc: device handle is NULL");
        assertInvalid(() -> lib.free(nul), "rnn4j_cuda_free: buffer buf is NULL");
        assertInvalid(() -> lib.deviceCreate(-1, 0), "rnn4j_cuda_device_create: device ordinal is negative (-1)");
        assertInvalid(() -> lib.deviceCreate(0, 64), "rnn4j_cuda_device_create: unknown flags 0x40");
        assertInvalid(() -> lib.deviceDestroy(nul), "rnn4j_cuda_device_destroy: device handle is NULL");
        assertInvalid(() -> lib.launchFill(nul, 4, 0f, nul, 0), "rnn4j_cuda_launch_fill: device handle is NULL");
        assertInvalid(() -> lib.gemm(nul, false, false, 1, 1, 1, 1f, nul, 0, 1, nul, 0, 1, 0f, nul, 0, 1, 1, 0, 0, 0),
                "rnn4j_cuda_gemm: device handle is NULL");
        assertInvalid(() -> lib.upload(nul, 0, nul, 4), "rnn4j_cuda_upload: buffer dst is NULL");
        assertInvalid(() -> lib.deviceProperties(-3), "rnn4j_cuda_device_properties: device ordinal is negative (-3)");
    }

    private static void assertInvalid(org.junit.jupiter.api.function.Executable call, String message) {
        NativeCallException e = assertThrows(NativeCallException.class, call);
        assertEquals(1, e.status(), e.getMessage());
        assertTrue(e.getMessage().endsWith("(RNN4J_ERR_INVALID_ARGUMENT): " + message), e.getMessage());
    }

    /** Without a GPU, CUDA's own error comes back as RNN4J_ERR_UNAVAILABLE with its name and code. */
    @Test
    void withoutAGpuCreatingADeviceIsUnavailable() {
        CudaNative lib = lib();
        CudaNative.RuntimeProbe r = lib.probe();
        assumeTrue(r.deviceCount() == 0, "this machine has a GPU");
        NativeCallException e = assertThrows(NativeCallException.class, () -> lib.deviceCreate(0, 0));
        assertEquals(2, e.status());
        assertEquals("rnn4j_cuda_device_create failed (RNN4J_ERR_UNAVAILABLE): rnn4j_cuda_device_create: "
                + "cudaGetDeviceCount failed: " + r.reason(), e.getMessage());
        NativeCallException c = assertThrows(NativeCallException.class, lib::deviceCount);
        assertEquals(2, c.status());
        CudaNative.Versions v = lib.versions();
        assertTrue(v.runtime() >= 12000, v.toString());
        assertEquals(0, v.driver());
    }

    @Test
    void cublasProbeNamesTheLibraryOrBothAttempts() {
        CudaNative.CublasProbe c = lib().cublasProbe();
        if (c.found()) assertTrue(c.description().matches("libcublas\\.so\\.1[23]"), c.description());
        else assertTrue(c.description().contains("libcublas.so.13") && c.description().contains("libcublas.so.12"), c.description());
    }

    @Test
    void explicitPathMayNameTheDirectoryOrTheCoreLibraryBesideIt() {
        CudaNative lib = lib();
        Path dir = lib.path().getParent();
        assertEquals(CudaNative.ABI, CudaNative.open(dir).abiVersion());
        // the property usually names librnn4j.so: the CUDA library is taken from beside it
        assertEquals(CudaNative.ABI, CudaNative.open(dir.resolve(NativeLoader.fileName())).abiVersion());
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> CudaNative.open(tmp));
        assertTrue(e.getMessage().startsWith("librnn4j_cuda.so not loaded (os "), e.getMessage());
        assertTrue(e.getMessage().contains(tmp.resolve("librnn4j_cuda.so") + ": no such file"), e.getMessage());
    }

    /**
     * A build without nvcc has no librnn4j_cuda.so in its resources: the backend must then say
     * exactly "not built". Runs a JVM on a copy of the classes without the CUDA library.
     */
    @Test
    void aBuildWithoutTheLibraryReportsNotBuilt() throws Exception {
        Path classes = Path.of(NativeLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assumeTrue(Files.isDirectory(classes), "classes come from a jar");
        Path copy = tmp.resolve("classes");
        try (Stream<Path> s = Files.walk(classes)) {
            for (Path p : s.toList()) {
                Path to = copy.resolve(classes.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(to);
                else if (!p.getFileName().toString().equals(NativeLoader.fileName(CudaNative.LIBRARY))) Files.copy(p, to);
            }
        }
        Path testClasses = Path.of(CudaNativeTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", copy + File.pathSeparator + testClasses, ProbeMain.class.getName());
        pb.redirectErrorStream(true);
        Process proc = pb.start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), out);
        assertTrue(out.contains("status=NOT_BUILT\n"), out);
        assertTrue(out.contains("detail=librnn4j_cuda.so not built (nvcc not found at build time)\n"), out);
        assertTrue(out.contains("core=loaded\n"), out);
    }

    /** Prints the CUDA probe; run in a child JVM by {@link #aBuildWithoutTheLibraryReportsNotBuilt()}. */
    public static final class ProbeMain {
        public static void main(String[] args) {
            CudaBackendProvider.Probe p = CudaBackendProvider.probeStatus();
            System.out.println("status=" + p.status());
            System.out.println("detail=" + p.detail());
            System.out.println("core=" + (NativeLib.loadFailure().isEmpty() ? "loaded" : "failed"));
        }
    }
}
