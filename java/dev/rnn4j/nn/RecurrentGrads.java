package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/**
 * Gradients a backward pass returns for the forward inputs: input, h0 (null for SRU) and c0
 * (LSTM and SRU; else null). Parameter gradients are accumulated into {@link Parameter#grad()}.
 */
public record RecurrentGrads(Tensor input, Tensor h0, Tensor c0) implements AutoCloseable {
    @Override
    public void close() { Closeables.closeAll(input, h0, c0); }
}
