package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static dev.rnn4j.nn.TestSupport.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The forward of LSTM variants against an identity with the plain LSTM (their gradients are in
 * GradientCheckTest, their other backends in the layer parity tests, peepholes against ONNX's
 * node test): coupled gates, f = 1 - i, are the plain LSTM whose f rows are the negated i rows,
 * because sigmoid(-a) = 1 - sigmoid(a).
 */
class LstmVariantsTest {
    @Test
    void coupledInputForgetIsThePlainLstmWithNegatedInputRowsForF() {
        int I = 3, H = 4, T = 5, B = 2;
        SplittableRandom rng = new SplittableRandom(3);
        try (Device dev = Device.reference();
             LSTM coupled = LSTM.builder(I, H).coupledInputForget(true).bidirectional(true).seed(1).build(dev);
             LSTM plain = LSTM.builder(I, H).bidirectional(true).seed(2).build(dev);
             Tensor x = dev.tensor(randn(rng, T * B * I, 1), T, B, I);
             Tensor h0 = dev.tensor(randn(rng, 2 * B * H, 1), 2, B, H);
             Tensor c0 = dev.tensor(randn(rng, 2 * B * H, 1), 2, B, H)) {
            Map<String, Parameter> p = plain.namedParameters();
            for (var e : coupled.namedParameters().entrySet()) {
                Parameter src = e.getValue();
                float[] v = src.value().toArray();
                int cols = v.length / (4 * H);   // rows i, f, g, o of H each
                for (int k = 0; k < H * cols; k++) v[H * cols + k] = -v[k];
                p.get(e.getKey()).set(new HostTensor(src.value().shape(), v));
            }
            try (RecurrentOutput a = coupled.forward(x, h0, c0); RecurrentOutput b = plain.forward(x, h0, c0)) {
                assertArrayEquals(b.output().toArray(), a.output().toArray(), 1e-6f);
                assertArrayEquals(b.cN().toArray(), a.cN().toArray(), 1e-6f);
            }
        }
    }

    @Test
    void variantsThatDoNotCombineAreRefused() {
        try (Device dev = Device.reference()) {
            assertThrows(IllegalArgumentException.class, () -> LSTM.builder(2, 3).peepholes(true).projSize(2).build(dev));
            assertThrows(IllegalArgumentException.class, () -> LSTM.builder(2, 3).coupledInputForget(true).peepholes(true).build(dev));
        }
    }
}
