package dev.rnn4j.lm;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.Closeables;
import dev.rnn4j.nn.Dropout;
import dev.rnn4j.nn.Embedding;
import dev.rnn4j.nn.Init;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;


/**
 * The word-level language model of the SRU paper's Penn Treebank experiment:
 *
 * <pre>
 *   embedding (V x d) -> dropout -> SRU(d, d, depth) or LSTM(d, d, depth) -> dropout -> linear (d -> V)
 * </pre>
 *
 * with the output layer's weight tied to the embedding matrix. The children and parameters carry
 * the original model's {@code state_dict} names: {@code embedding_layer.embedding.weight},
 * {@code rnn.rnn_lst.{k}.weight} and {@code rnn.rnn_lst.{k}.bias} (SRU) or
 * {@code rnn.weight_ih_l{k}}, {@code rnn.weight_hh_l{k}}, {@code rnn.bias_ih_l{k}},
 * {@code rnn.bias_hh_l{k}} (LSTM), {@code output_layer.weight} (the tied matrix, a second name
 * for the embedding weight) and {@code output_layer.bias}.
 *
 * <p>The SRU is built as in the original: {@code SRU(d, d, depth, dropout=rnn_dropout,
 * rnn_dropout=rnn_dropout, use_tanh=0)}; the LSTM as {@code nn.LSTM(d, d, depth, dropout=rnn_dropout)}.
 * With {@code sru2} the same model has sru 2.x layers, as the current sru repository's script
 * builds them with {@code v1=False}: {@code SRU(d, d, depth, dropout=rnn_dropout,
 * rnn_dropout=rnn_dropout, use_tanh=0, rescale=False, v1=False, highway_bias=bias)}, optionally
 * with {@code layer_norm=True}; its parameters add {@code rnn.rnn_lst.{k}.weight_c}, the buffer
 * {@code rnn.rnn_lst.{k}.scale_x} and {@code rnn.rnn_lst.{k}.layer_norm.weight/.bias}.
 * One dropout module (probability {@code dropout}) is applied to the embeddings and to the
 * recurrent output. Everything runs over the {@link Backend} primitives of the model's device.
 */
public final class LanguageModel extends Module {
    private final int vocabSize, d, depth;
    private final boolean lstm, sru2, layerNorm;
    private final double dropoutP, rnnDropoutP;
    private final Dropout drop;
    private final Embedding embedding;
    private final Module rnn;
    private final Linear outputLayer;

    /** The original's {@code EmbeddingLayer}: a holder whose only child is {@code embedding}. */
    private static final class EmbeddingLayer extends Module {
        private final Embedding embedding;

        EmbeddingLayer(Device device, int vocab, int d) {
            super(device);
            this.embedding = registerModule("embedding", new Embedding(device, vocab, d));
        }

        @Override
        public String toString() { return "EmbeddingLayer(" + embedding + ")"; }
    }

    /**
     * Builds the model with the modules' own default initialisation; call {@link #initialize}
     * for the language model's rule.
     *
     * @param vocabSize  V, the number of words (&gt;= 1)
     * @param d          embedding and hidden size (&gt;= 1)
     * @param depth      number of recurrent layers (&gt;= 1)
     * @param lstm       LSTM instead of SRU
     * @param dropout    dropout on the embeddings and on the recurrent output, in [0, 1)
     * @param rnnDropout the recurrent layers' dropout, in [0, 1)
     */
    public LanguageModel(Device device, int vocabSize, int d, int depth, boolean lstm, double dropout, double rnnDropout) {
        this(device, vocabSize, d, depth, lstm, dropout, rnnDropout, false, false, 0);
    }

    /**
     * As above; {@code sru2} builds sru 2.x layers (not with lstm), with {@code layerNorm} a layer
     * norm in each, and {@code highwayBias} their highway_bias (sru's constructor argument).
     */
    public LanguageModel(Device device, int vocabSize, int d, int depth, boolean lstm, double dropout, double rnnDropout,
                         boolean sru2, boolean layerNorm, double highwayBias) {
        super(device);
        if (sru2 && lstm) throw new IllegalArgumentException("sru2 and lstm cannot be combined");
        if (layerNorm && !sru2) throw new IllegalArgumentException("layerNorm needs sru2 (the v1 SRU has no layer norm)");
        this.sru2 = sru2;
        this.layerNorm = layerNorm;
        if (vocabSize < 1) throw new IllegalArgumentException("vocabulary size must be >= 1, got " + vocabSize);
        if (d < 1) throw new IllegalArgumentException("d must be >= 1, got " + d);
        if (depth < 1) throw new IllegalArgumentException("depth must be >= 1, got " + depth);
        this.vocabSize = vocabSize;
        this.d = d;
        this.depth = depth;
        this.lstm = lstm;
        this.dropoutP = dropout;
        this.rnnDropoutP = rnnDropout;
        boolean ok = false;
        try {
            this.drop = registerModule("drop", new Dropout(device, dropout));
            EmbeddingLayer el = registerModule("embedding_layer", new EmbeddingLayer(device, vocabSize, d));
            this.embedding = el.embedding;
            this.rnn = registerModule("rnn", lstm
                    ? LSTM.builder(d, d).numLayers(depth).dropout(rnnDropout).build(device)
                    : sru2
                    ? SRU.builder(d, d).v1(false).numLayers(depth).dropout(rnnDropout).rnnDropout(rnnDropout).useTanh(false)
                            .rescale(false).highwayBias(highwayBias).layerNorm(layerNorm).build(device)
                    : SRU.builder(d, d).numLayers(depth).dropout(rnnDropout).rnnDropout(rnnDropout).useTanh(false).build(device));
            this.outputLayer = registerModule("output_layer", new Linear(embedding.weight(), true));
            ok = true;
        } finally {
            if (!ok) close();
        }
    }

    public int vocabSize() { return vocabSize; }

    public int d() { return d; }

    public int depth() { return depth; }

    public boolean isLstm() { return lstm; }

    /** Whether the recurrent layers are sru 2.x layers. */
    public boolean isSru2() { return sru2; }

    public boolean hasLayerNorm() { return layerNorm; }

    public Embedding embedding() { return embedding; }

    public Linear outputLayer() { return outputLayer; }

    /** The recurrent part: an {@link SRU} or an {@link LSTM}. */
    public Module rnn() { return rnn; }

    /**
     * The language model's initialisation: every matrix from U(-sqrt(3/d), +sqrt(3/d)) and every
     * vector zero ({@link Init#uniformMatricesZeroVectors}, parameters visited once in order,
     * drawn from {@code seed}); then, for the SRU, the highway half of every layer's bias is set to
     * {@code highwayBias} (the original's {@code set_bias(args.bias)}). sru 2.x layers then get
     * back their own weight_c (Var 1/2) and layer norm (weight 1, bias 0) from sru's
     * reset_parameters, which the zero-vectors rule would otherwise switch off; scale_x, a buffer,
     * stays as the layer set it.
     */
    public void initialize(long seed, float highwayBias) {
        checkOpen();
        Init.uniformMatricesZeroVectors(this, d, seed);
        if (rnn instanceof SRU sru) {
            if (!sru.v1()) sru.resetPeepholesAndNorms(seed);
            sru.setBias(highwayBias);
        }
    }

    // ---------------------------------------------------------------- recurrent state

    /**
     * The recurrent state carried from one window to the next: c (depth, B, d) for the SRU; h and
     * c (depth, B, d) each for the LSTM. Starts at zero.
     */
    public final class State implements AutoCloseable {
        private final int batch;
        private final Tensor h, c;

        private State(int batch) {
            this.batch = batch;
            Tensor hh = null, cc = null;
            boolean ok = false;
            try {
                cc = Tensor.zeros(device, depth, batch, d);
                if (lstm) hh = Tensor.zeros(device, depth, batch, d);
                ok = true;
            } finally {
                if (!ok) Closeables.closeAll(hh, cc);
            }
            this.h = hh;
            this.c = cc;
        }

        public int batch() { return batch; }

        /** LSTM: h (depth, B, d); SRU: null. */
        public Tensor h() { return h; }

        /** c (depth, B, d). */
        public Tensor c() { return c; }

        /** Sets the state back to zero. */
        public void reset() {
            c.fill(0f);
            if (h != null) h.fill(0f);
        }

        @Override
        public void close() { Closeables.closeAll(h, c); }
    }

    /** A zero state for batches of {@code batch} sequences. */
    public State newState(int batch) {
        checkOpen();
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        return new State(batch);
    }

    // ---------------------------------------------------------------- windows

    /**
     * One training window: forward over {@code x} (steps x batch token ids, time-major), the
     * summed cross-entropy against {@code y}, and, if that is finite, backward with the loss
     * scaled by 1/batch (the script's {@code criterion(output, y) / x.size(1)}), adding to every
     * parameter's gradient. The state is read as the initial state (gradients do not flow into
     * it: it is detached) and then replaced by the final state. Dropout is active in training
     * mode; its masks come from the modules' seed streams ({@link #setDropoutSeed}).
     *
     * @return the summed negative log-likelihood of the window (not divided by anything); when it
     *         is NaN or infinite nothing was backpropagated
     */
    public double trainWindow(int[] x, int[] y, int steps, int batch, State state) {
        return window(x, y, steps, batch, state, true);
    }

    /** Forward only: the summed negative log-likelihood of {@code y}; the state advances. */
    public double evalWindow(int[] x, int[] y, int steps, int batch, State state) {
        return window(x, y, steps, batch, state, false);
    }

    /**
     * Forward only, returning the (steps*batch, V) output logits; the state advances. The
     * caller closes the tensor.
     */
    public Tensor logits(int[] x, int steps, int batch, State state) {
        checkWindow(x, null, steps, batch, state);
        try (Tensor emb = embedding.forward(x, steps, batch);
             Dropout.Output d1 = drop.forward(emb);
             RecurrentOutput r = rnnForward(d1.output(), state);
             Dropout.Output d2 = drop.forward(r.output())) {
            Tensor out = outputLayer.forward(d2.output());
            copyState(r, state);
            return out;
        }
    }

    private double window(int[] x, int[] y, int steps, int batch, State state, boolean backward) {
        checkWindow(x, y, steps, batch, state);
        Backend be = DeviceAccess.backend(device);
        int rows = steps * batch;
        try (Tensor emb = embedding.forward(x, steps, batch);
             Dropout.Output d1 = drop.forward(emb);
             RecurrentOutput r = rnnForward(d1.output(), state);
             Dropout.Output d2 = drop.forward(r.output());
             Tensor logits = outputLayer.forward(d2.output())) {
            // The gradient of (sum of NLL) / batch w.r.t. the logits replaces them in place.
            double nll = be.logSoftmaxNll(rows, vocabSize, DeviceAccess.buffer(logits), 0, y, 0, 1f / batch,
                    backward ? DeviceAccess.buffer(logits) : null, 0);
            if (backward && Double.isFinite(nll)) {
                try (Tensor dDropped = outputLayer.backward(d2.output(), logits);
                     Tensor dRnnOut = drop.backward(d2, dDropped);
                     RecurrentGrads g = rnnBackward(r, dRnnOut);
                     Tensor dEmb = drop.backward(d1, g.input())) {
                    embedding.backward(x, dEmb);
                }
            }
            copyState(r, state); // only now: the forward borrowed the old state until backward
            return nll;
        }
    }

    private void checkWindow(int[] x, int[] y, int steps, int batch, State state) {
        checkOpen();
        if (x == null) throw new NullPointerException("x is null");
        if (state == null) throw new NullPointerException("state is null");
        if (steps < 1 || batch < 1) throw new IllegalArgumentException("steps and batch must be >= 1, got " + steps + ", " + batch);
        if (state.batch != batch)
            throw new IllegalArgumentException("state is for batch " + state.batch + ", window has batch " + batch);
        if (x.length != (long) steps * batch)
            throw new IllegalArgumentException("x: " + x.length + " ids do not fill " + steps + " x " + batch);
        if (y != null) {
            if (y.length != x.length) throw new IllegalArgumentException("y: " + y.length + " ids, x has " + x.length);
            for (int i = 0; i < y.length; i++)
                if (y[i] < 0 || y[i] >= vocabSize)
                    throw new IllegalArgumentException("y[" + i + "] = " + y[i] + " is outside [0, " + vocabSize + ")");
        }
    }

    private RecurrentOutput rnnForward(Tensor input, State s) {
        if (rnn instanceof SRU sru) return sru.forward(input, s.c);
        return ((LSTM) rnn).forward(input, s.h, s.c);
    }

    private RecurrentGrads rnnBackward(RecurrentOutput out, Tensor gradOutput) {
        if (rnn instanceof SRU sru) return sru.backward(out, gradOutput, null);
        return ((LSTM) rnn).backward(out, gradOutput, null, null);
    }

    private static void copyState(RecurrentOutput r, State s) {
        s.c.copyFrom(r.cN());
        if (s.h != null) s.h.copyFrom(r.hN());
    }

    /** The original's {@code Model} repr. */
    @Override
    public String toString() {
        return "LanguageModel(vocab=" + vocabSize + ", d=" + d + ", depth=" + depth + ", rnn=" + rnn
                + ", dropout=" + dropoutP + ", rnn_dropout=" + rnnDropoutP + ")";
    }

}
