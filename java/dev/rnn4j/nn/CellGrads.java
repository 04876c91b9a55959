package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/**
 * Gradients of one cell step; closing this closes all three.
 *
 * @param input d loss / d input, (B, I) or (I) unbatched
 * @param h     d loss / d h (the previous hidden state), (B, H)
 * @param c     d loss / d c (the previous cell state), (B, H), LSTMCell only, else null
 */
public record CellGrads(Tensor input, Tensor h, Tensor c) implements AutoCloseable {
    @Override
    public void close() { Closeables.closeAll(input, h, c); }
}
