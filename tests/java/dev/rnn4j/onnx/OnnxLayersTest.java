package dev.rnn4j.onnx;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.RecurrentOutput;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A graph's recurrent nodes taken out as rnn4j layers ({@link OnnxModel#recurrentLayers}): the
 * PyTorch-exported tagger's bidirectional LSTM, run as a layer between the graph's embedding and
 * read-out (done here on the host from the graph's initializers), gives PyTorch's log-probabilities
 * on every available backend; the layer trains like any other; weights fed as graph inputs are refused.
 */
class OnnxLayersTest {
    static final Path TAGGER = Path.of("tests/onnx/cases/tagger_bilstm");

    @TestFactory
    Stream<DynamicTest> theTaggersLstmAsALayerGivesPyTorchsOutput() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) {
            if (!b.available()) continue;
            tests.add(DynamicTest.dynamicTest(b.name(), () -> {
                OnnxModel m = OnnxModel.load(TAGGER.resolve("model.onnx"));
                long[] tokens = OnnxTensor.read(TAGGER.resolve("test_data_set_0/input_0.pb")).longs();
                OnnxTensor expected = OnnxTensor.read(TAGGER.resolve("test_data_set_0/output_0.pb"));
                float[] emb = m.initializer("emb.weight").floats(), w = m.initializer("onnx::MatMul_203").floats(),
                        bias = m.initializer("out.bias").floats();
                int T = 7, B = 3, E = 8, C = 5, H2 = 12;
                float[] x = new float[T * B * E];
                for (int i = 0; i < T * B; i++) System.arraycopy(emb, (int) tokens[i] * E, x, i * E, E);
                try (Device d = Device.open(b.name())) {
                    Map<String, RNNBase> layers = m.recurrentLayers(d);
                    assertEquals(1, layers.size(), layers.keySet().toString());
                    try (RNNBase lstm = layers.values().iterator().next(); Tensor in = d.tensor(x, T, B, E)) {
                        assertInstanceOf(LSTM.class, lstm);
                        assertTrue(lstm.bidirectional());
                        assertEquals(6, lstm.hiddenSize());
                        float[] y;
                        try (RecurrentOutput o = ((LSTM) lstm).forward(in)) { y = o.output().toArray(); }
                        float[] want = expected.floats();
                        for (int r = 0; r < T * B; r++) {
                            double[] logit = new double[C];
                            double max = Double.NEGATIVE_INFINITY, sum = 0;
                            for (int c = 0; c < C; c++) {
                                double s = bias[c];
                                for (int k = 0; k < H2; k++) s += (double) y[r * H2 + k] * w[k * C + c];
                                logit[c] = s;
                                max = Math.max(max, s);
                            }
                            for (int c = 0; c < C; c++) sum += Math.exp(logit[c] - max);
                            for (int c = 0; c < C; c++) {
                                double got = logit[c] - max - Math.log(sum), exp = want[r * C + c];
                                assertTrue(Math.abs(got - exp) <= 1e-5 + 1e-3 * Math.abs(exp),
                                        b.name() + " row " + r + " class " + c + ": " + got + " vs PyTorch " + exp);
                            }
                        }
                        // A layer like any other: its parameters take gradients in training mode.
                        try (RecurrentOutput o = ((LSTM) lstm).forward(in); Tensor dy = d.tensor(ones(T * B * H2), T, B, H2);
                             var g = ((LSTM) lstm).backward(o, dy, null, null)) {
                            float[] gw = lstm.namedParameters().get("weight_ih_l0").grad().toArray();
                            double n2 = 0;
                            for (float v : gw) n2 += v * v;
                            assertTrue(n2 > 0, "weight_ih_l0 has no gradient");
                        }
                    }
                }
            }));
        }
        return tests.stream();
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    @Test
    void weightsFedAsGraphInputsAreRefusedNamingTheNode() throws Exception {
        OnnxModel m = OnnxModel.load(Path.of("tests/onnx-node/test_lstm_defaults/model.onnx"));
        try (Device d = Device.open("reference")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.recurrentLayers(d));
            assertTrue(e.getMessage().startsWith("node '") && e.getMessage().contains("W ('W') is not an initializer"), e.getMessage());
            assertEquals(0, dev.rnn4j.backend.DeviceAccess.backend(d).liveBuffers(), "nothing left open");
        }
    }
}
