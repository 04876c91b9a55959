package dev.rnn4j.nn;

import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.rnn4j.nn.SruTestSupport.naiveLayer;
import static dev.rnn4j.nn.SruTestSupport.toFloat;
import static dev.rnn4j.nn.TestSupport.assertClose;
import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.*;

/** Field-standard consistency checks: stacking, batching, awkward shapes, accumulation, leaks. */
class SruConsistencyTest extends ReferenceDeviceTest {
    private static float[] rows(float[] a, int from, int count, int rowLen) {
        return Arrays.copyOfRange(a, from * rowLen, (from + count) * rowLen);
    }

    @Test
    void twoLayersEqualTwoChainedSingleLayers() {
        int seqLen = 4, batch = 2, in = 3, hid = 3, out = 6;
        SplittableRandom r = new SplittableRandom(1);
        try (SRU two = SRU.builder(in, hid).numLayers(2).bidirectional(true).build(dev);
             SRU a = SRU.builder(in, hid).numLayers(1).bidirectional(true).build(dev);
             SRU b = SRU.builder(out, hid).numLayers(1).bidirectional(true).build(dev)) {
            TestSupport.randomize(two, 2, 0.9);
            Map<String, HostTensor> sd = two.stateDict();
            a.loadStateDict(Map.of("rnn_lst.0.weight", sd.get("rnn_lst.0.weight"), "rnn_lst.0.bias", sd.get("rnn_lst.0.bias")));
            b.loadStateDict(Map.of("rnn_lst.0.weight", sd.get("rnn_lst.1.weight"), "rnn_lst.0.bias", sd.get("rnn_lst.1.bias")));
            float[] c0 = randn(r, 2 * batch * out, 0.5), gc = randn(r, 2 * batch * out, 1);
            int slice = batch * out;
            try (Tensor x = dev.tensor(randn(r, seqLen * batch * in, 1), seqLen, batch, in);
                 Tensor c0t = dev.tensor(c0, 2, batch, out);
                 Tensor c0a = dev.tensor(rows(c0, 0, 1, slice), 1, batch, out);
                 Tensor c0b = dev.tensor(rows(c0, 1, 1, slice), 1, batch, out);
                 Tensor g = dev.tensor(randn(r, seqLen * batch * out, 1), seqLen, batch, out);
                 Tensor gct = dev.tensor(gc, 2, batch, out);
                 Tensor gca = dev.tensor(rows(gc, 0, 1, slice), 1, batch, out);
                 Tensor gcb = dev.tensor(rows(gc, 1, 1, slice), 1, batch, out);
                 RecurrentOutput o2 = two.forward(x, c0t);
                 RecurrentOutput oa = a.forward(x, c0a);
                 RecurrentOutput ob = b.forward(oa.output(), c0b);
                 RecurrentGrads g2 = two.backward(o2, g, gct);
                 RecurrentGrads gb = b.backward(ob, g, gcb);
                 RecurrentGrads ga = a.backward(oa, gb.input(), gca)) {
                assertArrayEquals(ob.output().toArray(), o2.output().toArray());
                float[] cn = o2.cN().toArray();
                assertArrayEquals(oa.cN().toArray(), rows(cn, 0, 1, slice));
                assertArrayEquals(ob.cN().toArray(), rows(cn, 1, 1, slice));
                assertArrayEquals(ga.input().toArray(), g2.input().toArray());
                float[] dc0 = g2.c0().toArray();
                assertArrayEquals(ga.c0().toArray(), rows(dc0, 0, 1, slice));
                assertArrayEquals(gb.c0().toArray(), rows(dc0, 1, 1, slice));
                Map<String, Parameter> p2 = two.namedParameters();
                assertArrayEquals(a.namedParameters().get("rnn_lst.0.weight").grad().toArray(), p2.get("rnn_lst.0.weight").grad().toArray());
                assertArrayEquals(a.namedParameters().get("rnn_lst.0.bias").grad().toArray(), p2.get("rnn_lst.0.bias").grad().toArray());
                assertArrayEquals(b.namedParameters().get("rnn_lst.0.weight").grad().toArray(), p2.get("rnn_lst.1.weight").grad().toArray());
                assertArrayEquals(b.namedParameters().get("rnn_lst.0.bias").grad().toArray(), p2.get("rnn_lst.1.bias").grad().toArray());
            }
        }
    }

    @Test
    void aBatchEqualsEachSequenceAlone() {
        int seqLen = 5, batch = 3, in = 4, hid = 2, out = 4, layers = 2;
        SplittableRandom r = new SplittableRandom(2);
        float[] x = randn(r, seqLen * batch * in, 1), c0 = randn(r, layers * batch * out, 0.5);
        float[] g = randn(r, seqLen * batch * out, 1), gc = randn(r, layers * batch * out, 1);
        try (SRU sru = SRU.builder(in, hid).numLayers(layers).bidirectional(true).build(dev);
             SRU one = SRU.builder(in, hid).numLayers(layers).bidirectional(true).build(dev)) {
            TestSupport.randomize(sru, 3, 0.9);
            one.loadStateDict(sru.stateDict());
            float[] wantOut, wantCn, wantGx, wantGc0;
            Map<String, float[]> wantGrads = new LinkedHashMap<>();
            try (Tensor xt = dev.tensor(x, seqLen, batch, in); Tensor c0t = dev.tensor(c0, layers, batch, out);
                 Tensor gt = dev.tensor(g, seqLen, batch, out); Tensor gct = dev.tensor(gc, layers, batch, out);
                 RecurrentOutput o = sru.forward(xt, c0t); RecurrentGrads gr = sru.backward(o, gt, gct)) {
                wantOut = o.output().toArray();
                wantCn = o.cN().toArray();
                wantGx = gr.input().toArray();
                wantGc0 = gr.c0().toArray();
                for (var e : sru.namedParameters().entrySet()) wantGrads.put(e.getKey(), e.getValue().grad().toArray());
            }
            for (int b = 0; b < batch; b++) {
                try (Tensor xt = dev.tensor(pick(x, seqLen, batch, in, b), seqLen, 1, in);
                     Tensor c0t = dev.tensor(pick(c0, layers, batch, out, b), layers, 1, out);
                     Tensor gt = dev.tensor(pick(g, seqLen, batch, out, b), seqLen, 1, out);
                     Tensor gct = dev.tensor(pick(gc, layers, batch, out, b), layers, 1, out);
                     RecurrentOutput o = one.forward(xt, c0t); RecurrentGrads gr = one.backward(o, gt, gct)) {
                    assertClose("output of sequence " + b, pick(wantOut, seqLen, batch, out, b), o.output().toArray(), 1e-6, 1e-7);
                    assertClose("cN of sequence " + b, pick(wantCn, layers, batch, out, b), o.cN().toArray(), 1e-6, 1e-7);
                    assertClose("grad input of sequence " + b, pick(wantGx, seqLen, batch, in, b), gr.input().toArray(), 1e-5, 1e-6);
                    assertClose("grad c0 of sequence " + b, pick(wantGc0, layers, batch, out, b), gr.c0().toArray(), 1e-5, 1e-6);
                }
            }
            // The per-sequence backward passes accumulated into `one`: their sum is the batch's gradient.
            for (var e : one.namedParameters().entrySet())
                assertClose("grad " + e.getKey(), wantGrads.get(e.getKey()), e.getValue().grad().toArray(), 1e-5, 1e-6);
        }
    }

    /** Row b of the middle (batch) dimension of a (lead, batch, width) array. */
    private static float[] pick(float[] a, int lead, int batch, int width, int b) {
        float[] o = new float[lead * width];
        for (int t = 0; t < lead; t++) System.arraycopy(a, (t * batch + b) * width, o, t * width, width);
        return o;
    }

    @ParameterizedTest(name = "T={0} B={1} in={2} hidden={3} bidir={4} act={5}")
    @CsvSource({
            "1, 1, 1, 1, false, 1",
            "1, 1, 3, 7, false, 1",
            "1, 1, 7, 7, false, 0",
            "5, 2, 7, 7, false, 2",
            "4, 3, 2, 1, false, 1",
            "3, 1, 1, 1, true, 1",
            "2, 3, 14, 7, true, 1",
            "3, 2, 5, 7, true, 2",
            "6, 5, 9, 1, true, 0"})
    void awkwardShapesMatchThePlainSru(int seqLen, int batch, int in, int hid, boolean bidir, int act) {
        int dirs = bidir ? 2 : 1, out = dirs * hid;
        SplittableRandom r = new SplittableRandom(seqLen * 1000 + batch * 100 + in * 10 + hid);
        try (SRUCell cell = SRUCell.builder(in, hid).bidirectional(bidir).useTanh(act == 1).useRelu(act == 2).build(dev)) {
            assertEquals(in == out ? 3 : 4, cell.k());
            assertArrayEquals(new int[] {in, out * cell.k()}, cell.weight().shape());
            assertArrayEquals(new int[] {2 * out}, cell.bias().shape());
            TestSupport.randomize(cell, 4, 0.9);
            float[] x = randn(r, seqLen * batch * in, 1), c0 = randn(r, batch * out, 0.5);
            double[][] want = naiveLayer(x, seqLen, batch, in, cell.weight().value().toArray(), cell.bias().value().toArray(),
                    c0, hid, dirs, act, null, null, false);
            try (Tensor xt = dev.tensor(x, seqLen, batch, in); Tensor c0t = dev.tensor(c0, batch, out);
                 Tensor g = dev.tensor(randn(r, seqLen * batch * out, 1), seqLen, batch, out);
                 RecurrentOutput o = cell.forward(xt, c0t); RecurrentGrads gr = cell.backward(o, g, null)) {
                assertArrayEquals(new int[] {seqLen, batch, out}, o.output().shape());
                assertArrayEquals(new int[] {batch, out}, o.cN().shape());
                assertClose("h", toFloat(want[0]), o.output().toArray(), 1e-5, 1e-6);
                assertClose("cN", toFloat(want[1]), o.cN().toArray(), 1e-5, 1e-6);
                assertArrayEquals(new int[] {seqLen, batch, in}, gr.input().shape());
                assertArrayEquals(new int[] {batch, out}, gr.c0().shape());
            }
        }
    }

    @Test
    void gradientsAccumulateAndBackwardRepeats() {
        SplittableRandom r = new SplittableRandom(5);
        try (SRUCell cell = SRUCell.builder(3, 3).build(dev)) {
            TestSupport.randomize(cell, 6, 0.9);
            try (Tensor x = dev.tensor(randn(r, 2 * 2 * 3, 1), 2, 2, 3);
                 Tensor g = dev.tensor(randn(r, 2 * 2 * 3, 1), 2, 2, 3);
                 Tensor gc = dev.tensor(randn(r, 2 * 3, 1), 2, 3);
                 RecurrentOutput o = cell.forward(x, null)) {
                float[] gx1;
                try (RecurrentGrads gr = cell.backward(o, g, gc)) {
                    gx1 = gr.input().toArray();
                    assertNull(gr.c0(), "no c0 given, no c0 gradient");
                }
                float[] w1 = cell.weight().grad().toArray(), b1 = cell.bias().grad().toArray();
                try (RecurrentGrads gr = cell.backward(o, g, gc)) {
                    assertArrayEquals(gx1, gr.input().toArray(), "backward is repeatable");
                }
                float[] w2 = cell.weight().grad().toArray(), b2 = cell.bias().grad().toArray();
                for (int i = 0; i < w1.length; i++) assertEquals(2 * w1[i], w2[i], 1e-6 * Math.abs(w1[i]) + 1e-7);
                for (int i = 0; i < b1.length; i++) assertEquals(2 * b1[i], b2[i], 1e-6 * Math.abs(b1[i]) + 1e-7);
                cell.zeroGrad();
                for (float v : cell.weight().grad().toArray()) assertEquals(0f, v);
            }
        }
    }

    @Test
    void nullC0EqualsZeroC0() {
        SplittableRandom r = new SplittableRandom(6);
        try (SRU sru = SRU.builder(2, 3).numLayers(2).bidirectional(true).build(dev)) {
            TestSupport.randomize(sru, 1, 1);
            try (Tensor x = dev.tensor(randn(r, 3 * 2 * 2, 1), 3, 2, 2);
                 Tensor zeros = dev.zeros(2, 2, 6);
                 Tensor g = dev.tensor(randn(r, 3 * 2 * 6, 1), 3, 2, 6);
                 RecurrentOutput a = sru.forward(x, null); RecurrentOutput b = sru.forward(x, zeros);
                 RecurrentGrads ga = sru.backward(a, g, null); RecurrentGrads gb = sru.backward(b, g, null)) {
                assertArrayEquals(b.output().toArray(), a.output().toArray());
                assertArrayEquals(b.cN().toArray(), a.cN().toArray());
                assertArrayEquals(gb.input().toArray(), ga.input().toArray());
                assertNull(ga.c0(), "no c0 given, no c0 gradient");
                assertArrayEquals(new int[] {2, 2, 6}, gb.c0().shape());
                assertNull(a.hN());
                assertNull(ga.h0());
            }
        }
    }

    @Test
    void closingEverythingFreesEveryBuffer() {
        SplittableRandom r = new SplittableRandom(7);
        SRU sru = SRU.builder(4, 3).numLayers(3).dropout(0.3).rnnDropout(0.2).bidirectional(true).build(dev);
        Tensor x = dev.tensor(randn(r, 3 * 2 * 4, 1), 3, 2, 4);
        Tensor c0 = dev.tensor(randn(r, 3 * 2 * 6, 1), 3, 2, 6);
        Tensor g = dev.tensor(randn(r, 3 * 2 * 6, 1), 3, 2, 6);
        Tensor gc = dev.tensor(randn(r, 3 * 2 * 6, 1), 3, 2, 6);
        RecurrentOutput o = sru.forward(x, c0);
        RecurrentGrads gr = sru.backward(o, g, gc);
        RecurrentGrads gr2 = sru.backward(o, g, null);
        long during = DeviceAccess.backend(dev).liveBuffers();
        assertTrue(during > baseline);
        Closeables.closeAll(gr, gr2, o, x, c0, g, gc);
        // What is left is the module's own: 3 layers x (weight, bias, and their two gradients).
        assertEquals(baseline + 12, DeviceAccess.backend(dev).liveBuffers());
        sru.close();
        sru.close(); // idempotent
        o.close();
        assertThrows(IllegalStateException.class, o::output);
    }

    @Test
    void gettersAndToString() {
        try (SRU sru = SRU.builder(5, 7).numLayers(3).dropout(0.25).rnnDropout(0.1).bidirectional(true).useRelu(true).build(dev)) {
            assertEquals(5, sru.inputSize());
            assertEquals(7, sru.hiddenSize());
            assertEquals(3, sru.numLayers());
            assertEquals(2, sru.numDirections());
            assertEquals(14, sru.outputSize());
            assertTrue(sru.isBidirectional());
            assertTrue(sru.useTanh());
            assertTrue(sru.useRelu());
            assertEquals(0.1, sru.rnnDropout());
            assertEquals("SRU(5, 7, num_layers=3, dropout=0.25, rnn_dropout=0.1, bidirectional=True, use_relu=1)", sru.toString());
            SRUCell l0 = sru.layers().get(0), l1 = sru.layers().get(1);
            assertEquals(5, l0.nIn());
            assertEquals(14, l1.nIn());
            assertEquals(4, l0.k());
            assertEquals(3, l1.k());
            assertEquals(Activation.RELU, l0.activation());
            assertEquals("SRUCell(5, 7, dropout=0.25, rnn_dropout=0.1, bidirectional=True, activation=relu, k=4)", l0.toString());
            assertSame(l0, sru.children().get("rnn_lst.0"));
            assertThrows(UnsupportedOperationException.class, () -> sru.layers().clear());
        }
        try (SRUCell c = SRUCell.builder(3, 3).useTanh(false).build(dev)) {
            assertEquals(Activation.IDENTITY, c.activation());
            assertEquals(0.0, c.dropout());
            assertFalse(c.isBidirectional());
            assertEquals("SRUCell(3, 3, activation=identity, k=3)", c.toString());
        }
        try (SRU s = SRU.builder(3, 3).build(dev)) {
            assertEquals(2, s.numLayers(), "original default depth");
            assertEquals(Activation.TANH, s.layers().get(0).activation(), "original default use_tanh=1");
        }
    }
}
