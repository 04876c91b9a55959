package dev.rnn4j.backend;

import dev.rnn4j.backend.reference.ReferenceBackend;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * What every device backend (OpenCL, CUDA) must do with its buffers and its lifecycle, checked
 * the same way for each: the backends' own test classes call these with their backend.
 */
public final class DeviceBackendContract {
    private DeviceBackendContract() {}

    /**
     * Buffers belong to their backend, close idempotently, and are refused once closed or when
     * foreign; out-of-range arguments are refused before anything reaches the device.
     */
    public static void buffersAreOwnedCheckedAndCloseIsIdempotent(Backend be) {
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
            // token ids and targets outside the table are refused
            assertThrows(IndexOutOfBoundsException.class, () -> be.embeddingForward(new int[]{0, 4}, 0, 2, 2, mine, 0, mine, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> be.embeddingBackward(new int[]{-1}, 0, 1, 2, mine, 0, mine, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> be.logSoftmaxNll(2, 4, mine, 0, new int[]{1, 4}, 0, 1f, null, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> be.logSoftmaxNll(2, 4, mine, 0, new int[]{1}, 0, 1f, null, 0));
        }
        assertEquals(base, be.liveBuffers());
    }

    /** Closing a fresh backend (twice) frees its open buffers and refuses further use. */
    public static void closingTheBackendReleasesEverything(Backend be) {
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

    /** Threads sharing the backend each get the results of their own calls. */
    public static void concurrentCallersGetTheirOwnResults(Backend be) throws Exception {
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
}
