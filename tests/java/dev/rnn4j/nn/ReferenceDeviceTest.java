package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Fixture of the SRU tests: a fresh reference device for every test, and after it the check
 * that the test left no device buffer behind.
 */
abstract class ReferenceDeviceTest {
    protected Device dev;
    /** Buffers live on {@link #dev} when the test started. */
    protected long baseline;

    @BeforeEach
    void openDevice() {
        dev = Device.reference();
        baseline = DeviceAccess.backend(dev).liveBuffers();
    }

    @AfterEach
    void closeDevice() {
        assertEquals(baseline, DeviceAccess.backend(dev).liveBuffers(), "buffers leaked");
        dev.close();
    }
}
