package dev.rnn4j.train;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Tensor;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints carry the dropout generators: training with dropout, checkpointed and resumed in a
 * fresh model, gives bit for bit the losses and weights of the uninterrupted run, on every
 * backend; checkpoints without the generator state still load.
 */
class DropoutResumeTest {
    static final int IN = 4, HIDDEN = 6, T = 5, B = 3, STEPS = 10, AT = 6;

    /** Every backend of the provider registry; an absent one skips (or fails where required) as its own tests do. */
    static Stream<String> backends() { return Device.backends().stream().map(Device.BackendInfo::name); }

    static Device open(String backend) { return Outcomes.open(backend); }

    static GRU gru(Device dev, long initSeed) {
        return GRU.builder(IN, HIDDEN).numLayers(2).dropout(0.3).seed(initSeed).build(dev);
    }

    static float[] input(int step) {
        float[] x = new float[T * B * IN];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.37 * i + 0.61 * step);
        return x;
    }

    /** Runs training steps [from, to) and returns their losses. */
    static List<Double> train(Device dev, GRU gru, Adam adam, StepLR sched, int from, int to) {
        List<Double> losses = new ArrayList<>();
        try (Tensor target = dev.zeros(T, B, HIDDEN)) {
            target.fill(0.25f);
            for (int s = from; s < to; s++) {
                gru.zeroGrad();
                try (Tensor x = dev.tensor(input(s), T, B, IN);
                     RecurrentOutput out = gru.forward(x);
                     LossValue loss = Losses.mse(out.output(), target)) {
                    gru.backward(out, loss.grad(), null).close();
                    losses.add(loss.value());
                }
                adam.step();
                sched.step();
            }
        }
        return losses;
    }

    @ParameterizedTest
    @MethodSource("backends")
    void resumingWithDropoutIsBitForBitTheUninterruptedRun(String backend, @TempDir Path dir) throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        List<Double> continuous, first, resumed;
        Map<String, HostTensor> finalWeights;
        try (Device dev = open(backend); GRU a = gru(dev, 1);
             Adam adam = Adam.builder(a.namedParameters().values()).lr(1e-2).build()) {
            a.setDropoutSeed(7);
            StepLR sched = new StepLR(adam, 4, 0.5);
            continuous = train(dev, a, adam, sched, 0, STEPS);
            finalWeights = a.stateDict();
        }
        try (Device dev = open(backend); GRU a = gru(dev, 1);
             Adam adam = Adam.builder(a.namedParameters().values()).lr(1e-2).build()) {
            a.setDropoutSeed(7);
            StepLR sched = new StepLR(adam, 4, 0.5);
            first = train(dev, a, adam, sched, 0, AT);
            Checkpoints.save(file, a, adam, sched);
        }
        // A fresh process: other initial weights and its own (random) dropout seed, all replaced by the file.
        try (Device dev = open(backend); GRU b = gru(dev, 99);
             Adam adam = Adam.builder(b.namedParameters().values()).lr(1e-2).build()) {
            StepLR sched = new StepLR(adam, 4, 0.5);
            Checkpoints.load(file, b, adam, sched);
            resumed = train(dev, b, adam, sched, AT, STEPS);
            assertEquals(continuous.subList(0, AT), first, backend + ": the same run up to the checkpoint");
            assertEquals(continuous.subList(AT, STEPS), resumed, backend + ": losses after resuming");
            Map<String, HostTensor> got = b.stateDict();
            assertEquals(finalWeights.keySet(), got.keySet());
            for (String k : finalWeights.keySet())
                assertArrayEquals(finalWeights.get(k).data(), got.get(k).data(), backend + ": " + k + " after resuming");
        }
    }

    @Test
    void aCheckpointHoldsEveryModulesGeneratorUnderItsPath(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("sru.safetensors");
        try (Device dev = Device.reference(); SRU sru = SRU.builder(IN, 3).numLayers(2).dropout(0.2).rnnDropout(0.1).build(dev);
             Adam adam = Adam.builder(sru.namedParameters().values()).build()) {
            sru.setDropoutSeed(11);
            try (Tensor x = dev.tensor(input(0), T, B, IN)) {
                sru.forward(x, null).close();
            }
            Map<String, Module.DropoutState> st = sru.dropoutState();
            assertEquals(List.of("", "rnn_lst.0", "rnn_lst.1"), List.copyOf(st.keySet()));
            assertEquals(2, st.get("rnn_lst.0").counter(), "the x mask and the h mask of layer 0");
            Checkpoints.save(file, sru, adam, null);
            Map<String, String> meta = SafeTensors.read(file).metadata();
            assertEquals("11 0", meta.get("rng.dropout"));
            // The last layer has no dropout on its output, only the x mask.
            assertEquals(st.get("rnn_lst.1").seed() + " 1", meta.get("rng.dropout.rnn_lst.1"));
            try (SRU other = SRU.builder(IN, 3).numLayers(2).dropout(0.2).rnnDropout(0.1).build(dev);
                 Adam adam2 = Adam.builder(other.namedParameters().values()).build()) {
                Checkpoints.load(file, other, adam2, null);
                assertEquals(st, other.dropoutState());
            }
        }
    }

    @Test
    void aCheckpointWithoutDropoutStateStillLoadsAndLeavesTheGeneratorsAlone(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("new.safetensors"), old = dir.resolve("old.safetensors");
        try (Device dev = Device.reference(); GRU a = gru(dev, 1);
             Adam adam = Adam.builder(a.namedParameters().values()).build()) {
            StepLR sched = new StepLR(adam, 4, 0.5);
            train(dev, a, adam, sched, 0, 2);
            Checkpoints.save(file, a, adam, sched);
            // The file as rnn4j wrote it before the generators were saved: no rng.* metadata.
            SafeTensors.Contents c = SafeTensors.read(file);
            Map<String, String> meta = new LinkedHashMap<>(c.metadata());
            assertTrue(meta.keySet().removeIf(k -> k.startsWith("rng.")));
            SafeTensors.write(old, c.tensors(), meta);

            try (GRU b = gru(dev, 5); Adam adam2 = Adam.builder(b.namedParameters().values()).build()) {
                b.setDropoutSeed(3);
                Map<String, Module.DropoutState> before = b.dropoutState();
                Checkpoints.load(old, b, adam2, new StepLR(adam2, 4, 0.5));
                assertEquals(before, b.dropoutState(), "an old file leaves the generators as they were");
                for (var e : a.stateDict().entrySet()) assertArrayEquals(e.getValue().data(), b.stateDict().get(e.getKey()).data());
            }

            // A file whose generator state does not fit the model, or is malformed, changes nothing.
            for (String bad : List.of("rng.dropout.rnn_lst.0", "rng.dropout")) {
                Map<String, String> m = new LinkedHashMap<>(c.metadata());
                m.put(bad, bad.equals("rng.dropout") ? "12" : "1 2");
                Path broken = dir.resolve("broken.safetensors");
                SafeTensors.write(broken, c.tensors(), m);
                try (GRU g = gru(dev, 5); Adam adam3 = Adam.builder(g.namedParameters().values()).build()) {
                    Map<String, HostTensor> weights = g.stateDict();
                    Map<String, Module.DropoutState> gen = g.dropoutState();
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> Checkpoints.load(broken, g, adam3, null));
                    assertTrue(e.getMessage().contains(broken.toString()), e.getMessage());
                    assertEquals(gen, g.dropoutState());
                    assertEquals(weights.keySet(), g.stateDict().keySet());
                    for (var w : weights.entrySet()) assertArrayEquals(w.getValue().data(), g.stateDict().get(w.getKey()).data());
                }
            }
        }
    }

    @Test
    void loadDropoutStateIsStrict() {
        try (Device dev = Device.reference(); GRU g = gru(dev, 1)) {
            Map<String, Module.DropoutState> st = g.dropoutState();
            assertEquals(List.of(""), List.copyOf(st.keySet()));
            assertThrows(IllegalArgumentException.class, () -> g.loadDropoutState(Map.of()));
            assertThrows(IllegalArgumentException.class,
                    () -> g.loadDropoutState(Map.of("", new Module.DropoutState(1, 2), "x", new Module.DropoutState(1, 2))));
            assertEquals(st, g.dropoutState());
            g.loadDropoutState(Map.of("", new Module.DropoutState(-5, 9)));
            assertEquals(new Module.DropoutState(-5, 9), g.dropoutState().get(""));
            assertNotEquals(st, g.dropoutState());
        }
    }
}
