package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bad arguments fail before any backend call, with a message that names the argument and, for
 * shapes, gives the expected and the actual shape; nothing leaks on the way out.
 */
class SruValidationTest extends ReferenceDeviceTest {
    /** Asserts the exception type and that the message mentions every fragment; checks no buffer was left behind. */
    private <E extends Throwable> void fails(Class<E> type, Executable call, String... fragments) {
        long before = DeviceAccess.backend(dev).liveBuffers();
        E e = assertThrows(type, call);
        for (String f : fragments)
            assertTrue(e.getMessage() != null && e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
        assertEquals(before, DeviceAccess.backend(dev).liveBuffers(), "a failed call left buffers behind");
    }

    @Test
    void builderArguments() {
        fails(IllegalArgumentException.class, () -> SRUCell.builder(0, 3), "nIn");
        fails(IllegalArgumentException.class, () -> SRUCell.builder(3, 0), "nOut");
        fails(IllegalArgumentException.class, () -> SRUCell.builder(3, 3).dropout(1.0), "dropout", "[0, 1)");
        fails(IllegalArgumentException.class, () -> SRUCell.builder(3, 3).dropout(-0.1), "dropout");
        fails(IllegalArgumentException.class, () -> SRUCell.builder(3, 3).rnnDropout(Double.NaN), "rnnDropout");
        fails(NullPointerException.class, () -> SRUCell.builder(3, 3).build(null), "device");
        fails(IllegalArgumentException.class, () -> SRU.builder(0, 3), "inputSize");
        fails(IllegalArgumentException.class, () -> SRU.builder(3, -1), "hiddenSize");
        fails(IllegalArgumentException.class, () -> SRU.builder(3, 3).numLayers(0), "numLayers");
        fails(IllegalArgumentException.class, () -> SRU.builder(3, 3).rnnDropout(1.5), "rnnDropout");
        Device closed = Device.reference();
        closed.close();
        assertThrows(IllegalStateException.class, () -> SRUCell.builder(3, 3).build(closed));
    }

    @Test
    void cellForwardArguments() {
        try (SRUCell cell = SRUCell.builder(4, 3).bidirectional(true).build(dev);
             Tensor x = dev.zeros(5, 2, 4);
             Tensor flat = dev.zeros(10, 4);
             Tensor wide = dev.zeros(5, 2, 5);
             Tensor empty = dev.zeros(0, 2, 4);
             Tensor c0Bad = dev.zeros(2, 3);
             Tensor c0Batch = dev.zeros(3, 6);
             Device other = Device.reference();
             Tensor foreign = other.zeros(5, 2, 4)) {
            fails(NullPointerException.class, () -> cell.forward(null, null), "input");
            fails(IllegalArgumentException.class, () -> cell.forward(flat, null), "input", "(T, B, 4)", "[10, 4]");
            fails(IllegalArgumentException.class, () -> cell.forward(wide, null), "input", "(T, B, 4)", "[5, 2, 5]");
            fails(IllegalArgumentException.class, () -> cell.forward(empty, null), "input", "T, B >= 1", "[0, 2, 4]");
            fails(IllegalArgumentException.class, () -> cell.forward(x, c0Bad), "c0", "[2, 6]", "[2, 3]");
            fails(IllegalArgumentException.class, () -> cell.forward(x, c0Batch), "c0", "[2, 6]", "[3, 6]");
            fails(IllegalArgumentException.class, () -> cell.forward(foreign, null), "input", "device");
            Tensor gone = dev.zeros(5, 2, 4);
            gone.close();
            fails(IllegalStateException.class, () -> cell.forward(gone, null), "input", "closed");
        }
        SRUCell closed = SRUCell.builder(2, 2).build(dev);
        closed.close();
        try (Tensor x = dev.zeros(1, 1, 2)) {
            fails(IllegalStateException.class, () -> closed.forward(x, null), "SRUCell", "closed");
        }
    }

    @Test
    void cellBackwardArguments() {
        try (SRUCell cell = SRUCell.builder(3, 3).build(dev);
             SRUCell otherCell = SRUCell.builder(3, 3).build(dev);
             Tensor x = dev.zeros(4, 2, 3);
             Tensor g = dev.zeros(4, 2, 3);
             Tensor gBad = dev.zeros(4, 3, 3);
             Tensor gcBad = dev.zeros(2, 4);
             RecurrentOutput o = cell.forward(x, null);
             RecurrentOutput theirs = otherCell.forward(x, null)) {
            fails(NullPointerException.class, () -> cell.backward(null, g, null), "out");
            fails(IllegalArgumentException.class, () -> cell.backward(theirs, g, null), "out", "not produced");
            fails(NullPointerException.class, () -> cell.backward(o, null, null), "gradOutput");
            fails(IllegalArgumentException.class, () -> cell.backward(o, gBad, null), "gradOutput", "[4, 2, 3]", "[4, 3, 3]");
            fails(IllegalArgumentException.class, () -> cell.backward(o, g, gcBad), "gradCLast", "[2, 3]", "[2, 4]");
            try (SRU sru = SRU.builder(3, 3).numLayers(1).build(dev); RecurrentOutput so = sru.forward(x, null)) {
                fails(IllegalArgumentException.class, () -> cell.backward(so, g, null), "out", "not produced");
            }
        }
        // The output was closed, or the borrowed input was closed before backward.
        try (SRUCell cell = SRUCell.builder(3, 3).build(dev); Tensor g = dev.zeros(1, 1, 3)) {
            Tensor x = dev.zeros(1, 1, 3);
            RecurrentOutput o = cell.forward(x, null);
            x.close();
            fails(IllegalStateException.class, () -> cell.backward(o, g, null), "input", "closed");
            o.close();
            fails(IllegalStateException.class, () -> cell.backward(o, g, null), "closed");
        }
    }

    @Test
    void moduleArguments() {
        try (SRU sru = SRU.builder(3, 2).numLayers(2).bidirectional(true).build(dev);
             Tensor x = dev.zeros(4, 2, 3);
             Tensor xBad = dev.zeros(4, 2, 4);
             Tensor c0Bad = dev.zeros(1, 2, 4);
             Tensor g = dev.zeros(4, 2, 4);
             Tensor gBad = dev.zeros(4, 2, 3);
             Tensor gcBad = dev.zeros(2, 2, 3)) {
            fails(NullPointerException.class, () -> sru.forward(null, null), "input");
            fails(IllegalArgumentException.class, () -> sru.forward(xBad, null), "input", "(T, B, 3)", "[4, 2, 4]");
            fails(IllegalArgumentException.class, () -> sru.forward(x, c0Bad), "c0", "[2, 2, 4]", "[1, 2, 4]");
            try (RecurrentOutput o = sru.forward(x, null)) {
                fails(IllegalArgumentException.class, () -> sru.backward(o, gBad, null), "gradOutput", "[4, 2, 4]", "[4, 2, 3]");
                fails(IllegalArgumentException.class, () -> sru.backward(o, g, gcBad), "gradCn", "[2, 2, 4]", "[2, 2, 3]");
                fails(NullPointerException.class, () -> sru.backward(null, g, null), "out");
                try (RecurrentOutput cellOut = sru.layers().get(0).forward(x, null)) {
                    fails(IllegalArgumentException.class, () -> sru.backward(cellOut, g, null), "out", "not produced");
                }
            }
        }
    }
}
