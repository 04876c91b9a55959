package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.SruCalls;
import dev.rnn4j.Device;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Discovery, device selection, lifecycle, argument checking and the kernel sources of the OpenCL backend. */
class OpenClBackendTest {

    @Test
    void probeNeverThrowsAndIsListedByDevice() {
        OpenClBackendProvider.Probe p = OpenClBackendProvider.probeStatus();
        assertNotNull(p.detail());
        Device.BackendInfo info = Device.backends().stream().filter(b -> b.name().equals("opencl")).findFirst().orElseThrow();
        assertEquals(p.available(), info.available());
        assertEquals(p.detail(), info.detail());
        if (!p.available() && p.status().absent()) OpenClTestSupport.assertAbsenceReason(p);
    }

    @Test
    void requiredMeansAvailable() {
        // Under RNN4J_REQUIRE_OPENCL=1 (CI) the backend must really be there.
        if (OpenClTestSupport.required()) assertTrue(OpenClBackendProvider.probeStatus().available(),
                OpenClBackendProvider.probeStatus().toString());
        OpenClTestSupport.assumeOpenCl();
        assertFalse(OpenClBackendProvider.devices().isEmpty());
    }

    @Test
    void deviceOpensThroughTheRegistry() {
        OpenClTestSupport.assumeOpenCl();
        try (Device d = Device.open("opencl")) {
            assertEquals("opencl", d.name());
            assertTrue(d.backend().description().startsWith("OpenCL: "), d.backend().description());
            try (var t = d.tensor(new float[]{1, 2, 3}, 3)) {
                assertArrayEquals(new float[]{1, 2, 3}, t.toArray());
            }
        }
    }

    @Test
    void deviceSelectionProperty() {
        OpenClTestSupport.assumeOpenCl();
        String old = System.getProperty(OpenClBackendProvider.DEVICE_PROPERTY);
        try {
            System.setProperty(OpenClBackendProvider.DEVICE_PROPERTY, "0");
            assertTrue(OpenClBackendProvider.probeStatus().available());
            System.setProperty(OpenClBackendProvider.DEVICE_PROPERTY, "no-such-device-xyz");
            OpenClBackendProvider.Probe p = OpenClBackendProvider.probeStatus();
            assertEquals(OpenClBackendProvider.Status.ERROR, p.status());
            assertTrue(p.detail().contains("matches no OpenCL device"), p.detail());
            BackendUnavailableException e = assertThrows(BackendUnavailableException.class, OpenClBackendProvider::open);
            assertTrue(e.getMessage().contains("no-such-device-xyz"), e.getMessage());
            System.setProperty(OpenClBackendProvider.DEVICE_PROPERTY, "999");
            assertFalse(OpenClBackendProvider.probeStatus().available());
        } finally {
            if (old == null) System.clearProperty(OpenClBackendProvider.DEVICE_PROPERTY);
            else System.setProperty(OpenClBackendProvider.DEVICE_PROPERTY, old);
        }
    }

    /**
     * With the ICD loader pointed at an empty vendor directory there is no platform: the probe
     * must say exactly NO_PLATFORM (the one reason the tests may skip for). Runs in a child JVM.
     */
    @Test
    void noPlatformIsReportedAsAbsence() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux"),
                "OCL_ICD_VENDORS is an ocl-icd (Linux) setting");
        Path empty = Files.createTempDirectory("rnn4j-no-icd");
        try {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), ProbeMain.class.getName());
            pb.environment().put("OCL_ICD_VENDORS", empty.toString());
            pb.environment().remove("OCL_ICD_FILENAMES");
            pb.redirectErrorStream(true);
            Process proc = pb.start();
            String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(proc.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, proc.exitValue(), out);
            assertTrue(out.contains("status=NO_PLATFORM"), out);
            assertTrue(out.contains("detail=" + OpenClBackendProvider.NO_PLATFORM), out);
        } finally {
            Files.deleteIfExists(empty);
        }
    }

    /** Prints the probe; run in a child JVM by {@link #noPlatformIsReportedAsAbsence()}. */
    public static final class ProbeMain {
        public static void main(String[] args) {
            OpenClBackendProvider.Probe p = OpenClBackendProvider.probeStatus();
            System.out.println("status=" + p.status());
            System.out.println("detail=" + p.detail());
            System.out.println("reference=" + new dev.rnn4j.backend.reference.ReferenceBackendProvider().probe().available());
        }
    }

    @Test
    void buffersAreOwnedCheckedAndCloseIsIdempotent() {
        OpenClBackend be = OpenClTestSupport.backend();
        long base = be.liveBuffers();
        DeviceBuffer b = be.allocate(4);
        assertEquals(base + 1, be.liveBuffers());
        assertSame(be, b.backend());
        b.close();
        b.close();
        assertTrue(b.isClosed());
        assertEquals(base, be.liveBuffers());
        assertThrows(IllegalStateException.class, () -> be.fill(b, 0, 4, 1f));
        try (ReferenceBackend other = new ReferenceBackend(); DeviceBuffer foreign = other.allocate(2); DeviceBuffer mine = be.allocate(8)) {
            assertThrows(IllegalArgumentException.class, () -> be.copy(foreign, 0, mine, 0, 2));
            assertThrows(NullPointerException.class, () -> be.copy(null, 0, mine, 0, 2));
            // out-of-range arguments are refused before anything reaches the device
            assertThrows(IndexOutOfBoundsException.class, () -> be.fill(mine, 5, 4, 1f));
            assertThrows(IndexOutOfBoundsException.class, () -> be.fill(mine, -1, 2, 1f));
            assertThrows(IndexOutOfBoundsException.class, () -> be.upload(new float[3], 0, mine, 6, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> be.upload(new float[3], 1, mine, 0, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> be.download(mine, 0, new float[3], 0, 4));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> be.gemm(false, false, 3, 3, 3, 1f, mine, 0, 3, mine, 0, 3, 0f, mine, 0, 3, 1, 0, 0, 0));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> be.gemm(true, false, 2, 2, 2, 1f, mine, 0, 2, mine, 0, 2, 0f, mine, 0, 2, 3, 0, 0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> be.sumRows(3, 3, mine, 0, 3, 0f, mine, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> SruCalls.forward(be, 2, 1, 2, 1, 3, Activation.TANH,
                    mine, 0, mine, 0, mine, 0, null, 0, null, 0, mine, 0, mine, 0, mine, 0));
            assertThrows(IllegalArgumentException.class, () -> SruCalls.forward(be, 1, 1, 1, 1, 5, Activation.TANH,
                    mine, 0, mine, 0, mine, 0, null, 0, null, 0, mine, 0, mine, 0, mine, 0));
            assertThrows(IllegalArgumentException.class, () -> be.dropoutMask(2, 1f, 1, mine, 0));
            assertThrows(IllegalArgumentException.class, () -> be.dropoutMask(2, Float.NaN, 1, mine, 0));
        }
        assertEquals(base, be.liveBuffers());
    }

    @Test
    void closingTheBackendReleasesEverything() {
        OpenClTestSupport.assumeOpenCl();
        OpenClBackend be = OpenClBackendProvider.open();
        DeviceBuffer a = be.allocate(10), b = be.allocate(3);
        b.close();
        assertEquals(1, be.liveBuffers());
        be.close();
        be.close();
        assertEquals(0, be.liveBuffers());
        assertTrue(a.isClosed());
        a.close(); // still fine
        assertThrows(IllegalStateException.class, () -> be.allocate(1));
        assertThrows(IllegalStateException.class, () -> be.fill(a, 0, 1, 0f));
        assertTrue(be.toString().contains("closed"));
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        OpenClBackend be = OpenClTestSupport.backend();
        long base = be.liveBuffers();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> jobs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                final float v = t + 1;
                jobs.add(pool.submit(() -> {
                    for (int rep = 0; rep < 20; rep++) {
                        try (DeviceBuffer x = be.allocate(1000); DeviceBuffer y = be.allocate(1000)) {
                            be.fill(x, 0, 1000, v);
                            be.axpy(1000, 2f, x, 0, y, 0);
                            assertEquals(1000.0 * 4 * v * v, be.sumSquares(1000, y, 0), 1e-3);
                            float[] out = new float[1000];
                            be.download(y, 0, out, 0, 1000);
                            for (float o : out) assertEquals(2 * v, o);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : jobs) f.get(120, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertEquals(base, be.liveBuffers());
    }

    @Test
    void buildFailureCarriesTheBuildLog() {
        OpenClTestSupport.assumeOpenCl();
        // A source that cannot compile, built the way the backend builds its program.
        String bad = "__kernel void broken(__global float* x) { x[0] = undefined_name; }";
        OpenClException e = assertThrows(OpenClException.class, () -> OpenClBackend.buildForTest(bad));
        assertTrue(e.getMessage().contains("clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE"), e.getMessage());
        assertTrue(e.getMessage().contains("undefined_name"), e.getMessage());
        assertEquals(-11, e.errorCode());
    }

    @Test
    void clErrorsNameTheCallAndTheCode() {
        OpenClTestSupport.assumeOpenCl();
        OpenClException e = assertThrows(OpenClException.class, () -> Cl.check(-54, "clEnqueueNDRangeKernel(x)"));
        assertEquals("clEnqueueNDRangeKernel(x) failed: CL_INVALID_WORK_GROUP_SIZE (-54)", e.getMessage());
    }

    // ---------------------------------------------------------------- kernel sources

    private static Path kernelsDir() {
        Path p = Path.of("kernels");
        assertTrue(Files.isDirectory(p), "run from the repository root");
        return p;
    }

    @Test
    void everyKernelFileIsBuiltAndDocumented() throws IOException {
        List<String> onDisk;
        try (Stream<Path> s = Files.list(kernelsDir())) {
            onDisk = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cl")).sorted().toList();
        }
        assertEquals(onDisk, KernelSources.FILES.stream().sorted().toList(), "kernels/*.cl and KernelSources.FILES differ");
        for (String f : KernelSources.FILES) {
            String src = KernelSources.read(f);
            assertTrue(src.startsWith("/*\n * " + f + ":"), f + " must open with a comment naming the file and its op");
            String header = src.substring(0, src.indexOf("*/"));
            assertTrue(header.contains("ReferenceBackend."), f + ": header comment must name the reference method it matches");
            assertTrue(header.contains("Launch:"), f + ": header comment must give the launch shape");
            assertTrue(src.contains("#include \"rnn4j_compat.h\""), f + " must include the portability header");
            assertEquals(Files.readString(kernelsDir().resolve(f)), src, f + ": packaged copy differs from kernels/");
        }
        String program = KernelSources.program();
        assertTrue(program.lines().noneMatch(l -> l.strip().startsWith("#include")), "the host inlines the header");
    }
}
