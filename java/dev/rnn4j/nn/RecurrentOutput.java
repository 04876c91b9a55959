package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/**
 * Result of a recurrent module's forward pass: output, last hidden state h_n (null for SRU),
 * last cell state c_n (LSTM, SRU; else null), and what the module saved for
 * {@code backward}. Closing it frees all of them; it may be passed to backward any number
 * of times before that.
 */
public final class RecurrentOutput implements AutoCloseable {
    private final Tensor output, hN, cN;
    final AutoCloseable saved;
    private boolean closed;

    RecurrentOutput(Tensor output, Tensor hN, Tensor cN, AutoCloseable saved) {
        this.output = output;
        this.hN = hN;
        this.cN = cN;
        this.saved = saved;
    }

    /** The output sequence: (T, B, D*H_out), batch-first or unbatched like the input. Throws IllegalStateException once closed. */
    public Tensor output() { check(); return output; }

    /** (num_layers*D, B, H_out); null for SRU. */
    public Tensor hN() { check(); return hN; }

    /** LSTM: (num_layers*D, B, H); SRU: (num_layers, B, D*H); else null. */
    public Tensor cN() { check(); return cN; }

    private void check() { if (closed) throw new IllegalStateException("RecurrentOutput is closed"); }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Closeables.closeAll(output, hN, cN, saved);
    }
}
