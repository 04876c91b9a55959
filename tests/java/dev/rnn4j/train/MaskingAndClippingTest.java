package dev.rnn4j.train;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Parameter;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The edges of the masked losses (nothing counts, bad targets and weights) and clipGradNorm's
 * non-finite check, on every available backend; the values themselves are checked against
 * PyTorch in {@link TrainVectorsTest}.
 */
class MaskingAndClippingTest {
    static Stream<String> backends() { return Backends.available().stream(); }

    @ParameterizedTest
    @MethodSource("backends")
    void nonFiniteGradientIsReportedByNameAndLeftUnchanged(String backend) {
        try (Device dev = Device.open(backend); Linear lin = new Linear(dev, 3, 2, true, 7)) {
            float[] w = {1, 2, 3, 4, 5, 6};
            float[] b = {0.5f, Float.NaN};
            lin.weight().grad().copyFrom(w);
            lin.bias().grad().copyFrom(b);
            Map<String, Parameter> named = lin.namedParameters();
            NonFiniteGradientException e = assertThrows(NonFiniteGradientException.class,
                    () -> Gradients.clipGradNorm(named, 1.0, true));
            assertEquals("bias", e.parameter());
            assertTrue(Double.isNaN(e.totalNorm()) && Double.isNaN(e.parameterNorm()));
            assertTrue(e.getMessage().contains("bias"), e.getMessage());
            assertArrayEquals(w, lin.weight().grad().toArray());
            assertArrayEquals(b, lin.bias().grad().toArray());

            // the collection form names the position and shape; infinity counts too
            lin.bias().grad().copyFrom(new float[] {0.5f, 1f});
            lin.weight().grad().copyFrom(new float[] {1, Float.POSITIVE_INFINITY, 3, 4, 5, 6});
            e = assertThrows(NonFiniteGradientException.class,
                    () -> Gradients.clipGradNorm(List.of(lin.weight(), lin.bias()), 1.0, true));
            assertEquals("parameter 0 (shape [2, 3])", e.parameter());
            assertEquals(Double.POSITIVE_INFINITY, e.totalNorm());

            // without the check, the infinite norm is returned and the coefficient 1 / inf = 0 applied, as in PyTorch
            assertEquals(Double.POSITIVE_INFINITY, Gradients.clipGradNorm(List.of(lin.weight(), lin.bias()), 1.0));
            assertArrayEquals(new float[] {0f, 0f}, lin.bias().grad().toArray());
            lin.bias().grad().copyFrom(new float[] {0.5f, 1f});

            // finite gradients: the check changes nothing, the gradients are clipped as before
            lin.weight().grad().copyFrom(w);
            double norm = Gradients.clipGradNorm(named, 1.0, true);
            assertEquals(Math.sqrt(91 + 0.25 + 1), norm, 1e-5);
            assertEquals(1.0, Gradients.norm(named.values()), 1e-5);
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void crossEntropyWithEveryRowIgnored(String backend) {
        try (Device dev = Device.open(backend); Tensor logits = dev.tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            int[] none = {Losses.IGNORE_INDEX, Losses.IGNORE_INDEX};
            try (LossValue l = Losses.crossEntropy(logits, none, null, Losses.IGNORE_INDEX, Reduction.MEAN)) {
                assertTrue(Double.isNaN(l.value()), "PyTorch's 0/0: " + l.value());
                assertArrayEquals(new float[6], l.grad().toArray());
            }
            try (LossValue l = Losses.crossEntropy(logits, none, new float[] {1, 2, 3}, Losses.IGNORE_INDEX, Reduction.SUM)) {
                assertEquals(0.0, l.value());
                assertArrayEquals(new float[6], l.grad().toArray());
            }
            // an ignored row leaves the other row's loss as if it were alone
            try (LossValue l = Losses.crossEntropy(logits, new int[] {Losses.IGNORE_INDEX, 2}, null, Losses.IGNORE_INDEX, Reduction.MEAN);
                 Tensor second = logits.slice(0, 1, 2); LossValue alone = Losses.crossEntropy(second, new int[] {2})) {
                assertEquals(alone.value(), l.value(), 1e-6);
                float[] g = l.grad().toArray(), ga = alone.grad().toArray();
                for (int j = 0; j < 3; j++) {
                    assertEquals(0f, g[j]);
                    assertEquals(ga[j], g[3 + j], 1e-7);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void crossEntropyRejectsBadTargetsAndWeights(String backend) {
        try (Device dev = Device.open(backend); Tensor logits = dev.zeros(2, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Losses.crossEntropy(logits, new int[] {0, -5}, null, Losses.IGNORE_INDEX, Reduction.MEAN));
            assertTrue(e.getMessage().contains("targets[1] = -5") && e.getMessage().contains("-100"), e.getMessage());
            // the form without ignoreIndex still takes class indices only
            assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(logits, new int[] {0, Losses.IGNORE_INDEX}));
            assertThrows(IllegalArgumentException.class,
                    () -> Losses.crossEntropy(logits, new int[] {0, 1}, new float[] {1, 1}, Losses.IGNORE_INDEX, Reduction.MEAN));
            assertThrows(IllegalArgumentException.class,
                    () -> Losses.crossEntropy(logits, new int[] {0, 1}, new float[] {1, Float.NaN, 1}, Losses.IGNORE_INDEX, Reduction.MEAN));
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void weightedMseEdges(String backend) {
        try (Device dev = Device.open(backend); Tensor x = dev.tensor(new float[] {1, 2, 3, 4}, 2, 2);
             Tensor y = dev.zeros(2, 2); Tensor zero = dev.zeros(2, 2); Tensor mask = dev.tensor(new float[] {1, 0, 0, 1}, 2, 2)) {
            try (LossValue l = Losses.mse(x, y, zero, Reduction.MEAN)) {
                assertTrue(Double.isNaN(l.value()));
                assertArrayEquals(new float[4], l.grad().toArray());
            }
            // hand values: (1 + 16) / 2 and gradient 2 * mask * x / 2
            try (LossValue l = Losses.mse(x, y, mask, Reduction.MEAN)) {
                assertEquals(8.5, l.value(), 1e-6);
                assertArrayEquals(new float[] {1, 0, 0, 4}, l.grad().toArray(), 1e-6f);
            }
            try (Tensor wrong = dev.zeros(4)) {
                assertThrows(IllegalArgumentException.class, () -> Losses.mse(x, y, wrong, Reduction.MEAN));
            }
        }
    }
}
