package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/** Gradients of one cell step w.r.t. its input (B, I), h (B, H) and c (B, H; LSTMCell only, else null). */
public record CellGrads(Tensor input, Tensor h, Tensor c) implements AutoCloseable {
    @Override
    public void close() { Closeables.closeAll(input, h, c); }
}
