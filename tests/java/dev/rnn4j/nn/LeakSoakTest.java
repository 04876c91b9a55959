package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.opencl.OpenClBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thousands of forward/backward steps of every layer kind on every available backend: the
 * number of live device buffers (and, on OpenCL, of OpenCL objects) must not grow with the
 * steps, and must return to its baseline when the layer is closed. Closing twice is harmless.
 */
class LeakSoakTest {
    static final int STEPS = 1000;


    /** A layer kind: builds the module; one forward + backward on small inputs, closing everything it makes. */
    record Kind(Function<Device, Module> build, java.util.function.BiConsumer<Module, Device> step) {}

    static Map<String, Kind> kinds() {
        Map<String, Kind> k = new LinkedHashMap<>();
        k.put("RNN", new Kind(d -> RNN.builder(3, 4).numLayers(2).bidirectional(true).dropout(0.3).build(d), (m, d) -> {
            RNN r = (RNN) m;
            try (Tensor x = d.zeros(2, 1, 3); RecurrentOutput o = r.forward(x); Tensor g = d.zeros(o.output().shape());
                 RecurrentGrads gr = r.backward(o, g, null)) { gr.input(); }
        }));
        k.put("LSTM", new Kind(d -> LSTM.builder(3, 4).projSize(2).batchFirst(true).build(d), (m, d) -> {
            LSTM r = (LSTM) m;
            try (Tensor x = d.zeros(1, 2, 3); Tensor h0 = d.zeros(1, 1, 2); Tensor c0 = d.zeros(1, 1, 4);
                 RecurrentOutput o = r.forward(x, h0, c0); Tensor g = d.zeros(o.output().shape());
                 RecurrentGrads gr = r.backward(o, g, o.hN(), o.cN())) { gr.c0(); }
        }));
        k.put("GRU", new Kind(d -> GRU.builder(3, 4).build(d), (m, d) -> {
            GRU r = (GRU) m;
            try (Tensor x = d.zeros(2, 3); RecurrentOutput o = r.forward(x); RecurrentGrads gr = r.backward(o, null, o.hN())) { gr.h0(); }
        }));
        k.put("SRU", new Kind(d -> SRU.builder(3, 4).bidirectional(true).dropout(0.2).rnnDropout(0.2).build(d), (m, d) -> {
            SRU r = (SRU) m;
            try (Tensor x = d.zeros(2, 1, 3); Tensor c0 = d.zeros(2, 1, 8); RecurrentOutput o = r.forward(x, c0);
                 Tensor g = d.zeros(o.output().shape()); RecurrentGrads gr = r.backward(o, g, o.cN())) { gr.c0(); }
        }));
        k.put("SRUCell", new Kind(d -> SRUCell.builder(4, 4).build(d), (m, d) -> {
            SRUCell r = (SRUCell) m;
            try (Tensor x = d.zeros(2, 1, 4); RecurrentOutput o = r.forward(x, null);
                 Tensor g = d.zeros(o.output().shape()); RecurrentGrads gr = r.backward(o, g, null)) { gr.input(); }
        }));
        k.put("RNNCell", new Kind(d -> RNNCell.builder(3, 4).nonlinearity("relu").build(d), (m, d) -> {
            RNNCell r = (RNNCell) m;
            try (Tensor x = d.zeros(2, 3); CellOutput o = r.forward(x, null); CellGrads gr = r.backward(o, o.h())) { gr.h(); }
        }));
        k.put("LSTMCell", new Kind(d -> LSTMCell.builder(3, 4).build(d), (m, d) -> {
            LSTMCell r = (LSTMCell) m;
            try (Tensor x = d.zeros(3); CellOutput o = r.forward(x, null, null); CellGrads gr = r.backward(o, o.h(), o.c())) { gr.c(); }
        }));
        k.put("GRUCell", new Kind(d -> GRUCell.builder(3, 4).build(d), (m, d) -> {
            GRUCell r = (GRUCell) m;
            try (Tensor x = d.zeros(2, 3); Tensor h = d.zeros(2, 4); CellOutput o = r.forward(x, h); CellGrads gr = r.backward(o, null)) { gr.input(); }
        }));
        k.put("Linear", new Kind(d -> new Linear(d, 3, 4, true), (m, d) -> {
            Linear r = (Linear) m;
            try (Tensor x = d.zeros(2, 3); Tensor y = r.forward(x); Tensor dx = r.backward(x, y)) { dx.numel(); }
        }));
        k.put("Embedding", new Kind(d -> new Embedding(d, 5, 3), (m, d) -> {
            Embedding r = (Embedding) m;
            int[] ids = {0, 4, 4, 1};
            try (Tensor y = r.forward(ids, 2, 2)) { r.backward(ids, y); }
        }));
        k.put("Dropout", new Kind(d -> new Dropout(d, 0.5), (m, d) -> {
            Dropout r = (Dropout) m;
            try (Tensor x = d.zeros(3, 3); Dropout.Output o = r.forward(x); Tensor dx = r.backward(o, x)) { dx.numel(); }
        }));
        return k;
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    void thousandsOfStepsLeaveNothingBehind(String backend) {
        try (Device dev = Outcomes.open(backend)) {
            Backend be = DeviceAccess.backend(dev);
            long base = be.liveBuffers();
            for (var e : kinds().entrySet()) {
                Module m = e.getValue().build().apply(dev);
                e.getValue().step().accept(m, dev);            // first step allocates the parameter gradients
                long steady = be.liveBuffers(), objects = openClObjects(be);
                for (int i = 1; i < STEPS; i++) {
                    e.getValue().step().accept(m, dev);
                    if (i % 100 == 0) {
                        assertEquals(steady, be.liveBuffers(), e.getKey() + " on " + backend + ": live buffers after step " + i);
                        assertEquals(objects, openClObjects(be), e.getKey() + " on " + backend + ": OpenCL objects after step " + i);
                    }
                }
                m.close();
                m.close();
                assertEquals(base, be.liveBuffers(), e.getKey() + " on " + backend + ": buffers left after close");
            }
        }
    }

    @Test
    void openingAndClosingOpenClLeavesNoNativeResources() throws IOException {
        Outcomes.open("opencl").close();               // skips when OpenCL is absent; warms the kernel cache
        long fds = openFiles();
        for (int i = 0; i < 10; i++) {
            Device d = Device.open("opencl");
            OpenClBackend be = (OpenClBackend) DeviceAccess.backend(d);
            Tensor t = d.zeros(100);
            assertTrue(be.openClObjects() > 0);
            d.close();
            d.close();
            assertEquals(0, be.openClObjects());
            t.close();                                  // a tensor outliving its device closes quietly
        }
        assertTrue(openFiles() <= fds + 2, "open file descriptors grew from " + fds + " to " + openFiles());
    }

    private static long openClObjects(Backend be) { return be instanceof OpenClBackend o ? o.openClObjects() : 0; }

    private static long openFiles() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
