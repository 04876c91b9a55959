package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/**
 * Gradients a backward pass returns for the forward inputs: input, h0 (null for SRU) and c0
 * (LSTM and SRU; else null). Parameter gradients are accumulated into {@link Parameter#grad()}.
 * Closing this closes all three.
 *
 * @param input d loss / d input, shaped like the forward input
 * @param h0    d loss / d h0, shaped like h_n; null for SRU
 * @param c0    d loss / d c0, shaped like c_n; null for RNN and GRU
 */
public record RecurrentGrads(Tensor input, Tensor h0, Tensor c0) implements AutoCloseable {
    @Override
    public void close() { Closeables.closeAll(input, h0, c0); }
}
