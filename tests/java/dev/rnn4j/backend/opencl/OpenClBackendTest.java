package dev.rnn4j.backend.opencl;

import dev.rnn4j.Device;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBackendContract;
import dev.rnn4j.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
            assertTrue(DeviceAccess.backend(d).description().startsWith("OpenCL: "), DeviceAccess.backend(d).description());
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
        DeviceBackendContract.buffersAreOwnedCheckedAndCloseIsIdempotent(OpenClTestSupport.backend());
    }

    @Test
    void closingTheBackendReleasesEverything() {
        OpenClTestSupport.assumeOpenCl();
        DeviceBackendContract.closingTheBackendReleasesEverything(OpenClBackendProvider.open());
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        DeviceBackendContract.concurrentCallersGetTheirOwnResults(OpenClTestSupport.backend());
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
