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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

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
        // in place from target/classes, or extracted to a temporary directory from a jar (the GPU bundle)
        String file = NativeLoader.fileName(CudaNative.LIBRARY);
        String end = lib.source().equals("classpath (extracted)") ? "/" + file : NativeLoader.platform() + "/" + file;
        assertTrue(lib.path().toString().endsWith(end), lib.path() + " from " + lib.source());
        assertTrue(lib.source().startsWith("classpath"), lib.source());
        assertEquals(System.getProperty("rnn4j.project.version"), lib.version());
        assertEquals(CudaNative.ABI, lib.abiVersion());
        assertSame(lib, CudaNative.get());
    }

    /**
     * The library's binding table, from which Java binds, lists exactly the status-returning
     * rnn4j_cuda_* functions that rnn4j.h declares (all but the table's own getter), each with the
     * signature its prototype spells (P pointer, I int, L int64_t, F float, D double).
     */
    @Test
    void theBindingTableIsTheHeader() throws IOException {
        Path header = Path.of("native", "include", "rnn4j.h");
        assertTrue(Files.isRegularFile(header), "run from the repository root");
        String text = Files.readString(header).replaceAll("(?s)/\\*.*?\\*/", "");
        Matcher m = Pattern.compile("RNN4J_API\\s+int\\s+(rnn4j_cuda_\\w+)\\s*\\(([^;]*?)\\)\\s*;").matcher(text);
        Map<String, String> declared = new LinkedHashMap<>();
        int elementwiseAt = text.indexOf("RNN4J_CUDA_ELEMENTWISE_OPS(RNN4J_CUDA_DECLARE_ELEMENTWISE");
        assertTrue(elementwiseAt > 0, "rnn4j.h declares the element-wise kernels from their table");
        boolean elementwiseDone = false;
        while (m.find()) {
            if (!elementwiseDone && m.start() > elementwiseAt) {
                declared.putAll(elementwiseTable());
                elementwiseDone = true;
            }
            if (m.group(1).equals("rnn4j_cuda_api")) continue;
            StringBuilder sig = new StringBuilder();
            for (String param : m.group(2).split(",")) {
                String type = param.strip().replaceAll("\\w+$", "").strip();
                sig.append(type.contains("*") ? 'P' : switch (type) {
                    case "int" -> 'I';
                    case "int64_t" -> 'L';
                    case "float" -> 'F';
                    case "double" -> 'D';
                    default -> throw new AssertionError("parameter type " + type + " of " + m.group(1));
                });
            }
            declared.put(m.group(1), sig.toString());
        }
        if (!elementwiseDone) declared.putAll(elementwiseTable());
        assertTrue(declared.size() >= 50, declared.toString());   // the parse found them all (44 + the element-wise ones)
        assertEquals(List.copyOf(declared.entrySet()), List.copyOf(lib().api().entrySet()));
    }

    /**
     * The prototypes that rnn4j_cuda_ops.h's element-wise table expands to, read from the table
     * itself: OP(ctx, name, (kind, x), ...) declares rnn4j_cuda_launch_name(dev, int64_t n, ...), an
     * f32 operand a float, an in or out operand a buffer and its int64_t offset.
     */
    private static Map<String, String> elementwiseTable() throws IOException {
        String text = Files.readString(Path.of("native", "include", "rnn4j_cuda_ops.h")).replaceAll("(?s)/\\*.*?\\*/", "");
        Matcher e = Pattern.compile("OP\\(ctx, (\\w+),((?:\\s*\\\\?\\s*\\((?:f32|in|out), \\w+\\),?)+)\\)").matcher(text);
        Map<String, String> m = new LinkedHashMap<>();
        while (e.find()) {
            StringBuilder sig = new StringBuilder("PL");
            Matcher op = Pattern.compile("\\((f32|in|out), \\w+\\)").matcher(e.group(2));
            while (op.find()) sig.append(op.group(1).equals("f32") ? "F" : "PL");
            m.put("rnn4j_cuda_launch_" + e.group(1), sig.toString());
        }
        assertTrue(m.size() >= 6, m.toString());   // copy, fill, axpy, scale, mul, adam_step at least
        return m;
    }

    /**
     * The message of a failure travels back in the failing downcall: many virtual threads fail at
     * once, each with its own message, and each gets its own, whichever OS thread carried it.
     */
    @Test
    void eachVirtualThreadGetsTheMessageOfItsOwnFailure() throws Exception {
        CudaNative lib = lib();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 1; i <= 2000; i++) {
                int ordinal = -i;
                results.add(ex.submit(() -> {
                    Thread.yield();
                    NativeCallException e = assertThrows(NativeCallException.class, () -> lib.deviceProperties(ordinal));
                    return e.getMessage();
                }));
            }
            for (int i = 1; i <= 2000; i++)
                assertEquals("rnn4j_cuda_device_properties failed (RNN4J_ERR_INVALID_ARGUMENT): "
                        + "rnn4j_cuda_device_properties: device ordinal is negative (-" + i + ")", results.get(i - 1).get());
        }
    }

    /** Candidates are tried in order and each failure is named; a file that is not cuBLAS does not load. */
    @Test
    void cublasLoadTriesTheCandidatesInOrder() throws IOException {
        CudaNative lib = lib();
        Path fake = Files.write(tmp.resolve("libcublas.so.13"), new byte[]{1, 2, 3});
        CudaNative.CublasProbe p = lib.cublasLoad(fake + "\n/nonexistent/libcublas.so.12");
        if (lib.cublasProbe().found()) {   // a machine with cuBLAS: it is already loaded and stays
            assertTrue(p.found());
            assertFalse(p.description().contains(fake.toString()), p.description());
            return;
        }
        assertFalse(p.found());
        assertTrue(p.description().startsWith(fake + ": "), p.description());
        assertTrue(p.description().contains("; /nonexistent/libcublas.so.12: "), p.description());
        assertInvalid(() -> lib.cublasLoad(""), "rnn4j_cuda_cublas_load: candidates is empty");
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
        assertEquals(CudaNative.ABI, lib.abiVersion());
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
        assertInvalid(() -> lib.call("rnn4j_cuda_launch_fill", nul, 4L, 0f, nul, 0L), "rnn4j_cuda_launch_fill: device handle is NULL");
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

    /**
     * Creating a device agrees with the probe: without a GPU, CUDA's own error comes back as
     * RNN4J_ERR_UNAVAILABLE with its name and code; with one, device 0 opens and the driver is there.
     */
    @Test
    void creatingADeviceAgreesWithTheProbe() {
        CudaNative lib = lib();
        CudaNative.RuntimeProbe r = lib.probe();
        if (r.deviceCount() > 0) {
            assertEquals(0, r.cudaError());
            assertEquals(r.deviceCount(), lib.deviceCount());
            MemorySegment d = lib.deviceCreate(0, 0);
            try {
                assertEquals(0, lib.deviceLiveBuffers(d));
            } finally {
                lib.deviceDestroy(d);
            }
            assertTrue(lib.versions().driver() > 0, lib.versions().toString());
            return;
        }
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
        // the soname, or the file the backend found elsewhere (e.g. PyTorch's copy) and loaded first
        if (c.found()) assertTrue(c.description().matches("(.*/)?libcublas\\.so\\.1[23]"), c.description());
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
     * exactly "not built". Runs a JVM on a copy of the classes (directory or jar) without the CUDA library.
     */
    @Test
    void aBuildWithoutTheLibraryReportsNotBuilt() throws Exception {
        Path classes = Path.of(NativeLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String cudaLib = NativeLoader.fileName(CudaNative.LIBRARY);
        Path copy;
        if (Files.isDirectory(classes)) {   // the Maven build: target/classes
            copy = tmp.resolve("classes");
            try (Stream<Path> s = Files.walk(classes)) {
                for (Path p : s.toList()) {
                    Path to = copy.resolve(classes.relativize(p).toString());
                    if (Files.isDirectory(p)) Files.createDirectories(to);
                    else if (!p.getFileName().toString().equals(cudaLib)) Files.copy(p, to);
                }
            }
        } else {                            // the jar (the GPU bundle runs the tests on it)
            copy = tmp.resolve("rnn4j-without-cuda.jar");
            int dropped = 0;
            try (ZipInputStream in = new ZipInputStream(Files.newInputStream(classes));
                 ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(copy))) {
                for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                    if (e.getName().endsWith("/" + cudaLib)) { dropped++; continue; }
                    out.putNextEntry(new ZipEntry(e.getName()));
                    in.transferTo(out);
                    out.closeEntry();
                }
            }
            assertEquals(1, dropped, "the jar " + classes + " must hold " + cudaLib + " once");
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
