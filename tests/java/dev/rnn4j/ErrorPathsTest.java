package dev.rnn4j;

import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.LSTMCell;
import dev.rnn4j.nn.Linear;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The error messages a user meets on misuse name what the user did, not internals. */
class ErrorPathsTest {
    @Test
    void crossDeviceErrorsTellTwoDevicesOfOneBackendApart() {
        try (Device a = Device.reference(); Device b = Device.reference();
             Tensor x = a.tensor(new float[] {1, 2}, 2); Tensor y = b.zeros(2);
             Linear lin = new Linear(b, 2, 1, false, 3)) {
            assertNotEquals(a.label(), b.label());
            var e = assertThrows(IllegalArgumentException.class, () -> y.copyFrom(x));
            assertTrue(e.getMessage().contains(a.label()) && e.getMessage().contains(b.label()), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class, () -> lin.forward(x));
            assertTrue(e2.getMessage().contains(a.label()) && e2.getMessage().contains(b.label()), e2.getMessage());
        }
    }

    @Test
    void overflowErrorNamesTheCallersInputNotATemporary() {
        try (Device d = Device.reference(); LSTM lstm = LSTM.builder(1, 1280).seed(1).build(d);
             Tensor x = d.zeros(20000, 64, 1)) {
            var e = assertThrows(IllegalArgumentException.class, () -> lstm.forward(x));
            assertTrue(e.getMessage().contains("[20000, 64, 1]"), e.getMessage());
            assertFalse(e.getMessage().contains("20001"), e.getMessage());
            assertTrue(e.getMessage().contains("LSTM(1, 1280)"), e.getMessage());
        }
    }

    @Test
    void saveErrorIntoAMissingDirectoryNamesTheRequestedPath(@TempDir Path dir) {
        Path target = dir.resolve("no-such-dir").resolve("model.safetensors");
        var e = assertThrows(IOException.class, () -> SafeTensors.write(target, Map.of("w", HostTensor.zeros(2))));
        assertTrue(e.getMessage().contains(target.toString()), e.getMessage());
        assertFalse(e.getMessage().contains(".tmp"), e.getMessage());
    }

    @Test
    void lstmNeedsH0AndC0Together() {
        try (Device d = Device.reference(); LSTM lstm = LSTM.builder(2, 3).seed(1).build(d);
             LSTMCell cell = LSTMCell.builder(2, 3).seed(1).build(d);
             Tensor x = d.zeros(4, 1, 2); Tensor h0 = d.zeros(1, 1, 3); Tensor c0 = d.zeros(1, 1, 3);
             Tensor xs = d.zeros(1, 2); Tensor h = d.zeros(1, 3)) {
            var e = assertThrows(IllegalArgumentException.class, () -> lstm.forward(x, h0, null));
            assertTrue(e.getMessage().contains("h0 and c0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> lstm.forward(x, null, c0));
            assertThrows(IllegalArgumentException.class, () -> cell.forward(xs, h, null));
            lstm.forward(x, h0, c0).close();
        }
    }

    @Test
    void seededLinearIsRepeatable() {
        try (Device d = Device.reference(); Linear a = new Linear(d, 3, 2, true, 42); Linear b = new Linear(d, 3, 2, true, 42);
             Linear c = new Linear(d, 3, 2, true, 43)) {
            assertEquals(a.stateDict(), b.stateDict());
            assertNotEquals(a.stateDict(), c.stateDict());
            assertArrayEquals(a.weight().value().toArray(), b.weight().value().toArray());
        }
    }
}
