package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.io.StateDicts;
import dev.rnn4j.train.Adam;
import dev.rnn4j.train.Checkpoints;
import dev.rnn4j.train.LossValue;
import dev.rnn4j.train.Losses;
import dev.rnn4j.train.Reduction;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Composite models: {@link Sequential}, {@link ModuleList} and a {@link Module} subclass that
 * registers its layers: PyTorch's state-dict names, save and load through StateDicts and
 * Checkpoints, chained forward/backward, and training one with a masked loss.
 */
class ContainerTest {
    @TempDir
    Path dir;

    /** A sequence classifier as a user would write it: a GRU and a per-step linear head. */
    static final class Classifier extends Module {
        final GRU gru;
        final Linear head;

        Classifier(Device device, long seed) {
            super(device);
            gru = registerModule("gru", GRU.builder(2, 6).seed(seed).build(device));
            head = registerModule("head", new Linear(device, 6, 3, true, seed + 1));
        }

        @Override
        public String toString() { return "Classifier"; }
    }

    private static List<String> keys(Module m) { return new ArrayList<>(m.stateDict().keySet()); }

    @Test
    void namesAreThoseOfPyTorch() {
        try (Device dev = Device.reference();
             Sequential seq = new Sequential(dev, new Linear(dev, 4, 8, true, 1), new Linear(dev, 8, 2, false, 2));
             ModuleList list = new ModuleList(dev, GRU.builder(2, 3).build(dev)).add(new Linear(dev, 3, 1, true));
             Classifier c = new Classifier(dev, 5)) {
            assertEquals(List.of("0.weight", "0.bias", "1.weight"), keys(seq));
            assertArrayEquals(new int[] {2, 8}, seq.stateDict().get("1.weight").shape());
            assertEquals(List.of("0.weight_ih_l0", "0.weight_hh_l0", "0.bias_ih_l0", "0.bias_hh_l0", "1.weight", "1.bias"), keys(list));
            assertEquals(List.of("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0", "head.weight", "head.bias"),
                    keys(c));
            assertEquals(keys(c), new ArrayList<>(c.namedParameters().keySet()));
            assertEquals(2, seq.size());
            assertTrue(seq.get(1) instanceof Linear);
            assertEquals("Sequential((0): Linear(in_features=4, out_features=8, bias=true), (1): Linear(in_features=8, out_features=2, bias=false))",
                    seq.toString());
        }
    }

    @Test
    void registrationIsChecked() {
        try (Device dev = Device.reference(); Device other = Device.reference(); Dropout drop = new Dropout(dev, 0.1);
             Linear elsewhere = new Linear(other, 2, 2, true); Sequential seq = new Sequential(dev)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> seq.add(drop));
            assertTrue(e.getMessage().contains("not a Layer"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> seq.add(elsewhere));
            assertThrows(NullPointerException.class, () -> seq.add(null));
            assertThrows(IllegalArgumentException.class, () -> seq.add(seq));
            assertEquals(0, seq.size());
            Linear closed = new Linear(dev, 2, 2, true);
            closed.close();
            assertThrows(IllegalStateException.class, () -> seq.add(closed));
        }
    }

    @Test
    void sequentialChainsForwardAndBackwardExactly() {
        SplittableRandom r = new SplittableRandom(3);
        float[] xs = new float[5 * 4], gs = new float[5 * 2];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
        for (int i = 0; i < gs.length; i++) gs[i] = (float) r.nextGaussian();
        try (Device dev = Device.reference(); Tensor x = dev.tensor(xs, 5, 4); Tensor g = dev.tensor(gs, 5, 2);
             Linear a = new Linear(dev, 4, 3, true, 11); Linear b = new Linear(dev, 3, 2, true, 12);
             Sequential seq = new Sequential(dev, new Linear(dev, 4, 3, true, 11), new Linear(dev, 3, 2, true, 12))) {
            float[] expectedOut, expectedDx;
            try (Tensor h = a.forward(x); Tensor y = b.forward(h); Tensor dh = b.backward(h, g); Tensor dx = a.backward(x, dh)) {
                expectedOut = y.toArray();
                expectedDx = dx.toArray();
            }
            try (Sequential.Output out = seq.forward(x)) {
                assertArrayEquals(expectedOut, out.output().toArray());
                try (Tensor dx = seq.backward(out, g)) {
                    assertArrayEquals(expectedDx, dx.toArray());
                }
            }
            Map<String, Parameter> p = seq.namedParameters();
            assertArrayEquals(a.weight().grad().toArray(), p.get("0.weight").grad().toArray());
            assertArrayEquals(b.bias().grad().toArray(), p.get("1.bias").grad().toArray());
            assertFalse(x.isClosed(), "the caller's input stays open");
        }
    }

    @Test
    void closingACompositeClosesItsChildren() {
        try (Device dev = Device.reference()) {
            Linear inner = new Linear(dev, 2, 2, true);
            Classifier c = new Classifier(dev, 1);
            Sequential seq = new Sequential(dev, inner);
            seq.close();
            c.close();
            assertTrue(inner.isClosed() && c.gru.isClosed() && c.head.isClosed());
            assertEquals(0, DeviceAccess.backend(dev).liveBuffers());
        }
    }

    @Test
    void saveAndLoadTreatTheCompositeAsOne() throws IOException {
        Path file = dir.resolve("classifier.safetensors"), ckpt = dir.resolve("ckpt.safetensors");
        try (Device dev = Device.reference(); Classifier a = new Classifier(dev, 1); Classifier b = new Classifier(dev, 2);
             Classifier c = new Classifier(dev, 3)) {
            StateDicts.save(a, file);
            StateDicts.load(b, file);
            assertStatesEqual(a.stateDict(), b.stateDict());
            for (Parameter p : a.namedParameters().values()) p.grad().fill(0.01f);
            try (Adam opt = Adam.builder(a.namedParameters().values()).lr(0.1).build();
                 Adam opt2 = Adam.builder(c.namedParameters().values()).lr(0.1).build()) {
                opt.step();
                Checkpoints.save(ckpt, a, opt, null);
                Checkpoints.load(ckpt, c, opt2, null);
                assertStatesEqual(a.stateDict(), c.stateDict());
                assertEquals(opt.stateTensors().keySet(), opt2.stateTensors().keySet());
            }
        }
    }

    private static void assertStatesEqual(Map<String, HostTensor> want, Map<String, HostTensor> got) {
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) assertArrayEquals(want.get(k).data(), got.get(k).data(), k);
    }

    /**
     * Per-step classification over a padded batch: GRU with lengths, a head on every step, and
     * cross-entropy that ignores the padded steps. Adam lowers the loss.
     */
    @Test
    void trainingACompositeWithAMaskedLossLowersIt() {
        int T = 6, B = 3, I = 2;
        int[] lengths = {6, 4, 2};
        SplittableRandom r = new SplittableRandom(9);
        float[] xs = new float[T * B * I];
        int[] targets = new int[T * B];
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                int row = t * B + b;
                xs[row * I] = (float) r.nextGaussian();
                xs[row * I + 1] = (float) r.nextGaussian();
                targets[row] = t >= lengths[b] ? Losses.IGNORE_INDEX : xs[row * I] > 0.5 ? 2 : xs[row * I] > -0.5 ? 1 : 0;
            }
        try (Device dev = Device.reference(); Tensor x = dev.tensor(xs, T, B, I); Classifier model = new Classifier(dev, 4);
             Adam opt = Adam.builder(model.namedParameters().values()).lr(0.05).build()) {
            double first = 0, last = 0;
            for (int step = 0; step < 40; step++) {
                model.zeroGrad();
                try (RecurrentOutput out = model.gru.forward(x, lengths);
                     Tensor logits = model.head.forward(out.output());
                     LossValue loss = Losses.crossEntropy(logits.view(T * B, 3), targets, null, Losses.IGNORE_INDEX, Reduction.MEAN);
                     Tensor dh = model.head.backward(out.output(), loss.grad().view(T, B, 3))) {
                    model.gru.backward(out, dh, null).close();
                    if (step == 0) first = loss.value();
                    last = loss.value();
                }
                opt.step();
            }
            assertTrue(last < 0.6 * first, "loss " + first + " -> " + last);
        }
    }
}
