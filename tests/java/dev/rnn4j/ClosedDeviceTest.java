package dev.rnn4j;

import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.SRU;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tensor or layer used after its device closed says that the device is closed, with the same
 * words on every backend: some backends free the tensors' buffers when the device closes
 * (opencl, cuda), others do not (reference, cpu), and the reason must not depend on that.
 */
class ClosedDeviceTest {
    @TestFactory
    Stream<DynamicTest> everyBackendSaysTheDeviceIsClosed() {
        return Device.backends().stream().filter(Device.BackendInfo::available)
                .map(b -> DynamicTest.dynamicTest(b.name(), () -> check(b.name())));
    }

    private static void check(String name) {
        Device d = Outcomes.open(name);
        Tensor t = d.tensor(new float[] {1, 2, 3}, 3);
        Tensor view = t.view(1, 3);
        Tensor x = d.tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 1, 3);
        LSTM lstm = LSTM.builder(3, 2).seed(1).build(d);
        SRU sru = SRU.builder(3, 2).build(d);
        Linear linear = new Linear(d, 3, 2, true, 1);
        d.close();
        String closed = "device " + name + " is closed";
        List<Executable> calls = List.of(t::toArray, () -> t.copyFrom(new float[3]), () -> t.fill(1), t::copy,
                view::toArray, () -> t.copyToHost(0, new float[3], 0, 3), () -> d.zeros(2));
        for (Executable call : calls) assertEquals(closed, assertThrows(IllegalStateException.class, call).getMessage());
        for (Executable call : List.<Executable>of(() -> lstm.forward(x), () -> sru.forward(x, null), () -> linear.forward(x.view(2, 3)))) {
            String m = assertThrows(IllegalStateException.class, call).getMessage();
            assertTrue(m.endsWith(closed), name + ": " + m);
        }
        // Closing what was left open is still fine, twice.
        for (int i = 0; i < 2; i++) {
            assertDoesNotThrow(view::close);
            assertDoesNotThrow(t::close);
            assertDoesNotThrow(x::close);
            assertDoesNotThrow(lstm::close);
            assertDoesNotThrow(sru::close);
            assertDoesNotThrow(linear::close);
        }
    }
}
