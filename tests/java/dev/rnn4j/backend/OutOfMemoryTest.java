package dev.rnn4j.backend;

import dev.rnn4j.DeviceOutOfMemoryException;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.opencl.OpenClBackend;
import dev.rnn4j.nn.Linear;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Running out of device memory is a {@link DeviceOutOfMemoryException} naming the backend and
 * the request, never an {@link OutOfMemoryError} or a native failure, and the device works
 * normally afterwards.
 */
class OutOfMemoryTest {
    /** The largest tensor rnn4j allows, in bytes: more than the test JVM's heap and than PoCL's largest buffer. */
    static final long MAX_BYTES = Shapes.MAX_NUMEL * 4;

    @ParameterizedTest
    @ValueSource(strings = {"reference", "opencl"})
    void aTooLargeAllocationIsAClearExceptionAndTheDeviceStaysUsable(String backend) {
        if (backend.equals("reference"))
            Assumptions.assumeTrue(Runtime.getRuntime().maxMemory() < MAX_BYTES, "the heap could hold the largest tensor");
        try (Device dev = Outcomes.open(backend)) {
            float[] before = Outcomes.lstmOutput(dev);
            long base = dev.backend().liveBuffers();
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> dev.backend().allocate(Shapes.MAX_NUMEL));
            assertEquals(backend, e.backend());
            assertEquals(MAX_BYTES, e.requestedBytes());
            assertTrue(e.getMessage().startsWith(backend + ": out of device memory allocating " + MAX_BYTES + " bytes"), e.getMessage());
            // Through the public API: a tensor, and a layer whose weights do not fit.
            assertThrows(DeviceOutOfMemoryException.class, () -> dev.zeros(2, (int) (Shapes.MAX_NUMEL / 2)));
            assertThrows(DeviceOutOfMemoryException.class, () -> new Linear(dev, 1 << 16, (1 << 15) - 1, true));
            assertEquals(base, dev.backend().liveBuffers(), "a failed allocation leaves nothing behind");
            assertArrayEquals(before, Outcomes.lstmOutput(dev), "the device works as before");
        }
    }

    @Test
    void openClMemoryBudgetRunsOutAndRecovers() {
        String old = System.setProperty(OpenClBackend.MEMORY_LIMIT_PROPERTY, Long.toString(1 << 20));
        try (Device dev = Outcomes.open("opencl")) {
            OpenClBackend be = (OpenClBackend) dev.backend();
            List<Tensor> held = new ArrayList<>();
            DeviceOutOfMemoryException e = null;
            for (int i = 0; i < 100 && e == null; i++) {
                try {
                    held.add(dev.zeros(64, 1024));   // 256 KiB each; the fifth does not fit in 1 MiB
                } catch (DeviceOutOfMemoryException x) {
                    e = x;
                }
            }
            assertTrue(e != null, "the budget never ran out");
            assertEquals(4, held.size());
            assertTrue(e.getMessage().contains("already in use"), e.getMessage());
            assertEquals(4L << 18, be.allocatedBytes());
            held.remove(0).close();
            try (Tensor t = dev.zeros(64, 1024)) {            // freed memory can be used again
                t.fill(3f);
                assertEquals(3f, t.toArray()[65535]);
            }
            for (Tensor t : held) t.close();
            assertEquals(0, be.allocatedBytes());
            assertEquals(0, be.liveBuffers());
        } finally {
            if (old == null) System.clearProperty(OpenClBackend.MEMORY_LIMIT_PROPERTY);
            else System.setProperty(OpenClBackend.MEMORY_LIMIT_PROPERTY, old);
        }
    }
}
