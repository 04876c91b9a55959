package dev.rnn4j.lm;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.Parameter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The language model: names, shapes, counts, initialisation, tying and its whole gradient. */
class LanguageModelTest {
    private final Device dev = Device.reference();

    @AfterEach
    void noLeaks() {
        assertEquals(0, DeviceAccess.backend(dev).liveBuffers(), "leaked buffers");
        dev.close();
    }

    @Test
    void sruNamesShapesAndTyingAreTheOriginals() {
        try (LanguageModel m = new LanguageModel(dev, 11, 5, 3, false, 0.5, 0.2)) {
            assertEquals(List.of("embedding_layer.embedding.weight",
                    "rnn.rnn_lst.0.weight", "rnn.rnn_lst.0.bias", "rnn.rnn_lst.1.weight", "rnn.rnn_lst.1.bias",
                    "rnn.rnn_lst.2.weight", "rnn.rnn_lst.2.bias", "output_layer.bias"), List.copyOf(m.namedParameters().keySet()));
            Map<String, HostTensor> sd = m.stateDict();
            assertEquals(List.of("embedding_layer.embedding.weight",
                    "rnn.rnn_lst.0.weight", "rnn.rnn_lst.0.bias", "rnn.rnn_lst.1.weight", "rnn.rnn_lst.1.bias",
                    "rnn.rnn_lst.2.weight", "rnn.rnn_lst.2.bias", "output_layer.weight", "output_layer.bias"), List.copyOf(sd.keySet()));
            assertArrayEquals(new int[] {5, 15}, sd.get("rnn.rnn_lst.1.weight").shape());   // K = 3: d x 3d
            assertArrayEquals(new int[] {10}, sd.get("rnn.rnn_lst.1.bias").shape());
            assertArrayEquals(new int[] {11, 5}, sd.get("output_layer.weight").shape());
            assertSame(m.embedding().weight(), m.outputLayer().weight(), "tied");
            assertEquals(11 * 5 + 3 * (5 * 15 + 10) + 11, m.numParameters());
        }
    }

    @Test
    void lstmNamesAreTheOriginals() {
        try (LanguageModel m = new LanguageModel(dev, 7, 3, 2, true, 0.5, 0.2)) {
            assertEquals(List.of("embedding_layer.embedding.weight",
                    "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                    "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                    "output_layer.weight", "output_layer.bias"), List.copyOf(m.stateDict().keySet()));
            assertEquals(7 * 3 + 2 * (2 * 12 * 3 + 2 * 12) + 7, m.numParameters());
        }
    }

    /** The PTB configuration: d = 910, depth 6, 10000 words. */
    @Test
    void ptbParameterCount() {
        try (LanguageModel m = new LanguageModel(dev, 10000, 910, 6, false, 0.7, 0.2)) {
            Map<String, Parameter> p = m.allNamedParameters();
            for (int k = 0; k < 6; k++) {
                assertArrayEquals(new int[] {910, 2730}, p.get("rnn.rnn_lst." + k + ".weight").shape());
                assertArrayEquals(new int[] {1820}, p.get("rnn.rnn_lst." + k + ".bias").shape());
            }
            assertArrayEquals(new int[] {10000, 910}, p.get("embedding_layer.embedding.weight").shape());
            assertSame(p.get("embedding_layer.embedding.weight"), p.get("output_layer.weight"));
            assertArrayEquals(new int[] {10000}, p.get("output_layer.bias").shape());
            // 10000*910 + 6*(910*2730 + 1820) + 10000, the tied matrix once
            assertEquals(24_026_720L, m.numParameters());
        }
    }

    @Test
    void initialisationRule() {
        try (LanguageModel m = new LanguageModel(dev, 9, 6, 2, false, 0, 0)) {
            m.initialize(5, -3f);
            double bound = Math.sqrt(3.0 / 6);
            for (var e : m.namedParameters().entrySet()) {
                float[] v = e.getValue().value().toArray();
                if (e.getValue().shape().length > 1) {
                    for (float x : v) assertTrue(Math.abs(x) <= bound, e.getKey());
                    assertTrue(java.util.stream.IntStream.range(0, v.length).anyMatch(i -> v[i] != 0), e.getKey());
                } else if (e.getKey().startsWith("rnn.")) {
                    for (int i = 0; i < v.length; i++) assertEquals(i < v.length / 2 ? 0f : -3f, v[i], e.getKey() + "[" + i + "]");
                } else {
                    for (float x : v) assertEquals(0f, x, e.getKey());
                }
            }
            float[] before = m.embedding().weight().value().toArray();
            m.initialize(5, -3f);
            assertArrayEquals(before, m.embedding().weight().value().toArray(), "deterministic for a seed");
        }
    }

    @Test
    void stateCarriesAcrossWindowsAndStartsAtZero() {
        try (LanguageModel m = new LanguageModel(dev, 6, 4, 2, false, 0, 0)) {
            m.initialize(1, 0f);
            m.eval();
            int[] x = {1, 2, 3, 4}, y = {2, 3, 4, 5};
            try (LanguageModel.State s = m.newState(1)) {
                for (float v : s.c().toArray()) assertEquals(0f, v);
                double whole = m.evalWindow(x, y, 4, 1, s);
                s.reset();
                double a = m.evalWindow(new int[] {1, 2}, new int[] {2, 3}, 2, 1, s);
                double b = m.evalWindow(new int[] {3, 4}, new int[] {4, 5}, 2, 1, s);
                assertEquals(whole, a + b, 1e-4, "two windows with the carried state = one window");
            }
        }
    }

    /**
     * The gradient of the whole model (embedding, dropout, every recurrent layer, output layer,
     * tied matrix, log-softmax + NLL / batch) against central differences of the window loss,
     * with dropout active under a fixed seed and a non-zero carried state.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void wholeModelGradientMatchesFiniteDifferences(boolean lstm) {
        int vocab = 7, d = 4, steps = 3, batch = 2;
        SplittableRandom r = new SplittableRandom(11);
        int[] x = new int[steps * batch], y = new int[steps * batch];
        for (int i = 0; i < x.length; i++) { x[i] = r.nextInt(vocab); y[i] = r.nextInt(vocab); }
        try (LanguageModel m = new LanguageModel(dev, vocab, d, 2, lstm, 0.3, 0.25);
             LanguageModel.State s = m.newState(batch)) {
            m.initialize(3, -1f);
            // non-zero biases and state, so every term takes part
            for (Parameter p : m.namedParameters().values())
                if (p.shape().length == 1) {
                    float[] v = p.value().toArray();
                    for (int i = 0; i < v.length; i++) v[i] += (float) (r.nextDouble() - 0.5);
                    p.set(v);
                }
            float[] c0 = new float[(int) s.c().numel()];
            for (int i = 0; i < c0.length; i++) c0[i] = (float) (r.nextDouble() - 0.5);
            float[] h0 = lstm ? c0.clone() : null;
            if (lstm) for (int i = 0; i < h0.length; i++) h0[i] = (float) (r.nextDouble() - 0.5);

            m.train(true);
            long seed = 99;
            java.util.function.DoubleSupplier loss = () -> {
                s.c().copyFrom(c0);
                if (lstm) s.h().copyFrom(h0);
                m.setDropoutSeed(seed);
                return m.evalWindow(x, y, steps, batch, s) / batch;
            };
            s.c().copyFrom(c0);
            if (lstm) s.h().copyFrom(h0);
            m.setDropoutSeed(seed);
            m.zeroGrad();
            double l0 = m.trainWindow(x, y, steps, batch, s) / batch;
            assertEquals(loss.getAsDouble(), l0, 1e-9, "training forward = forward only, same masks");

            double eps = 1e-2;
            List<String> bad = new ArrayList<>();
            int checked = 0;
            for (var e : m.namedParameters().entrySet()) {
                Parameter p = e.getValue();
                float[] v = p.value().toArray(), g = p.grad().toArray();
                for (int i = 0; i < v.length; i++) {
                    float keep = v[i];
                    v[i] = (float) (keep + eps);
                    p.set(v);
                    double up = loss.getAsDouble();
                    v[i] = (float) (keep - eps);
                    p.set(v);
                    double down = loss.getAsDouble();
                    v[i] = keep;
                    p.set(v);
                    double fd = (up - down) / (2 * eps);
                    checked++;
                    if (Math.abs(fd - g[i]) > 2e-3 + 2e-2 * Math.abs(fd))
                        bad.add(e.getKey() + "[" + i + "]: backward " + g[i] + ", finite difference " + fd);
                }
            }
            assertTrue(checked > 100);
            assertTrue(bad.isEmpty(), bad.size() + " of " + checked + " gradients off:\n" + String.join("\n", bad));
        }
    }
}
