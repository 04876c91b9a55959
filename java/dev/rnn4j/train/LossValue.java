package dev.rnn4j.train;

import dev.rnn4j.Tensor;

/**
 * A loss and its gradient with respect to the loss's input, as {@link Losses} returns them.
 * Owns {@code grad}: closing this closes it (idempotent).
 *
 * @param value the loss, computed in double from float32 inputs
 * @param grad  d value / d input, shaped like the input, on its device
 */
public record LossValue(double value, Tensor grad) implements AutoCloseable {
    /** Frees the gradient tensor. */
    @Override
    public void close() { grad.close(); }
}
