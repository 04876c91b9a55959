package dev.rnn4j.nn;

/**
 * Options the {@link SRU} and {@link SRUCell} builders share, with the sru package's argument
 * names and defaults. Setters check their argument at once; combinations are checked by
 * {@link #validate} when the layer is built.
 *
 * <p>{@link #v1(boolean)} selects the layer. {@code v1(true)}, the default of this library, is
 * the 2017 SRU exactly as before (options {@code dropout}, {@code rnnDropout},
 * {@code bidirectional}, {@code useTanh} (default true), {@code useRelu}; parameters
 * {@code weight}, {@code bias}). {@code v1(false)} is the SRU of the sru package 2.x (2.6.0):
 * learned peepholes {@code weight_c}, the {@code scale_x} buffer, and the options
 * {@code projectionSize}, {@code layerNorm}, {@code normalizeAfter}, {@code highwayBias},
 * {@code hasSkipTerm}, {@code rescale}, {@code weightCInit} with sru's defaults
 * ({@code useTanh} false, {@code rescale} false for an {@link SRU} and true for an
 * {@link SRUCell}, as in sru). The 2.x-only options are refused in v1 mode, naming the option.
 */
public abstract sealed class SRUOptions<S extends SRUOptions<S>> permits SRU.Builder, SRUCell.Builder {
    double dropout, rnnDropout;
    boolean bidirectional;
    Boolean useTanh;
    boolean useRelu;
    boolean v1 = true;
    int projectionSize;
    boolean layerNorm, normalizeAfter;
    double highwayBias;
    boolean hasSkipTerm = true;
    Boolean rescale;
    Double weightCInit;
    /** Which 2.x-only options were set, for the v1-mode error. */
    final java.util.LinkedHashSet<String> set2x = new java.util.LinkedHashSet<>();

    SRUOptions() {}

    abstract S self();

    /**
     * Dropout probability in [0, 1); default 0. v1: a mask on g(c); 2.x: sru's {@code mask_c},
     * h = x' + (g(c) - x')*mask*r. An {@link SRU} applies it in every layer but the last.
     */
    public S dropout(double p) { dropout = checkP("dropout", p); return self(); }

    /** Variational dropout probability on the layer input x (the original's {@code rnn_dropout}), in [0, 1); default 0. */
    public S rnnDropout(double p) { rnnDropout = checkP("rnnDropout", p); return self(); }

    /** Whether each layer also runs in reverse, doubling the output width (default false). */
    public S bidirectional(boolean on) { bidirectional = on; return self(); }

    /** tanh activation on c when relu is off; default true in v1 mode, false in 2.x mode (sru's default). */
    public S useTanh(boolean on) { useTanh = on; return self(); }

    /** relu activation on c (v1 only: sru 2.x has none); takes precedence over tanh; default false. */
    public S useRelu(boolean on) { useRelu = on; return self(); }

    /** true (default here): the 2017 SRU; false: the sru package 2.x layer. */
    public S v1(boolean on) { v1 = on; return self(); }

    /** 2.x: factorise weight through an inner width (0 &lt; size &lt; both the input and output widths); default 0 (none). */
    public S projectionSize(int size) {
        if (size < 0) throw new IllegalArgumentException("projectionSize must be >= 0, got " + size);
        projectionSize = size;
        set2x.add("projectionSize");
        return self();
    }

    /** 2.x: layer normalisation (before the layer, or after it with {@link #normalizeAfter}); default false. */
    public S layerNorm(boolean on) { layerNorm = on; set2x.add("layerNorm"); return self(); }

    /** 2.x: with {@code layerNorm}, normalise the layer output h instead of its input; default false. */
    public S normalizeAfter(boolean on) { normalizeAfter = on; set2x.add("normalizeAfter"); return self(); }

    /** 2.x: initial value of the highway (reset-gate) bias; default 0. */
    public S highwayBias(double v) {
        if (!Double.isFinite(v)) throw new IllegalArgumentException("highwayBias must be finite, got " + v);
        highwayBias = v;
        set2x.add("highwayBias");
        return self();
    }

    /** 2.x: whether h has the skip (highway) term; default true. */
    public S hasSkipTerm(boolean on) { hasSkipTerm = on; set2x.add("hasSkipTerm"); return self(); }

    /** 2.x: scale the skip term by scale_x = sqrt(1 + 2 exp(highwayBias)); default false ({@link SRU}) / true ({@link SRUCell}). */
    public S rescale(boolean on) { rescale = on; set2x.add("rescale"); return self(); }

    /** 2.x: draw weight_c from U(-v, v) instead of sru's default (Var = 1/2); v > 0. */
    public S weightCInit(double v) {
        if (!(v > 0) || !Double.isFinite(v)) throw new IllegalArgumentException("weightCInit must be positive and finite, got " + v);
        weightCInit = v;
        set2x.add("weightCInit");
        return self();
    }

    /** Checks the combination of options. */
    void validate() {
        if (v1) {
            if (!set2x.isEmpty())
                throw new IllegalArgumentException(String.join(", ", set2x) + (set2x.size() == 1 ? " is" : " are")
                        + " an option of the sru 2.x layer; build it with v1(false)");
        } else {
            if (useRelu) throw new IllegalArgumentException("useRelu: the sru 2.x layer (v1(false)) has no relu activation");
            if (normalizeAfter && !layerNorm) throw new IllegalArgumentException("normalizeAfter needs layerNorm(true)");
        }
    }

    /** useTanh as set, else the mode's default. */
    boolean tanh() { return useTanh != null ? useTanh : v1; }

    /** rescale as set, else the builder's sru default. */
    boolean rescaleOr(boolean defaultRescale) { return rescale != null ? rescale : defaultRescale; }

    private static double checkP(String what, double p) {
        // p = 1 would scale kept elements by 1/0; the mask primitive requires p < 1.
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException(what + " must be in [0, 1), got " + p);
        return p;
    }
}
