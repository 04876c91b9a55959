package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/**
 * Feeds a recurrent layer a long sequence chunk after chunk, carrying its state between
 * chunks on the device (no copy through the host): each {@link #forward} starts from the state
 * the previous chunk ended in (zeros at first and after {@link #reset()}). Works with
 * {@link RNN}, {@link GRU} (h), {@link LSTM} (h and c) and {@link SRU} (c).
 *
 * <p>Gradients do not flow from one chunk into the previous (truncated back-propagation through
 * time): a chunk's result may go through the layer's backward until the next {@link #forward},
 * which frees the state that chunk started from. The stream owns its state tensors;
 * {@link #close()} frees them (idempotent) but not the layer.
 *
 * <pre>{@code
 * try (RecurrentStream stream = new RecurrentStream(gru)) {
 *     for (Tensor chunk : chunks)                       // each (T_chunk, B, input_size)
 *         try (RecurrentOutput out = stream.forward(chunk)) { use(out.output()); }
 * }
 * }</pre>
 */
public final class RecurrentStream implements AutoCloseable {
    private final Module layer;
    private Tensor h, c, prevH, prevC;
    private boolean closed;

    /** A stream over an RNN, GRU or LSTM (any {@link RNNBase}: h, and c where it has a cell state). */
    public RecurrentStream(RNNBase layer) {
        if (layer == null) throw new NullPointerException("layer is null");
        this.layer = layer;
    }

    /** A stream over an SRU (its state is c). */
    public RecurrentStream(SRU layer) {
        if (layer == null) throw new NullPointerException("layer is null");
        this.layer = layer;
    }

    /**
     * Runs the layer on {@code chunk} from the carried state and carries on from its final state.
     *
     * @param chunk the layer's input for this stretch of time, with the same batch size every call
     * @return the layer's result (the caller closes it)
     * @throws IllegalArgumentException as the layer's forward, e.g. if the batch size changed
     *                                  (call {@link #reset()} first to start a new batch)
     */
    public RecurrentOutput forward(Tensor chunk) {
        if (closed) throw new IllegalStateException("RecurrentStream is closed");
        RecurrentOutput out = switch (layer) {
            case RNNBase r -> r.forwardStates(chunk, h, c, null);
            case SRU s -> s.forward(chunk, c);
            default -> throw new AssertionError(layer);
        };
        Tensor nh = null, nc = null;
        try {
            if (out.hN() != null) nh = out.hN().copy();
            if (out.cN() != null) nc = out.cN().copy();
        } catch (RuntimeException | Error e) {
            Closeables.closeAll(nh, nc, out);
            throw e;
        }
        Closeables.closeAll(prevH, prevC);
        prevH = h;
        prevC = c;
        h = nh;
        c = nc;
        return out;
    }

    /** The carried hidden state h (layout of the layer's h_n), or null before the first chunk and for SRU. */
    public Tensor h() { return h; }

    /** The carried cell state c (LSTM, SRU), or null before the first chunk and for RNN/GRU. */
    public Tensor c() { return c; }

    /** Forgets the state: the next chunk starts from zeros. */
    public void reset() {
        Closeables.closeAll(h, c, prevH, prevC);
        h = c = prevH = prevC = null;
    }

    /** Frees the carried state; idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        reset();
    }
}
