package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.Op;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One SRU layer over the whole sequence: the 2017 SRU ("v1", Lei et al., "Training RNNs as Fast
 * as CNNs", the default here) or, with {@code v1(false)}, the layer of the sru package 2.x
 * (asappresearch/sru 2.6.0, its {@code SRUCell}). Written only over {@link Backend} ops, so it
 * runs unchanged on every backend:
 *
 * <pre>
 *   x~ = LN(x)                      2.x with layerNorm (before the layer)
 *   U = x~ W   or  (x~ W_proj) W    one GEMM (two with a projection) over all T*B rows
 *   h, c = sruForward(U, x, ...)    one fused kernel that walks time for every (batch, unit) column
 *   out = LN(h)                     2.x with layerNorm and normalizeAfter
 * </pre>
 *
 * <p>Shapes, with D = 2 if bidirectional else 1, out = D*nOut and K = 4 if {@code nIn != out}
 * (2.x: and the skip term is on) else 3: input (T, B, nIn), c0 and the last c (B, out), output
 * (T, B, out). v1 parameters: {@code weight} (nIn, out*K), {@code bias} (2*out) = [forget |
 * highway]. 2.x, in sru's state_dict order: {@code weight_proj} (nIn, projectionSize) with a
 * projection, {@code weight} ((projectionSize or nIn), out*K), {@code weight_c} (2*out) the
 * peepholes [forget | reset], {@code bias} (2*out), the buffer {@code scale_x} (1) and the child
 * {@code layer_norm} ({@code weight}, {@code bias}; width nIn, or out with normalizeAfter). The
 * equations and the column layout of U are in {@code tests/conformance/README.md}.
 *
 * <p>Dropout, in training mode only. {@code rnnDropout}: a variational mask (B, nIn) drawn once
 * per forward and applied to the (normalised) input of the GEMM at every step; the skip input x'
 * of a K = 3 layer is the <em>undropped, unnormalised</em> input. {@code dropout}: a mask (B, out)
 * fixed over time; v1: {@code h = r*(g(c)*mask) + (1-r)*x'}; 2.x as sru:
 * {@code h = x' + (g(c) - x')*mask*r}. Kept elements are scaled by 1/(1-p). Each forward draws
 * the x mask first, then the h mask, from this module's seed stream.
 *
 * <p>Variable lengths ({@link #forward(Tensor, Tensor, int[])}): sru's {@code mask_pad}; at a
 * padded step t >= lengths[b] c is frozen and h (and the output) is zero, so the reverse
 * direction starts at each sequence's last valid step and the last c is taken there; the
 * gradients at padded steps are zero.
 *
 * <p>A {@link RecurrentOutput} from {@link #forward} keeps references to the {@code input} and
 * {@code c0} tensors it was given (as autograd does): they must stay open and unchanged until the
 * last {@link #backward} on it. Backward reads the parameters' current values, so change them (an
 * optimiser step) only after the last backward of a forward.
 */
public final class SRUCell extends Module {
    private static final SplittableRandom INIT_SEEDS = new SplittableRandom();

    private final int nIn, nOut, dirs, k;
    private final double dropout, rnnDropout;
    private final boolean bidirectional, useTanh, useRelu;
    private final Activation activation;
    private final Parameter weight, bias;
    // sru 2.x
    private final boolean v1, hasSkipTerm, rescale, normalizeAfter;
    private final int projectionSize;
    private final double highwayBias;
    private final Double weightCInit;
    private final Parameter weightProj, weightC, scaleX;
    private final LayerNorm layerNorm;

    private SRUCell(Device device, Builder b, boolean defaultRescale) {
        super(device);
        b.validate();
        this.nIn = b.nIn;
        this.nOut = b.nOut;
        this.dropout = b.dropout;
        this.rnnDropout = b.rnnDropout;
        this.bidirectional = b.bidirectional;
        this.useTanh = b.tanh();
        this.useRelu = b.useRelu;
        this.v1 = b.v1;
        this.hasSkipTerm = b.hasSkipTerm;
        this.rescale = !v1 && b.rescaleOr(defaultRescale);
        this.normalizeAfter = b.normalizeAfter;
        this.highwayBias = b.highwayBias;
        this.weightCInit = b.weightCInit;
        this.dirs = bidirectional ? 2 : 1;
        int out = dirs * nOut;
        this.k = hasSkipTerm && nIn != out ? 4 : 3;
        this.activation = useRelu ? Activation.RELU : useTanh ? Activation.TANH : Activation.IDENTITY;
        if (b.projectionSize > 0 && !(b.projectionSize < nIn && b.projectionSize < out))
            throw new IllegalArgumentException("projectionSize " + b.projectionSize + " must be below both the input width "
                    + nIn + " and the output width " + out + " (D*hidden) of the layer, or 0 for no projection");
        this.projectionSize = b.projectionSize;
        long cols = (long) out * k;
        if (cols > Integer.MAX_VALUE)
            throw new IllegalArgumentException("weight would have " + cols + " columns; too many");
        Parameter wp = null, w = null, wc = null, bi = null, sx = null;
        LayerNorm ln = null;
        try {
            if (projectionSize > 0) wp = registerParameter("weight_proj", nIn, projectionSize);
            w = registerParameter("weight", projectionSize > 0 ? projectionSize : nIn, (int) cols);
            if (!v1) wc = registerParameter("weight_c", 2 * out);
            bi = registerParameter("bias", 2 * out);
            if (!v1) sx = registerBuffer("scale_x", 1);
            if (b.layerNorm) ln = registerModule("layer_norm", new LayerNorm(device, normalizeAfter ? out : nIn));
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
        this.weightProj = wp;
        this.weight = w;
        this.weightC = wc;
        this.bias = bi;
        this.scaleX = sx;
        this.layerNorm = ln;
        try {
            // sru initialises in its constructor; without a seed, draw one.
            long seed;
            synchronized (INIT_SEEDS) { seed = INIT_SEEDS.nextLong(); }
            if (v1) initWeight(seed);
            else resetParameters(seed);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** Starts a layer reading {@code nIn} features and producing {@code nOut} per direction. */
    public static Builder builder(int nIn, int nOut) { return new Builder(nIn, nOut); }

    /** Configuration of an {@link SRUCell}, with sru's argument names and defaults ({@link SRUOptions}). */
    public static final class Builder extends SRUOptions<Builder> {
        private final int nIn, nOut;

        private Builder(int nIn, int nOut) {
            if (nIn < 1) throw new IllegalArgumentException("nIn must be >= 1, got " + nIn);
            if (nOut < 1) throw new IllegalArgumentException("nOut must be >= 1, got " + nOut);
            if ((long) nOut * 4 > Integer.MAX_VALUE)
                throw new IllegalArgumentException("nOut is too large: " + nOut);
            this.nIn = nIn;
            this.nOut = nOut;
        }

        @Override Builder self() { return this; }

        /** Builds the layer; sru's SRUCell rescales by default (rescale true in 2.x mode). */
        public SRUCell build(Device device) {
            if (device == null) throw new NullPointerException("device is null");
            return new SRUCell(device, this, true);
        }

        /** As {@link #build}, with the rescale default of sru's SRU module (false), for its layers. */
        SRUCell buildLayer(Device device) {
            if (device == null) throw new NullPointerException("device is null");
            return new SRUCell(device, this, false);
        }
    }

    // ---------------------------------------------------------------- configuration

    /** The number of input features. */
    public int nIn() { return nIn; }

    /** The number of features per direction of h and c. */
    public int nOut() { return nOut; }

    /** Width of the output and of c: D * nOut. */
    public int outputSize() { return dirs * nOut; }

    /** Number of U columns per unit: 4 when x' is projected (nIn != D*nOut, with the skip term), else 3. */
    public int k() { return k; }

    /** 2 if bidirectional, else 1. */
    public int numDirections() { return dirs; }

    /** Whether each layer also runs in reverse. */
    public boolean isBidirectional() { return bidirectional; }

    /** The dropout probability on g(c) (training mode only). */
    public double dropout() { return dropout; }

    /** The variational dropout probability on each layer's input (training mode only). */
    public double rnnDropout() { return rnnDropout; }

    /** Whether g is tanh. */
    public boolean useTanh() { return useTanh; }

    /** Whether g is relu (identity when neither tanh nor relu). */
    public boolean useRelu() { return useRelu; }

    /** True for the 2017 SRU, false for the sru 2.x layer. */
    public boolean v1() { return v1; }

    /** 2.x: the projection's inner width, 0 without one. */
    public int projectionSize() { return projectionSize; }

    /** Whether h has the skip term (1 - r) * x' (sru 2.x {@code has_skip_term}; always true in v1). */
    public boolean hasSkipTerm() { return hasSkipTerm; }

    /** 2.x: whether the K = 3 skip term is scaled by scale_x. */
    public boolean rescale() { return rescale; }

    /** The initial value of the reset (highway) half of the bias (sru 2.x {@code highway_bias}). */
    public double highwayBias() { return highwayBias; }

    /** With layer norm: whether it normalises the layer output (true) or its input (false, sru's default). */
    public boolean normalizeAfter() { return normalizeAfter; }

    /** relu if useRelu, else tanh if useTanh, else identity (the original's {@code activation_type}); a backend type, so not public. */
    Activation activation() { return activation; }

    /** ((projectionSize or nIn), D*nOut*K). */
    public Parameter weight() { return weight; }

    /** (2*D*nOut) = [forget | highway]. */
    public Parameter bias() { return bias; }

    /** 2.x: (2*D*nOut) peepholes [forget | reset]; null in v1 mode. */
    public Parameter weightC() { return weightC; }

    /** 2.x: (nIn, projectionSize); null without a projection. */
    public Parameter weightProj() { return weightProj; }

    /** 2.x: the (1) buffer scale_x; null in v1 mode. */
    public Parameter scaleX() { return scaleX; }

    /** 2.x: the layer norm; null without one. */
    public LayerNorm layerNorm() { return layerNorm; }

    // ---------------------------------------------------------------- initialisation

    /**
     * v1: the original {@code init_weight}: weight ~ U(-sqrt(3/nIn), +sqrt(3/nIn)), so that
     * E[w] = 0 and Var[w] = 1/nIn, and bias = 0. Deterministic for a given seed. In 2.x mode,
     * {@link #resetParameters(long)}.
     */
    public void initWeight(long seed) {
        exclusiveUse("initWeight", () -> initWeightInUse(seed));
    }

    private void initWeightInUse(long seed) {
        if (!v1) {
            resetParameters(seed);
            return;
        }
        Init.fillUniform(weight, Math.sqrt(3.0 / nIn), new SplittableRandom(seed));
        bias.value().fill(0f);
    }

    /**
     * 2.x: sru's {@code reset_parameters}, from one generator seeded with {@code seed} (weight,
     * then weight_proj, then weight_c). bias = 0 with the highway half at highwayBias;
     * scale_x = sqrt(1 + 2 exp(highwayBias)) with rescale and the skip term, else 1. weight from
     * U(±sqrt(3/d)), d its number of rows (Var = 1/d), weight_proj from U(±sqrt(3/nIn)); then on
     * weight viewed (d, D, nOut, K): the candidate column times sqrt(1 - dropout), everything
     * times sqrt(1 - rnnDropout), everything times 0.1 with layer norm, the K = 4 skip column
     * times scale_x with rescale, and the two gate columns times sqrt(0.5). weight_c from
     * U(±sqrt(3)) times sqrt(0.5) (Var = 1/2), or from U(±weightCInit) when that is set. The layer
     * norm gets weight 1, bias 0. In v1 mode, {@link #initWeight(long)}.
     */
    public void resetParameters(long seed) {
        exclusiveUse("resetParameters", () -> resetParametersInUse(seed));
    }

    private void resetParametersInUse(long seed) {
        if (v1) {
            initWeight(seed);
            return;
        }
        int out = dirs * nOut;
        SplittableRandom rng = new SplittableRandom(seed);
        float[] b = new float[2 * out];
        java.util.Arrays.fill(b, out, 2 * out, (float) highwayBias);
        bias.set(b);
        double scaleVal = Math.sqrt(1 + Math.exp(highwayBias) * 2);
        scaleX.set(new float[] {rescale && hasSkipTerm ? (float) scaleVal : 1f});

        int rows = weight.shape()[0], cols = weight.shape()[1];
        double range = Math.sqrt(3.0 / rows);
        float[] w = new float[Math.multiplyExact(rows, cols)];
        for (int i = 0; i < w.length; i++) w[i] = (float) ((2 * rng.nextDouble() - 1) * range);
        if (weightProj != null) Init.fillUniform(weightProj, Math.sqrt(3.0 / nIn), rng);
        // Column (dir*nOut + j)*K + m of each row: m is the last index of sru's (d, D, nOut, K) view.
        for (int i = 0; i < w.length; i++) {
            int m = (i % cols) % k;
            double f = 1;
            if (dropout > 0 && m == 0) f *= Math.sqrt(1 - dropout);
            if (rnnDropout > 0) f *= Math.sqrt(1 - rnnDropout);
            if (layerNorm != null) f *= 0.1;
            if (rescale && hasSkipTerm && k == 4 && m == 3) f *= scaleVal;
            if (m == 1 || m == 2) f *= Math.sqrt(0.5);
            w[i] = (float) (w[i] * f);
        }
        weight.set(w);
        float[] wc = new float[2 * out];
        for (int i = 0; i < wc.length; i++) {
            wc[i] = weightCInit == null ? (float) ((2 * rng.nextDouble() - 1) * Math.sqrt(3.0) * Math.sqrt(0.5))
                    : (float) ((2 * rng.nextDouble() - 1) * weightCInit);
        }
        weightC.set(wc);
        if (layerNorm != null) layerNorm.resetParameters();
    }

    /**
     * 2.x: only weight_c (as {@link #resetParameters(long)} draws it, from its own generator seeded
     * with {@code seed}) and the layer norm (weight 1, bias 0); everything else is left alone.
     */
    public void resetPeepholesAndNorms(long seed) {
        exclusiveUse("resetPeepholesAndNorms", () -> resetPeepholesAndNormsInUse(seed));
    }

    private void resetPeepholesAndNormsInUse(long seed) {
        if (v1) throw new IllegalStateException("resetPeepholesAndNorms: " + this + " is a v1 layer (no weight_c)");
        SplittableRandom rng = new SplittableRandom(seed);
        float[] wc = new float[weightC.shape()[0]];
        for (int i = 0; i < wc.length; i++)
            wc[i] = (float) ((2 * rng.nextDouble() - 1) * (weightCInit == null ? Math.sqrt(3.0) * Math.sqrt(0.5) : weightCInit));
        weightC.set(wc);
        if (layerNorm != null) layerNorm.resetParameters();
    }

    /** The original {@code set_bias}: sets the highway (reset-gate) half {@code bias[D*nOut:]} to v; the forget half is left alone. */
    public void setBias(float v) {
        exclusiveUse("setBias", () -> setBiasInUse(v));
    }

    private void setBiasInUse(float v) {
        int out = dirs * nOut;
        Tensor b = bias.value();
        DeviceAccess.backend(b).fill(DeviceAccess.buffer(b), out, out, v);
    }

    /** Strict, by name; a state dict of the other SRU version, or of other options, says which option would fit it. */
    @Override
    public void loadStateDict(java.util.Map<String, dev.rnn4j.HostTensor> state) {
        try {
            super.loadStateDict(state);
        } catch (StateDictException e) {
            throw SRU.withHint(e, toString(), v1);
        }
    }

    // ---------------------------------------------------------------- forward

    /**
     * Runs the layer over a whole sequence.
     *
     * @param input (T, B, nIn), T, B >= 1
     * @param c0    (B, D*nOut) initial c, or null for zeros
     * @return output h (T, B, D*nOut), hN null, cN the last c (B, D*nOut) = [c_{T-1}(dir 0), c_0(dir 1)]
     */
    public RecurrentOutput forward(Tensor input, Tensor c0) { return forward(input, c0, null); }

    /**
     * Runs the layer over a right-padded batch of sequences of different lengths (sru's
     * {@code mask_pad}; see the class comment).
     *
     * @param lengths one entry per batch element, each in 1..T, any order; null for all T
     * @throws IllegalArgumentException for a wrong number of lengths or one outside 1..T, before any work
     */
    public RecurrentOutput forward(Tensor input, Tensor c0, int[] lengths) {
        return forwardUse(() -> forwardInUse(input, c0, lengths));
    }

    private RecurrentOutput forwardInUse(Tensor input, Tensor c0, int[] lengths) {
        int[] tb = checkSequence(this, "input", input, nIn);
        int seqLen = tb[0], batch = tb[1];
        int out = dirs * nOut;
        if (c0 != null) checkTensor(this, "c0", c0, batch, out);
        int[] len = checkLengths(lengths, seqLen, batch);
        int cols = out * k;
        Args.fits(this, input, seqLen, batch, cols); // U must fit in one tensor: fail before touching the device
        Backend be = DeviceAccess.backend(device);
        boolean dropX = isTraining() && rnnDropout > 0;
        boolean dropH = isTraining() && dropout > 0;
        int rows = seqLen * batch; // fits: T*B*nIn was checked by Shapes when input was made
        boolean preNorm = layerNorm != null && !normalizeAfter, postNorm = layerNorm != null && normalizeAfter;
        boolean readsX = hasSkipTerm && k == 3;

        Saved s = new Saved(this, input, c0, seqLen, batch, len);
        Tensor h = null, cLast = null;
        boolean ok = false;
        try {
            Tensor x = input;
            if (preNorm) {
                s.xNorm = Tensor.zeros(device, seqLen, batch, nIn);
                s.statsIn = Tensor.zeros(device, rows, 2);
                layerNorm.forward(rows, DeviceAccess.buffer(input), 0, DeviceAccess.buffer(s.xNorm), 0, DeviceAccess.buffer(s.statsIn));
                x = s.xNorm;
            }
            if (dropX) {
                s.maskX = Tensor.zeros(device, batch, nIn);
                be.dropoutMask((long) batch * nIn, (float) rnnDropout, nextDropoutSeed(), DeviceAccess.buffer(s.maskX), 0);
                s.xDropped = Tensor.zeros(device, seqLen, batch, nIn);
                // The same (B, nIn) mask at every step: each time step is one row of B*nIn values.
                be.mulRows(seqLen, batch * nIn, DeviceAccess.buffer(x), 0, DeviceAccess.buffer(s.maskX), 0, DeviceAccess.buffer(s.xDropped), 0);
                x = s.xDropped;
            }
            s.x = x;
            if (dropH) {
                s.maskH = Tensor.zeros(device, batch, out);
                be.dropoutMask((long) batch * out, (float) dropout, nextDropoutSeed(), DeviceAccess.buffer(s.maskH), 0);
            }
            s.u = Tensor.zeros(device, seqLen, batch, cols);
            if (weightProj != null) {
                s.p = Tensor.zeros(device, rows, projectionSize);
                be.gemm(false, false, rows, projectionSize, nIn,
                        1f, DeviceAccess.buffer(x), 0, nIn, DeviceAccess.buffer(weightProj.value()), 0, projectionSize,
                        0f, DeviceAccess.buffer(s.p), 0, projectionSize, 1, 0, 0, 0);
                be.gemm(false, false, rows, cols, projectionSize,
                        1f, DeviceAccess.buffer(s.p), 0, projectionSize, DeviceAccess.buffer(weight.value()), 0, cols,
                        0f, DeviceAccess.buffer(s.u), 0, cols, 1, 0, 0, 0);
            } else {
                be.gemm(false, false, rows, cols, nIn,
                        1f, DeviceAccess.buffer(x), 0, nIn, DeviceAccess.buffer(weight.value()), 0, cols,
                        0f, DeviceAccess.buffer(s.u), 0, cols, 1, 0, 0, 0);
            }
            h = Tensor.zeros(device, seqLen, batch, out);
            s.c = Tensor.zeros(device, seqLen, batch, out);
            cLast = Tensor.zeros(device, batch, out);
            s.scale = rescale && readsX ? scaleX.value().toArray()[0] : 1f;
            // The skip term of a K = 3 layer reads the undropped, unnormalised input, as sru passes `residual`.
            be.run(sruOptions(Op.SruForward.builder(seqLen, batch, nOut, dirs, k, activation), s)
                    .u(DeviceAccess.buffer(s.u), 0).x(readsX ? DeviceAccess.buffer(input) : null, 0).bias(DeviceAccess.buffer(bias.value()), 0)
                    .c0(c0 == null ? null : DeviceAccess.buffer(c0), 0).maskH(s.maskH == null ? null : DeviceAccess.buffer(s.maskH), 0)
                    .h(DeviceAccess.buffer(h), 0).c(DeviceAccess.buffer(s.c), 0).cLast(DeviceAccess.buffer(cLast), 0).build());
            if (postNorm) {
                s.hRaw = h;
                h = null;
                h = Tensor.zeros(device, seqLen, batch, out);
                s.statsOut = Tensor.zeros(device, rows, 2);
                layerNorm.forward(rows, DeviceAccess.buffer(s.hRaw), 0, DeviceAccess.buffer(h), 0, DeviceAccess.buffer(s.statsOut));
                zeroPadded(h, len, out); // the output is zero at padded steps, as without the norm
            }
            RecurrentOutput result = new RecurrentOutput(h, null, cLast, s);
            ok = true;
            return result;
        } finally {
            if (!ok) Closeables.closeAll(h, cLast, s);
        }
    }

    private Op.SruForward.Builder sruOptions(Op.SruForward.Builder b, Saved s) {
        if (v1) return b.lengths(s.lengths);
        return b.weightC(DeviceAccess.buffer(weightC.value()), 0).scale(s.scale).hasSkip(hasSkipTerm).maskOnGate(true).lengths(s.lengths);
    }

    private Op.SruBackward.Builder sruOptions(Op.SruBackward.Builder b, Saved s) {
        if (v1) return b.lengths(s.lengths);
        return b.weightC(DeviceAccess.buffer(weightC.value()), 0).scale(s.scale).hasSkip(hasSkipTerm).maskOnGate(true).lengths(s.lengths);
    }

    /** Checks lengths against (T, B) and returns a copy (null stays null). */
    static int[] checkLengths(int[] lengths, int seqLen, int batch) {
        if (lengths == null) return null;
        if (lengths.length != batch)
            throw new IllegalArgumentException("lengths has " + lengths.length + " entries for a batch of " + batch);
        for (int b = 0; b < batch; b++)
            if (lengths[b] < 1 || lengths[b] > seqLen)
                throw new IllegalArgumentException("lengths[" + b + "] = " + lengths[b] + " is outside 1.." + seqLen + " (T)");
        return lengths.clone();
    }

    /** Zeroes the rows (t, b) with t >= lengths[b] of a (T, B, width) tensor. */
    static void zeroPadded(Tensor t, int[] lengths, int width) {
        if (lengths == null) return;
        int seqLen = t.size(0), batch = t.size(1);
        Backend be = DeviceAccess.backend(t);
        for (int b = 0; b < batch; b++)
            for (int step = lengths[b]; step < seqLen; step++)
                be.fill(DeviceAccess.buffer(t), ((long) step * batch + b) * width, width, 0f);
    }

    // ---------------------------------------------------------------- backward

    /**
     * Backpropagates through a forward pass of this layer. Adds the parameters' gradients
     * (weight, bias; 2.x also weight_c, weight_proj and the layer norm's; never scale_x) and
     * returns the gradients of the forward inputs.
     *
     * @param out        the result of {@link #forward} on this layer, still open
     * @param gradOutput d loss / d output, (T, B, D*nOut)
     * @param gradCLast  d loss / d cN, (B, D*nOut), or null for zero
     * @return (d loss/d input (T, B, nIn), null, d loss/d c0 (B, D*nOut), or null when forward got no c0);
     *         the caller closes it
     */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradCLast) {
        return exclusiveUse("backward", () -> backwardInUse(out, gradOutput, gradCLast));
    }

    private RecurrentGrads backwardInUse(RecurrentOutput out, Tensor gradOutput, Tensor gradCLast) {
        Saved s = savedOf(out);
        int seqLen = s.seqLen, batch = s.batch;
        int outSize = dirs * nOut;
        checkTensor(this, "gradOutput", gradOutput, seqLen, batch, outSize);
        if (gradCLast != null) checkTensor(this, "gradCLast", gradCLast, batch, outSize);
        if (s.input.isClosed())
            throw new IllegalStateException("the input given to forward was closed before backward");
        if (s.c0 != null && s.c0.isClosed())
            throw new IllegalStateException("the c0 given to forward was closed before backward");
        Backend be = DeviceAccess.backend(device);
        int rows = seqLen * batch;
        int cols = outSize * k;
        boolean readsX = hasSkipTerm && k == 3;
        boolean preNorm = s.statsIn != null;

        Tensor du = null, dxSkip = null, dBias = null, dWc = null, dc0 = null, gradInput = null, dh = null, dp = null;
        boolean ok = false;
        try {
            Tensor g = gradOutput;
            if (s.hRaw != null) {
                // Through the output norm: padded rows of the output are constant zero, so their gradient stops there.
                dh = Tensor.zeros(device, seqLen, batch, outSize);
                be.copy(DeviceAccess.buffer(gradOutput), 0, DeviceAccess.buffer(dh), 0, (long) rows * outSize);
                zeroPadded(dh, s.lengths, outSize);
                layerNorm.backward(rows, DeviceAccess.buffer(s.hRaw), 0, DeviceAccess.buffer(s.statsOut), DeviceAccess.buffer(dh), 0, DeviceAccess.buffer(dh), 0);
                g = dh;
            }
            du = Tensor.zeros(device, seqLen, batch, cols);
            dBias = Tensor.zeros(device, batch, 2 * outSize);
            if (!v1) dWc = Tensor.zeros(device, batch, 2 * outSize);
            dc0 = Tensor.zeros(device, batch, outSize);
            gradInput = Tensor.zeros(device, seqLen, batch, nIn);
            // Without an x mask or input norm the skip gradient of a K = 3 layer can be written
            // straight into the input gradient and the GEMM below adds to it; otherwise it stays
            // apart, as the mask and the norm apply to the dU W^T part only.
            boolean skipInPlace = readsX && s.maskX == null && !preNorm;
            if (readsX && !skipInPlace) dxSkip = Tensor.zeros(device, seqLen, batch, nIn);
            Tensor dxTarget = readsX ? (skipInPlace ? gradInput : dxSkip) : null;

            be.run(sruOptions(Op.SruBackward.builder(seqLen, batch, nOut, dirs, k, activation), s)
                    .u(DeviceAccess.buffer(s.u), 0).x(readsX ? DeviceAccess.buffer(s.input) : null, 0).bias(DeviceAccess.buffer(bias.value()), 0)
                    .c0(s.c0 == null ? null : DeviceAccess.buffer(s.c0), 0).maskH(s.maskH == null ? null : DeviceAccess.buffer(s.maskH), 0)
                    .c(DeviceAccess.buffer(s.c), 0).dh(DeviceAccess.buffer(g), 0).dcLast(gradCLast == null ? null : DeviceAccess.buffer(gradCLast), 0)
                    .du(DeviceAccess.buffer(du), 0).dx(dxTarget == null ? null : DeviceAccess.buffer(dxTarget), 0)
                    .dBias(DeviceAccess.buffer(dBias), 0).dWeightC(dWc == null ? null : DeviceAccess.buffer(dWc), 0).dc0(DeviceAccess.buffer(dc0), 0).build());

            // d bias (and d weight_c): the op leaves one partial per batch row.
            be.sumRows(batch, 2 * outSize, DeviceAccess.buffer(dBias), 0, 2 * outSize, 1f, DeviceAccess.buffer(bias.grad()), 0);
            if (dWc != null) be.sumRows(batch, 2 * outSize, DeviceAccess.buffer(dWc), 0, 2 * outSize, 1f, DeviceAccess.buffer(weightC.grad()), 0);
            Tensor x = s.x;
            if (weightProj != null) {
                int ps = projectionSize;
                // dW += P^T dU; dP = dU W^T; dW_proj += X^T dP; dX = dP W_proj^T
                be.gemm(true, false, ps, cols, rows, 1f, DeviceAccess.buffer(s.p), 0, ps, DeviceAccess.buffer(du), 0, cols,
                        1f, DeviceAccess.buffer(weight.grad()), 0, cols, 1, 0, 0, 0);
                dp = Tensor.zeros(device, rows, ps);
                be.gemm(false, true, rows, ps, cols, 1f, DeviceAccess.buffer(du), 0, cols, DeviceAccess.buffer(weight.value()), 0, cols,
                        0f, DeviceAccess.buffer(dp), 0, ps, 1, 0, 0, 0);
                be.gemm(true, false, nIn, ps, rows, 1f, DeviceAccess.buffer(x), 0, nIn, DeviceAccess.buffer(dp), 0, ps,
                        1f, DeviceAccess.buffer(weightProj.grad()), 0, ps, 1, 0, 0, 0);
                be.gemm(false, true, rows, nIn, ps, 1f, DeviceAccess.buffer(dp), 0, ps, DeviceAccess.buffer(weightProj.value()), 0, ps,
                        skipInPlace ? 1f : 0f, DeviceAccess.buffer(gradInput), 0, nIn, 1, 0, 0, 0);
            } else {
                // dW += X^T dU, with X the (normalised, dropped) matrix that produced U.
                be.gemm(true, false, nIn, cols, rows,
                        1f, DeviceAccess.buffer(x), 0, nIn, DeviceAccess.buffer(du), 0, cols,
                        1f, DeviceAccess.buffer(weight.grad()), 0, cols, 1, 0, 0, 0);
                // dX = dU W^T (+ the skip part already there when skipInPlace).
                be.gemm(false, true, rows, nIn, cols,
                        1f, DeviceAccess.buffer(du), 0, cols, DeviceAccess.buffer(weight.value()), 0, cols,
                        skipInPlace ? 1f : 0f, DeviceAccess.buffer(gradInput), 0, nIn, 1, 0, 0, 0);
            }
            if (s.maskX != null)
                be.mulRows(seqLen, batch * nIn, DeviceAccess.buffer(gradInput), 0, DeviceAccess.buffer(s.maskX), 0, DeviceAccess.buffer(gradInput), 0);
            if (preNorm)
                layerNorm.backward(rows, DeviceAccess.buffer(s.input), 0, DeviceAccess.buffer(s.statsIn), DeviceAccess.buffer(gradInput), 0, DeviceAccess.buffer(gradInput), 0);
            if (dxSkip != null)
                be.axpy((long) rows * nIn, 1f, DeviceAccess.buffer(dxSkip), 0, DeviceAccess.buffer(gradInput), 0);

            if (s.c0 == null) {
                dc0.close();
                dc0 = null;
            }
            RecurrentGrads result = new RecurrentGrads(gradInput, null, dc0);
            ok = true;
            return result;
        } finally {
            Closeables.closeAll(du, dxSkip, dBias, dWc, dh, dp);
            if (!ok) Closeables.closeAll(dc0, gradInput);
        }
    }

    private Saved savedOf(RecurrentOutput out) {
        if (out == null) throw new NullPointerException("out is null");
        out.output(); // throws IllegalStateException if it was closed
        if (!(out.saved instanceof Saved s) || s.owner != this)
            throw new IllegalArgumentException("out was not produced by forward of this " + this);
        return s;
    }

    // ---------------------------------------------------------------- argument checks

    /** Checks a (T, B, width) sequence tensor on owner's device; returns {T, B}. */
    static int[] checkSequence(Module owner, String what, Tensor t, int width) {
        checkUsable(owner, what, t);
        int[] shape = t.shape();
        if (shape.length != 3 || shape[2] != width || shape[0] < 1 || shape[1] < 1)
            throw new IllegalArgumentException(what + ": expected shape (T, B, " + width + ") with T, B >= 1, got "
                    + Shapes.str(shape));
        return new int[] {shape[0], shape[1]};
    }

    /** Checks that t is open, on owner's device and of exactly the given shape. */
    static void checkTensor(Module owner, String what, Tensor t, int... shape) {
        checkUsable(owner, what, t);
        Shapes.check(what, t, shape);
    }

    private static void checkUsable(Module owner, String what, Tensor t) {
        if (t == null) throw new NullPointerException(what + " is null");
        if (t.device().isClosed()) throw new IllegalStateException(what + ": device " + t.device().name() + " is closed");
        if (t.isClosed()) throw new IllegalStateException(what + " is closed");
        if (t.device() != owner.device())
            throw new IllegalArgumentException(what + " is on another device than " + owner + " (" + t.device()
                    + " is not the module's " + owner.device() + ")");
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SRUCell(").append(nIn).append(", ").append(nOut);
        if (projectionSize > 0) sb.append(", projection_size=").append(projectionSize);
        if (dropout > 0) sb.append(", dropout=").append(dropout);
        if (rnnDropout > 0) sb.append(", rnn_dropout=").append(rnnDropout);
        if (bidirectional) sb.append(", bidirectional=True");
        if (!v1 && highwayBias != 0) sb.append(", highway_bias=").append(highwayBias);
        sb.append(", activation=").append(activation.name().toLowerCase(Locale.ROOT));
        if (!v1) {
            sb.append(", v1=False");
            sb.append(", rescale=").append(rescale ? "True" : "False");
            if (!hasSkipTerm) sb.append(", has_skip_term=False");
            if (layerNorm != null) sb.append(", layer_norm=True").append(normalizeAfter ? ", normalize_after=True" : "");
        }
        return sb.append(", k=").append(k).append(')').toString();
    }

    /**
     * What backward needs from one forward. {@code input} and {@code c0} are borrowed from the
     * caller; the rest is owned here and freed when the {@link RecurrentOutput} closes.
     */
    private static final class Saved implements AutoCloseable {
        final SRUCell owner;
        final Tensor input, c0;
        final int seqLen, batch;
        final int[] lengths;
        /** The GEMM's input: input, xNorm or xDropped (not owned on its own). */
        Tensor x;
        Tensor xNorm, statsIn, maskX, xDropped, maskH, p, u, c, hRaw, statsOut;
        float scale = 1f;

        Saved(SRUCell owner, Tensor input, Tensor c0, int seqLen, int batch, int[] lengths) {
            this.owner = owner;
            this.input = input;
            this.c0 = c0;
            this.seqLen = seqLen;
            this.batch = batch;
            this.lengths = lengths;
        }

        @Override
        public void close() { Closeables.closeAll(xNorm, statsIn, maskX, xDropped, maskH, p, u, c, hRaw, statsOut); }
    }
}
