package dev.rnn4j;

import dev.rnn4j.BackendUnavailableException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TensorTest {
    @Test
    void roundTripCopyAndClose() {
        try (Device dev = Device.reference()) {
            long base = dev.backend().liveBuffers();
            Tensor t = dev.tensor(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);
            assertArrayEquals(new int[]{2, 3}, t.shape());
            assertEquals(6, t.numel());
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, t.toArray());
            try (Tensor c = t.copy()) {
                t.fill(0f);
                assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, c.toArray());
                t.copyFrom(c);
            }
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, t.toHost().data());
            t.close();
            t.close();
            assertThrows(IllegalStateException.class, t::toArray);
            assertEquals(base, dev.backend().liveBuffers());
        }
    }

    @Test
    void badShapesAndData() {
        try (Device dev = Device.reference()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dev.tensor(new float[5], 2, 3));
            assertTrue(e.getMessage().contains("needs 6"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> dev.zeros(2, -1));
            assertThrows(IllegalArgumentException.class, () -> dev.zeros(65536, 65536));
            assertEquals(0, dev.backend().liveBuffers());
        }
    }

    @Test
    void deviceDiscovery() {
        var infos = Device.backends();
        assertEquals("reference", infos.get(0).name());
        assertTrue(infos.get(0).available());
        for (var i : infos) assertFalse(i.detail().isBlank(), "every backend says why: " + i);
        assertThrows(IllegalArgumentException.class, () -> Device.open("nope"));
        for (var i : infos)
            if (!i.available()) assertThrows(BackendUnavailableException.class, () -> Device.open(i.name()));
        Device d = Device.reference();
        d.close();
        d.close();
        assertThrows(IllegalStateException.class, () -> d.zeros(1));
    }
}
