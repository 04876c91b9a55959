package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.SruCalls;
import dev.rnn4j.Device;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.reference.ReferenceBackend;
import dev.rnn4j.natives.CudaNative;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

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
            assertTrue(d.backend().description().startsWith("CUDA: "), d.backend().description());
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
        CudaBackend be = CudaTestSupport.backend();
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
            // token ids and targets outside the table are refused (in Java, and again in C)
            assertThrows(IndexOutOfBoundsException.class, () -> be.embeddingForward(new int[]{0, 4}, 0, 2, 2, mine, 0, mine, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> be.embeddingBackward(new int[]{-1}, 0, 1, 2, mine, 0, mine, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> be.logSoftmaxNll(2, 4, mine, 0, new int[]{1, 4}, 0, 1f, null, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> be.logSoftmaxNll(2, 4, mine, 0, new int[]{1}, 0, 1f, null, 0));
        }
        assertEquals(base, be.liveBuffers());
    }

    @Test
    void closingTheBackendReleasesEverything() {
        CudaTestSupport.assumeCuda();
        CudaBackend be = CudaBackendProvider.open();
        DeviceBuffer a = be.allocate(10), b = be.allocate(3);
        b.close();
        assertEquals(1, be.liveBuffers());
        be.close();
        be.close();
        assertEquals(0, be.liveBuffers());
        assertTrue(a.isClosed());
        a.close();
        assertThrows(IllegalStateException.class, () -> be.allocate(1));
        assertThrows(IllegalStateException.class, () -> be.fill(a, 0, 1, 0f));
        assertTrue(be.toString().contains("closed"));
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        CudaBackend be = CudaTestSupport.backend();
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
