package dev.rnn4j.nn;

/**
 * Options the {@link SRU} and {@link SRUCell} builders share, with the original constructor's
 * argument names and defaults. Setters check their argument at once.
 */
public abstract sealed class SRUOptions<S extends SRUOptions<S>> permits SRU.Builder, SRUCell.Builder {
    double dropout, rnnDropout;
    boolean bidirectional;
    boolean useTanh = true, useRelu;

    SRUOptions() {}

    abstract S self();

    /**
     * Dropout probability on g(c) (the original's {@code dropout}), in [0, 1); default 0. An
     * {@link SRU} applies it in every layer but the last.
     */
    public S dropout(double p) { dropout = checkP("dropout", p); return self(); }

    /** Variational dropout probability on the layer input x (the original's {@code rnn_dropout}), in [0, 1); default 0. */
    public S rnnDropout(double p) { rnnDropout = checkP("rnnDropout", p); return self(); }

    /** Whether each layer also runs in reverse, doubling the output width (default false). */
    public S bidirectional(boolean on) { bidirectional = on; return self(); }

    /** tanh activation on c when relu is off; default true (off: identity). */
    public S useTanh(boolean on) { useTanh = on; return self(); }

    /** relu activation on c; takes precedence over tanh, as in the original; default false. */
    public S useRelu(boolean on) { useRelu = on; return self(); }

    private static double checkP(String what, double p) {
        // p = 1 would scale kept elements by 1/0; the mask primitive requires p < 1.
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException(what + " must be in [0, 1), got " + p);
        return p;
    }
}
