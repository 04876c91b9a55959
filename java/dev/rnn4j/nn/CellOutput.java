package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/** One step of a cell: h (B, H), c (B, H) for LSTMCell else null, and what backward needs. */
public final class CellOutput implements AutoCloseable {
    private final Tensor h, c;
    final AutoCloseable saved;
    private boolean closed;

    CellOutput(Tensor h, Tensor c, AutoCloseable saved) {
        this.h = h;
        this.c = c;
        this.saved = saved;
    }

    /** The new hidden state h: (B, H), or (H) unbatched. Throws IllegalStateException once closed. */
    public Tensor h() { check(); return h; }

    /** The new cell state c (LSTMCell; same shape as h), or null for the other cells. */
    public Tensor c() { check(); return c; }

    private void check() { if (closed) throw new IllegalStateException("CellOutput is closed"); }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Closeables.closeAll(h, c, saved);
    }
}
