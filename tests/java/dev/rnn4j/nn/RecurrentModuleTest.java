package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Configuration, parameters, initialisation, dropout, resource handling and argument checking of the recurrent layers. */
class RecurrentModuleTest {
    static Device dev;

    @BeforeAll
    static void open() { dev = Device.reference(); }

    @AfterAll
    static void close() { dev.close(); }

    // ------------------------------------------------------------------ parameters

    @Test
    void lstmParameterNamesShapesAndCountMatchPyTorch() {
        try (LSTM m = LSTM.builder(10, 20).numLayers(2).build(dev)) {
            assertEquals(5920, m.numParameters());
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                    "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"), List.copyOf(m.namedParameters().keySet()));
            assertArrayEquals(new int[]{80, 10}, m.namedParameters().get("weight_ih_l0").shape());
            assertArrayEquals(new int[]{80, 20}, m.namedParameters().get("weight_ih_l1").shape());
            assertArrayEquals(new int[]{80}, m.namedParameters().get("bias_hh_l1").shape());
        }
    }

    @Test
    void bidirectionalProjectedNamesFollowPyTorchOrder() {
        try (LSTM m = LSTM.builder(3, 6).projSize(2).numLayers(2).bidirectional(true).bias(false).build(dev)) {
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "weight_hr_l0",
                    "weight_ih_l0_reverse", "weight_hh_l0_reverse", "weight_hr_l0_reverse",
                    "weight_ih_l1", "weight_hh_l1", "weight_hr_l1",
                    "weight_ih_l1_reverse", "weight_hh_l1_reverse", "weight_hr_l1_reverse"), List.copyOf(m.namedParameters().keySet()));
            assertArrayEquals(new int[]{24, 2}, m.namedParameters().get("weight_hh_l0").shape());
            assertArrayEquals(new int[]{24, 4}, m.namedParameters().get("weight_ih_l1_reverse").shape());
            assertArrayEquals(new int[]{2, 6}, m.namedParameters().get("weight_hr_l1").shape());
            // per direction: 24*3 + 24*2 + 2*6 in layer 0, 24*4 + 24*2 + 2*6 in layer 1
            assertEquals(2 * (72 + 48 + 12) + 2 * (96 + 48 + 12), m.numParameters());
        }
        try (GRU g = GRU.builder(4, 5).bidirectional(true).build(dev); RNN r = RNN.builder(4, 5).numLayers(3).build(dev)) {
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                    "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"), List.copyOf(g.namedParameters().keySet()));
            assertEquals(2 * (15 * 4 + 15 * 5 + 30), g.numParameters());
            assertEquals((5 * 4 + 25 + 10) + 2 * (25 + 25 + 10), r.numParameters());
        }
    }

    @Test
    void cellParameters() {
        try (LSTMCell l = LSTMCell.builder(10, 20).build(dev); GRUCell g = GRUCell.builder(4, 5).bias(false).build(dev);
             RNNCell r = RNNCell.builder(4, 5).build(dev)) {
            assertEquals(List.of("weight_ih", "weight_hh", "bias_ih", "bias_hh"), List.copyOf(l.namedParameters().keySet()));
            assertEquals(2560, l.numParameters());
            assertEquals(List.of("weight_ih", "weight_hh"), List.copyOf(g.namedParameters().keySet()));
            assertArrayEquals(new int[]{15, 5}, g.namedParameters().get("weight_hh").shape());
            assertEquals(20 + 25 + 10, r.numParameters());
        }
    }

    @Test
    void configurationGettersAndRepr() {
        try (LSTM a = LSTM.builder(10, 20).numLayers(2).build(dev);
             GRU b = GRU.builder(3, 4).numLayers(2).bias(false).batchFirst(true).dropout(0.5).bidirectional(true).build(dev);
             LSTM c = LSTM.builder(10, 20).projSize(5).build(dev);
             RNN d = RNN.builder(4, 5).nonlinearity("relu").dropout(1e-5).numLayers(2).build(dev);
             RNNCell e = RNNCell.builder(4, 5).bias(false).nonlinearity("relu").build(dev);
             LSTMCell f = LSTMCell.builder(4, 5).build(dev); GRUCell g = GRUCell.builder(4, 5).build(dev)) {
            assertEquals("LSTM(10, 20, num_layers=2)", a.toString());
            assertEquals("GRU(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)", b.toString());
            assertEquals("LSTM(10, 20, proj_size=5)", c.toString());
            assertEquals("RNN(4, 5, num_layers=2, dropout=1e-05)", d.toString());   // PyTorch's repr omits the nonlinearity
            assertEquals("RNNCell(4, 5, bias=False, nonlinearity=relu)", e.toString());
            assertEquals("LSTMCell(4, 5)", f.toString());
            assertEquals("GRUCell(4, 5)", g.toString());
            assertEquals(3, b.inputSize());
            assertEquals(4, b.hiddenSize());
            assertEquals(2, b.numLayers());
            assertFalse(b.bias());
            assertTrue(b.batchFirst());
            assertEquals(0.5, b.dropout());
            assertTrue(b.bidirectional());
            assertEquals(2, b.numDirections());
            assertEquals(0, b.projSize());
            assertEquals(5, c.projSize());
            assertEquals(5, c.outputHiddenSize());
            assertEquals("relu", d.nonlinearity());
            assertEquals("relu", e.nonlinearity());
            assertEquals(5, f.hiddenSize());
            assertEquals(4, g.inputSize());
        }
        assertEquals("0.0001", PyRepr.pyFloat(1e-4));
        assertEquals("1.0", PyRepr.pyFloat(1));
        assertEquals("0.1", PyRepr.pyFloat(0.1));
    }

    @Test
    void initialisationIsUniformInPlusMinusOneOverSqrtHiddenAndSeeded() {
        try (LSTM a = LSTM.builder(6, 16).numLayers(2).seed(42).build(dev);
             LSTM b = LSTM.builder(6, 16).numLayers(2).seed(42).build(dev);
             LSTM c = LSTM.builder(6, 16).numLayers(2).seed(43).build(dev)) {
            double bound = 1 / Math.sqrt(16), sum = 0, sq = 0;
            long n = 0;
            for (var e : a.namedParameters().entrySet()) {
                float[] v = e.getValue().value().toArray();
                assertArrayEquals(v, b.namedParameters().get(e.getKey()).value().toArray(), "same seed, " + e.getKey());
                assertFalse(Arrays.equals(v, c.namedParameters().get(e.getKey()).value().toArray()), "other seed, " + e.getKey());
                for (float x : v) {
                    assertTrue(Math.abs(x) <= bound, e.getKey() + " value " + x + " outside +-" + bound);
                    sum += x;
                    sq += (double) x * x;
                    n++;
                }
            }
            // U(-k, k): mean 0, variance k^2/3 (n is about 5000, so these bounds are several standard errors wide)
            assertEquals(0, sum / n, 0.01);
            assertEquals(bound * bound / 3, sq / n, 0.1 * bound * bound / 3);
            float[] before = a.namedParameters().get("weight_hh_l1").value().toArray();
            a.resetParameters(43);
            assertArrayEquals(c.namedParameters().get("weight_hh_l1").value().toArray(), a.namedParameters().get("weight_hh_l1").value().toArray());
            assertFalse(Arrays.equals(before, a.namedParameters().get("weight_hh_l1").value().toArray()));
        }
        try (RNNCell x = RNNCell.builder(3, 4).seed(1).build(dev); RNNCell y = RNNCell.builder(3, 4).seed(1).build(dev)) {
            assertArrayEquals(x.namedParameters().get("weight_ih").value().toArray(), y.namedParameters().get("weight_ih").value().toArray());
        }
    }

    // ------------------------------------------------------------------ dropout

    private static float[] outputOf(RNNBase m, Tensor x) {
        try (RecurrentOutput o = TestSupport.forward(m, x, null, null)) {
            return o.output().toArray();
        }
    }

    @Test
    void dropoutActsInTrainingOnlyAndIsReproducibleWithASeed() {
        SplittableRandom rng = new SplittableRandom(1);
        try (GRU m = GRU.builder(4, 8).numLayers(3).dropout(0.4).bidirectional(true).seed(1).build(dev);
             GRU plain = GRU.builder(4, 8).numLayers(3).bidirectional(true).build(dev);
             Tensor x = randn(dev, rng, 1, 5, 3, 4)) {
            TestSupport.copyParameters(m, plain);
            float[] reference = outputOf(plain, x);
            assertTrue(m.isTraining(), "modules start in training mode, as in PyTorch");
            m.setDropoutSeed(7);
            float[] first = outputOf(m, x);
            float[] second = outputOf(m, x);             // the next masks of the stream
            m.setDropoutSeed(7);
            float[] again = outputOf(m, x);
            assertFalse(Arrays.equals(reference, first), "training with dropout > 0 must differ from no dropout");
            assertFalse(Arrays.equals(first, second), "each forward draws fresh masks");
            assertArrayEquals(first, again, "same seed, same masks");
            m.eval();
            assertArrayEquals(reference, outputOf(m, x), "eval mode ignores dropout");
            m.train(true);
            plain.train(true);
            assertArrayEquals(reference, outputOf(plain, x), "dropout 0 in training mode changes nothing");
        }
    }

    @Test
    void dropoutOneDropsEveryLayerOutputButTheLast() {
        SplittableRandom rng = new SplittableRandom(2);
        try (LSTM m = LSTM.builder(3, 4).numLayers(2).dropout(1.0).seed(3).build(dev);
             Tensor x1 = randn(dev, rng, 1, 4, 2, 3); Tensor x2 = randn(dev, rng, 1, 4, 2, 3)) {
            // layer 1 sees zeros whatever the input, so the output no longer depends on it
            assertArrayEquals(outputOf(m, x1), outputOf(m, x2));
            try (RecurrentOutput o = m.forward(x1); Tensor g = Tensor.zeros(dev, o.output().shape())) {
                g.fill(1f);
                try (RecurrentGrads gr = m.backward(o, g, null, null)) {
                    assertArrayEquals(new float[4 * 2 * 3], gr.input().toArray(), "no gradient reaches the input through a dropped layer");
                }
            }
        }
    }

    @Test
    void dropoutWithOneLayerHasNoEffect() {
        SplittableRandom rng = new SplittableRandom(3);
        try (RNN m = RNN.builder(3, 4).dropout(0.5).seed(3).build(dev);
             RNN plain = RNN.builder(3, 4).seed(3).build(dev); Tensor x = randn(dev, rng, 1, 4, 2, 3)) {
            assertArrayEquals(outputOf(plain, x), outputOf(m, x));
        }
    }

    // ------------------------------------------------------------------ resources

    @Test
    void everyBufferIsFreedAfterClose() {
        long base = DeviceAccess.backend(dev).liveBuffers();
        SplittableRandom rng = new SplittableRandom(4);
        try (LSTM m = LSTM.builder(3, 5).projSize(2).numLayers(3).bidirectional(true).batchFirst(true).dropout(0.3).build(dev);
             Tensor x = randn(dev, rng, 1, 2, 4, 3)) {
            try (RecurrentOutput o = m.forward(x); Tensor g = randn(dev, rng, 1, o.output().shape());
                 RecurrentGrads gr = m.backward(o, g, null, null)) {
                assertTrue(DeviceAccess.backend(dev).liveBuffers() > base);
            }
            try (RecurrentOutput o = m.forward(x)) {
                o.close();
                o.close();   // idempotent
                assertThrows(IllegalStateException.class, o::output);
            }
        }
        try (GRUCell c = GRUCell.builder(3, 4).build(dev); Tensor x = randn(dev, rng, 1, 2, 3);
             CellOutput o = c.forward(x, null); CellGrads g = c.backward(o, o.h())) {
            assertArrayEquals(new int[]{2, 3}, g.input().shape());
        }
        assertEquals(base, DeviceAccess.backend(dev).liveBuffers());
    }

    // ------------------------------------------------------------------ argument checks

    private static void assertRejects(Class<? extends Throwable> type, String fragment, Executable call) {
        Throwable t = assertThrows(type, call::execute);
        assertTrue(t.getMessage() != null && t.getMessage().contains(fragment),
                "message '" + t.getMessage() + "' should contain '" + fragment + "'");
    }

    @FunctionalInterface
    interface Executable { void execute() throws Throwable; }

    @Test
    void forwardRejectsBadArgumentsBeforeTouchingTheDevice() throws Exception {
        try (LSTM m = LSTM.builder(3, 4).numLayers(2).bidirectional(true).build(dev);
             Tensor x = Tensor.zeros(dev, 5, 2, 3); Tensor bad = Tensor.zeros(dev, 5, 2, 4);
             Tensor h0 = Tensor.zeros(dev, 4, 2, 4); Tensor wrongH0 = Tensor.zeros(dev, 2, 2, 4);
             Tensor flat = Tensor.zeros(dev, 30); Tensor empty = Tensor.zeros(dev, 0, 2, 3);
             Device other = Device.reference(); Tensor foreign = Tensor.zeros(other, 5, 2, 3)) {
            long base = DeviceAccess.backend(dev).liveBuffers();
            assertRejects(NullPointerException.class, "input", () -> m.forward(null, h0, null));
            assertRejects(IllegalArgumentException.class, "input_size=3", () -> m.forward(bad, null, null));
            assertRejects(IllegalArgumentException.class, "3-D", () -> m.forward(flat, null, null));
            assertRejects(IllegalArgumentException.class, "at least one time step", () -> m.forward(empty, null, null));
            assertRejects(IllegalArgumentException.class, "h0: expected shape [4, 2, 4]", () -> m.forward(x, wrongH0, null));
            assertRejects(IllegalArgumentException.class, "got [2, 2, 4]", () -> m.forward(x, wrongH0, null));
            assertRejects(IllegalArgumentException.class, "c0: expected shape [4, 2, 4]", () -> m.forward(x, h0, wrongH0));
            assertRejects(IllegalArgumentException.class, "device", () -> m.forward(foreign, null, null));
            Tensor closed = Tensor.zeros(dev, 5, 2, 3);
            closed.close();
            assertRejects(IllegalStateException.class, "closed", () -> m.forward(closed, null, null));
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "a rejected call allocates nothing");
        }
        try (LSTM p = LSTM.builder(3, 4).projSize(2).build(dev); Tensor x = Tensor.zeros(dev, 5, 2, 3);
             Tensor h4 = Tensor.zeros(dev, 1, 2, 4); Tensor h2 = Tensor.zeros(dev, 1, 2, 2)) {
            assertRejects(IllegalArgumentException.class, "h0: expected shape [1, 2, 2]", () -> p.forward(x, h4, null));
            try (RecurrentOutput o = p.forward(x, h2, h4)) {   // c0 keeps hidden_size
                assertArrayEquals(new int[]{1, 2, 2}, o.hN().shape());
            }
        }
        try (RNN bf = RNN.builder(3, 4).batchFirst(true).build(dev); Tensor x = Tensor.zeros(dev, 2, 5, 3);
             Tensor h0bf = Tensor.zeros(dev, 2, 1, 4)) {
            assertRejects(IllegalArgumentException.class, "h0: expected shape [1, 2, 4]", () -> bf.forward(x, h0bf));
        }
    }

    @Test
    void backwardRejectsBadArguments() {
        try (GRU m = GRU.builder(3, 4).build(dev); GRU other = GRU.builder(3, 4).build(dev);
             Tensor x = Tensor.zeros(dev, 5, 2, 3); RecurrentOutput out = m.forward(x);
             Tensor wrong = Tensor.zeros(dev, 5, 2, 3); Tensor wrongH = Tensor.zeros(dev, 1, 3, 4)) {
            assertRejects(NullPointerException.class, "out", () -> m.backward(null, null, null));
            assertRejects(IllegalArgumentException.class, "not produced by forward of this module", () -> other.backward(out, null, null));
            assertRejects(IllegalArgumentException.class, "gradOutput: expected shape [5, 2, 4]", () -> m.backward(out, wrong, null));
            assertRejects(IllegalArgumentException.class, "gradHn: expected shape [1, 2, 4]", () -> m.backward(out, null, wrongH));
            RecurrentOutput gone = m.forward(x);
            gone.close();
            assertRejects(IllegalStateException.class, "closed", () -> m.backward(gone, null, null));
        }
        try (LSTMCell c = LSTMCell.builder(3, 4).build(dev); LSTMCell d = LSTMCell.builder(3, 4).build(dev);
             Tensor x = Tensor.zeros(dev, 2, 3); Tensor h = Tensor.zeros(dev, 3, 4); CellOutput o = c.forward(x, null, null)) {
            assertRejects(IllegalArgumentException.class, "h: expected shape [2, 4]", () -> c.forward(x, h, null));
            assertRejects(IllegalArgumentException.class, "c: expected shape [2, 4]", () -> c.forward(x, null, h));
            assertRejects(IllegalArgumentException.class, "input_size=3", () -> c.forward(h, null, null));
            assertRejects(IllegalArgumentException.class, "gradC: expected shape [2, 4]", () -> c.backward(o, null, h));
            assertRejects(IllegalArgumentException.class, "not produced by forward of this cell", () -> d.backward(o, null, null));
        }
    }

    @Test
    void closedModuleRefusesWork() {
        RNN m = RNN.builder(3, 4).build(dev);
        Tensor x = Tensor.zeros(dev, 2, 1, 3);
        RecurrentOutput out = m.forward(x);
        m.close();
        m.close();
        assertThrows(IllegalStateException.class, () -> m.forward(x));
        assertThrows(IllegalStateException.class, () -> m.backward(out, null, null));
        assertThrows(IllegalStateException.class, () -> m.resetParameters(1));
        out.close();
        x.close();
    }

    @Test
    void buildersRejectBadConfigurations() {
        assertRejects(IllegalArgumentException.class, "hiddenSize", () -> LSTM.builder(3, 0));
        assertRejects(IllegalArgumentException.class, "inputSize", () -> GRU.builder(-1, 4));
        assertRejects(IllegalArgumentException.class, "numLayers", () -> RNN.builder(3, 4).numLayers(0));
        assertRejects(IllegalArgumentException.class, "dropout", () -> RNN.builder(3, 4).dropout(-0.1));
        assertRejects(IllegalArgumentException.class, "dropout", () -> RNN.builder(3, 4).dropout(1.5));
        assertRejects(IllegalArgumentException.class, "dropout", () -> RNN.builder(3, 4).dropout(Double.NaN));
        assertRejects(IllegalArgumentException.class, "projSize", () -> LSTM.builder(3, 4).projSize(-1));
        assertRejects(IllegalArgumentException.class, "projSize must be smaller than hiddenSize", () -> LSTM.builder(3, 4).projSize(4).build(dev));
        assertRejects(IllegalArgumentException.class, "nonlinearity", () -> RNN.builder(3, 4).nonlinearity("sigmoid"));
        assertRejects(IllegalArgumentException.class, "nonlinearity", () -> RNNCell.builder(3, 4).nonlinearity("gelu"));
        assertRejects(IllegalArgumentException.class, "hiddenSize", () -> GRUCell.builder(3, 0));
        assertRejects(NullPointerException.class, "device", () -> GRU.builder(3, 4).build(null));
    }
}
