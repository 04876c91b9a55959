package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.rnn4j.nn.TestSupport.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every RNN / LSTM / GRU / cell conformance vector: load the stored parameters by name, run
 * forward and backward from the stored inputs and upstream gradients, and compare every stored
 * result and gradient within the file's tolerances. Runs on every backend this machine has
 * (the layer code is the same; only the primitives differ).
 */
class ConformanceTest {
    static Device dev;
    private static final Map<String, Device> DEVICES = new java.util.HashMap<>();

    @BeforeAll
    static void open() { dev = Device.reference(); }

    @AfterAll
    static void close() {
        dev.close();
        DEVICES.values().forEach(Device::close);
    }

    static Stream<Arguments> cases() throws IOException {
        List<String> backends = Device.backends().stream().filter(Device.BackendInfo::available).map(Device.BackendInfo::name).toList();
        return files().flatMap(p -> backends.stream().map(b -> Arguments.of(b, p)));
    }

    static Stream<Path> files() throws IOException {
        try (Stream<Path> s = Files.list(ConformanceFile.dir())) {
            return s.filter(p -> {
                        String n = p.getFileName().toString();
                        return n.endsWith(".safetensors")
                                && (n.startsWith("rnn_") || n.startsWith("lstm_") || n.startsWith("gru_") || n.contains("cell"));
                    })
                    .sorted().toList().stream();
        }
    }

    @Test
    void everyRecurrentCaseIsFound() throws IOException {
        // 7 RNN + 6 LSTM + 4 GRU + 6 cell cases ship with the repository; a silent empty run would hide everything.
        assertEquals(23, files().count());
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void matchesStoredResults(String backend, Path path) throws IOException {
        ConformanceFile f = ConformanceFile.read(path);
        Device dev = DEVICES.computeIfAbsent(backend, Device::open);
        long before = dev.backend().liveBuffers();
        String mode = f.stringConfig("mode");
        if (mode.contains("Cell")) runCell(dev, f);
        else runModule(dev, f);
        assertEquals(before, dev.backend().liveBuffers(), "device buffers leaked");
    }

    private static void runModule(Device dev, ConformanceFile f) {
        String mode = f.stringConfig("mode");
        int in = f.intConfig("input_size"), hid = f.intConfig("hidden_size");
        RNNBase m = switch (mode) {
            case "RNN_TANH", "RNN_RELU" -> configure(RNN.builder(in, hid).nonlinearity(mode.equals("RNN_RELU") ? "relu" : "tanh"), f).build(dev);
            case "GRU" -> configure(GRU.builder(in, hid), f).build(dev);
            case "LSTM" -> configure(LSTM.builder(in, hid).projSize(f.intConfig("proj_size")), f).build(dev);
            default -> throw new AssertionError("unexpected mode " + mode);
        };
        boolean lstm = mode.equals("LSTM");
        double fr = f.tolerance("forward", "rtol"), fa = f.tolerance("forward", "atol");
        double gr = f.tolerance("grad", "rtol"), ga = f.tolerance("grad", "atol");
        List<Tensor> owned = new ArrayList<>();
        try (m) {
            m.loadStateDict(f.parameters());   // strict: also proves our names and shapes are PyTorch's
            Tensor x = own(dev, owned, f.get("input"));
            Tensor h0 = f.has("h0") ? own(dev, owned, f.get("h0")) : null;
            Tensor c0 = f.has("c0") ? own(dev, owned, f.get("c0")) : null;
            try (RecurrentOutput out = TestSupport.forward(m, x, h0, c0)) {
                assertClose(f + " output", f.get("output"), out.output(), fr, fa);
                assertClose(f + " h_n", f.get("h_n"), out.hN(), fr, fa);
                if (lstm) assertClose(f + " c_n", f.get("c_n"), out.cN(), fr, fa);
                Tensor gOut = own(dev, owned, f.get("grad_output")), gHn = own(dev, owned, f.get("grad_h_n"));
                Tensor gCn = lstm ? own(dev, owned, f.get("grad_c_n")) : null;
                try (RecurrentGrads g = TestSupport.backward(m, out, gOut, gHn, gCn)) {
                    assertClose(f + " grad_input", f.get("grad_input"), g.input(), gr, ga);
                    if (f.boolConfig("has_h0")) {
                        assertClose(f + " grad_h0", f.get("grad_h0"), g.h0(), gr, ga);
                        if (lstm) assertClose(f + " grad_c0", f.get("grad_c0"), g.c0(), gr, ga);
                    }
                }
                checkParameterGrads(f, m, gr, ga);
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    private static <B extends RNNBase.Builder<B>> B configure(B b, ConformanceFile f) {
        return b.numLayers(f.intConfig("num_layers")).bias(f.boolConfig("bias")).batchFirst(f.boolConfig("batch_first"))
                .bidirectional(f.boolConfig("bidirectional")).seed(1);
    }

    private static void checkParameterGrads(ConformanceFile f, Module m, double gr, double ga) {
        Map<String, Parameter> params = m.namedParameters();
        assertEquals(f.parameters().keySet(), params.keySet(), "parameter names");
        for (var e : params.entrySet())
            assertClose(f + " grad." + e.getKey(), f.get("grad." + e.getKey()), e.getValue().grad(), gr, ga);
    }

    /** Steps the cell over the stored (T, B, I) input and back, as the file's cell_stepping describes. */
    private static void runCell(Device dev, ConformanceFile f) {
        String mode = f.stringConfig("mode");
        int in = f.intConfig("input_size"), hid = f.intConfig("hidden_size");
        boolean bias = f.boolConfig("bias");
        RNNCellBase cell = switch (mode) {
            case "RNNCell_TANH", "RNNCell_RELU" ->
                    RNNCell.builder(in, hid).bias(bias).nonlinearity(mode.endsWith("RELU") ? "relu" : "tanh").build(dev);
            case "LSTMCell" -> LSTMCell.builder(in, hid).bias(bias).build(dev);
            case "GRUCell" -> GRUCell.builder(in, hid).bias(bias).build(dev);
            default -> throw new AssertionError("unexpected mode " + mode);
        };
        boolean lstm = cell instanceof LSTMCell;
        double fr = f.tolerance("forward", "rtol"), fa = f.tolerance("forward", "atol");
        double gr = f.tolerance("grad", "rtol"), ga = f.tolerance("grad", "atol");
        HostTensor input = f.get("input");
        int T = input.shape()[0], B = input.shape()[1];
        int bh = B * hid;
        List<AutoCloseable> owned = new ArrayList<>();
        try (cell) {
            cell.loadStateDict(f.parameters());
            CellOutput[] steps = new CellOutput[T];
            float[] output = new float[T * bh];
            Tensor h = f.has("h0") ? own(dev, owned, f.get("h0")) : null;
            Tensor c = f.has("c0") ? own(dev, owned, f.get("c0")) : null;
            for (int t = 0; t < T; t++) {
                Tensor x = dev.tensor(TestSupport.slice(input.data(), t * B * in, B * in), B, in);
                owned.add(x);
                steps[t] = step(cell, x, h, c);
                owned.add(steps[t]);
                h = steps[t].h();
                c = steps[t].c();
                System.arraycopy(h.toArray(), 0, output, t * bh, bh);
            }
            assertClose(f + " output", f.get("output").data(), output, fr, fa);
            assertClose(f + " h_n", f.get("h_n"), h, fr, fa);
            if (lstm) assertClose(f + " c_n", f.get("c_n"), c, fr, fa);

            float[] gOut = f.get("grad_output").data();
            float[] dh = f.get("grad_h_n").data();       // h_n is h_{T-1}: its gradient joins the last step's
            float[] dc = lstm ? f.get("grad_c_n").data() : null;
            float[] gIn = new float[T * B * in];
            for (int t = T - 1; t >= 0; t--) {
                dh = TestSupport.add(dh, TestSupport.slice(gOut, t * bh, bh));
                try (Tensor gh = dev.tensor(dh, B, hid); Tensor gc = lstm ? dev.tensor(dc, B, hid) : null;
                     CellGrads g = backStep(cell, steps[t], gh, gc)) {
                    System.arraycopy(g.input().toArray(), 0, gIn, t * B * in, B * in);
                    dh = g.h().toArray();
                    if (lstm) dc = g.c().toArray();
                }
            }
            assertClose(f + " grad_input", f.get("grad_input").data(), gIn, gr, ga);
            if (f.boolConfig("has_h0")) {
                assertClose(f + " grad_h0", f.get("grad_h0").data(), dh, gr, ga);
                if (lstm) assertClose(f + " grad_c0", f.get("grad_c0").data(), dc, gr, ga);
            }
            checkParameterGrads(f, cell, gr, ga);
        } finally {
            Closeables.closeAll(owned.toArray(new AutoCloseable[0]));
        }
    }

    static CellOutput step(RNNCellBase cell, Tensor x, Tensor h, Tensor c) {
        return switch (cell) {
            case LSTMCell l -> l.forward(x, h, c);
            case RNNCell r -> r.forward(x, h);
            case GRUCell g -> g.forward(x, h);
        };
    }

    static CellGrads backStep(RNNCellBase cell, CellOutput out, Tensor gh, Tensor gc) {
        return switch (cell) {
            case LSTMCell l -> l.backward(out, gh, gc);
            case RNNCell r -> r.backward(out, gh);
            case GRUCell g -> g.backward(out, gh);
        };
    }

    private static <C extends AutoCloseable> Tensor own(Device dev, List<C> owned, HostTensor t) {
        Tensor d = dev.tensor(t);
        @SuppressWarnings("unchecked") C c = (C) d;
        owned.add(c);
        return d;
    }

    @Test
    void handworkedReluIsExact() throws IOException {
        ConformanceFile f = ConformanceFile.read(ConformanceFile.dir().resolve("rnn_relu_handworked.safetensors"));
        try (RNN m = RNN.builder(2, 1).nonlinearity("relu").bias(false).build(dev);
             Tensor x = dev.tensor(f.get("input")); Tensor h0 = dev.tensor(f.get("h0"))) {
            m.loadStateDict(f.parameters());
            try (RecurrentOutput out = m.forward(x, h0)) {
                assertTrue(java.util.Arrays.equals(new float[]{5, 8, 16, 18}, out.output().toArray()));
            }
        }
    }
}
