package dev.rnn4j.backend.cuda;

import dev.rnn4j.Device;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBackendContract;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.natives.CudaNative;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.*;

/** Discovery, the reasons for absence, device selection, lifecycle and argument checking of the CUDA backend. */
class CudaBackendTest {

    @Test
    void probeNeverThrowsAndIsListedByDevice() {
        CudaBackendProvider.Probe p = CudaBackendProvider.probeStatus();
        assertNotNull(p.detail());
        Device.BackendInfo info = Device.backends().stream().filter(b -> b.name().equals("cuda")).findFirst().orElseThrow();
        assertEquals(p.available(), info.available());
        assertEquals(p.detail(), info.detail());
    }

    /**
     * The library of this build loads, and the probe answers available or unavailable for exactly
     * "no driver" (35) or "no device" (100), with the runtime's own words. Without a GPU (CI) this
     * is the path that runs.
     */
    @Test
    void probeIsAvailableOrSaysExactlyNoDriverOrNoDevice() {
        if (CudaTestSupport.builtByThisBuild()) {
            assertTrue(CudaNative.loadFailure().isEmpty(), () -> "librnn4j_cuda.so does not load: " + CudaNative.loadFailure());
        }
        CudaBackendProvider.Probe p = CudaBackendProvider.probeStatus();
        switch (p.status()) {
            case AVAILABLE -> {
                assertEquals(0, p.cudaError());
                assertTrue(p.detail().matches(".+ \\(device \\d+ of \\d+, sm_\\d+, \\d+ SMs, .+\\); GEMM: .+"), p.detail());
            }
            case NO_DRIVER, NO_DEVICE -> {
                CudaTestSupport.assertAbsenceReason(p);
                CudaNative.RuntimeProbe r = CudaNative.get().probe();
                assertEquals(0, r.deviceCount());
                String prefix = p.status() == CudaBackendProvider.Status.NO_DRIVER
                        ? CudaBackendProvider.NO_DRIVER_PREFIX : CudaBackendProvider.NO_DEVICE_PREFIX;
                assertEquals(prefix + r.reason(), p.detail());
                assertEquals(r.cudaError() == 35
                        ? "cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version"
                        : "cudaErrorNoDevice (100): no CUDA-capable device is detected", r.reason());
            }
            case NOT_BUILT -> {
                assertFalse(CudaTestSupport.builtByThisBuild(), "built, yet reported as not built: " + p.detail());
                assertEquals("librnn4j_cuda.so not built (nvcc not found at build time)", p.detail());
            }
            default -> fail("CUDA probe is neither available nor a plain absence: " + p);
        }
    }

    @Test
    void requiredMeansAvailable() {
        if (CudaTestSupport.required())
            assertTrue(CudaBackendProvider.probeStatus().available(), CudaBackendProvider.probeStatus().toString());
        CudaTestSupport.assumeCuda();
        assertTrue(CudaNative.get().deviceCount() > 0);
    }

    @Test
    void openingWithoutCudaSaysWhy() {
        CudaBackendProvider.Probe p = CudaBackendProvider.probeStatus();
        if (p.available()) return;
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Device.open("cuda"));
        assertEquals("cuda: " + p.detail(), e.getMessage());
    }

    @Test
    void deviceOpensThroughTheRegistry() {
        CudaTestSupport.assumeCuda();
        try (Device d = Device.open("cuda")) {
            assertEquals("cuda", d.name());
            assertTrue(DeviceAccess.backend(d).description().startsWith("CUDA: "), DeviceAccess.backend(d).description());
            try (var t = d.tensor(new float[]{1, 2, 3}, 3)) {
                assertArrayEquals(new float[]{1, 2, 3}, t.toArray());
            }
        }
    }

    @Test
    void deviceSelectionProperty() {
        CudaTestSupport.assumeCuda();
        String old = System.getProperty(CudaBackendProvider.DEVICE_PROPERTY);
        try {
            System.setProperty(CudaBackendProvider.DEVICE_PROPERTY, "0");
            assertTrue(CudaBackendProvider.probeStatus().available());
            System.setProperty(CudaBackendProvider.DEVICE_PROPERTY, "gpu-zero");
            CudaBackendProvider.Probe p = CudaBackendProvider.probeStatus();
            assertEquals(CudaBackendProvider.Status.ERROR, p.status());
            assertTrue(p.detail().contains("is not a CUDA device number"), p.detail());
            System.setProperty(CudaBackendProvider.DEVICE_PROPERTY, "999");
            p = CudaBackendProvider.probeStatus();
            assertEquals(CudaBackendProvider.Status.ERROR, p.status());
            BackendUnavailableException e = assertThrows(BackendUnavailableException.class, CudaBackendProvider::open);
            assertTrue(e.getMessage().contains("=999 but there are"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(CudaBackendProvider.DEVICE_PROPERTY);
            else System.setProperty(CudaBackendProvider.DEVICE_PROPERTY, old);
        }
    }

    @Test
    void buffersAreOwnedCheckedAndCloseIsIdempotent() {
        DeviceBackendContract.buffersAreOwnedCheckedAndCloseIsIdempotent(CudaTestSupport.backend());
    }

    @Test
    void closingTheBackendReleasesEverything() {
        CudaTestSupport.assumeCuda();
        DeviceBackendContract.closingTheBackendReleasesEverything(CudaBackendProvider.open());
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        DeviceBackendContract.concurrentCallersGetTheirOwnResults(CudaTestSupport.backend());
    }

    /** Errors inside the library reach Java as exceptions naming the C function, with its message. */
    @Test
    void nativeValidationIsTheSafetyNet() {
        CudaBackend be = CudaTestSupport.backend();
        var lib = CudaNative.get();
        try (DeviceBuffer x = be.allocate(4)) {
            var h = ((CudaBackend.CudaBuffer) x).handle();
            var e = assertThrows(dev.rnn4j.natives.NativeCallException.class,
                    () -> lib.call("rnn4j_cuda_launch_fill", java.lang.foreign.MemorySegment.NULL, 4L, 1f, h, 0L));
            assertEquals("rnn4j_cuda_launch_fill failed (RNN4J_ERR_INVALID_ARGUMENT): rnn4j_cuda_launch_fill: device handle is NULL",
                    e.getMessage());
        }
    }
}
