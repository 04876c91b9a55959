package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.Op;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One SRU v1 layer (Lei et al., 2017, "Training RNNs as Fast as CNNs"): the layer of the
 * original SRU code, which, despite the name, runs over the whole sequence at once. Written only
 * over {@link Backend} primitives, so it runs unchanged on every backend:
 *
 * <pre>
 *   U = X W                         one GEMM over all T*B rows
 *   h, c = sruForward(U, x, bias)   one fused kernel that walks time for every (batch, unit) column
 * </pre>
 *
 * <p>Shapes, with D = 2 if bidirectional else 1 and K = 4 if {@code nIn != D*nOut} else 3 (the
 * original compares the input width with the layer's output width D*nOut, not with nOut):
 * parameter {@code weight} (nIn, D*nOut*K), parameter {@code bias} (2*D*nOut) = [forget | highway],
 * input (T, B, nIn), c0 and the last c (B, D*nOut), output h (T, B, D*nOut). The equations and the
 * column layout of U are in {@code tests/conformance/README.md}.
 *
 * <p>Dropout, in training mode only, as in the original code: {@code rnnDropout} is a variational
 * mask (B, nIn) drawn once per forward and applied to x at every step before {@code U = X W}; the
 * highway input x' of a K = 3 layer is the <em>undropped</em> input. {@code dropout} is a mask
 * (B, D*nOut), fixed over time, that scales g(c) only: {@code h = r*(g(c)*mask) + (1-r)*x'}. Kept
 * elements are scaled by 1/(1-p). Each forward draws the x mask first, then the h mask, from this
 * module's seed stream ({@link #setDropoutSeed(long)} makes them repeat).
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

    private SRUCell(Device device, Builder b) {
        super(device);
        this.nIn = b.nIn;
        this.nOut = b.nOut;
        this.dropout = b.dropout;
        this.rnnDropout = b.rnnDropout;
        this.bidirectional = b.bidirectional;
        this.useTanh = b.useTanh;
        this.useRelu = b.useRelu;
        this.dirs = bidirectional ? 2 : 1;
        this.k = nIn != dirs * nOut ? 4 : 3;
        this.activation = useRelu ? Activation.RELU : useTanh ? Activation.TANH : Activation.IDENTITY;
        long cols = (long) dirs * nOut * k;
        if (cols > Integer.MAX_VALUE)
            throw new IllegalArgumentException("weight would have " + cols + " columns; too many");
        try {
            this.weight = registerParameter("weight", nIn, (int) cols);
            this.bias = registerParameter("bias", 2 * dirs * nOut);
            // The original initialises in its constructor; without a seed, draw one.
            long seed;
            synchronized (INIT_SEEDS) { seed = INIT_SEEDS.nextLong(); }
            initWeight(seed);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** Starts a layer reading {@code nIn} features and producing {@code nOut} per direction. */
    public static Builder builder(int nIn, int nOut) { return new Builder(nIn, nOut); }

    /** Configuration of an {@link SRUCell}, with the original constructor's argument names and defaults. */
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

        public SRUCell build(Device device) {
            if (device == null) throw new NullPointerException("device is null");
            return new SRUCell(device, this);
        }
    }

    // ---------------------------------------------------------------- configuration

    public int nIn() { return nIn; }

    public int nOut() { return nOut; }

    /** Width of the output and of c: D * nOut. */
    public int outputSize() { return dirs * nOut; }

    /** Number of U columns per unit: 4 when nIn != D*nOut (x' is projected), else 3 (x' is the input itself). */
    public int k() { return k; }

    public int numDirections() { return dirs; }

    public boolean isBidirectional() { return bidirectional; }

    public double dropout() { return dropout; }

    public double rnnDropout() { return rnnDropout; }

    public boolean useTanh() { return useTanh; }

    public boolean useRelu() { return useRelu; }

    /** relu if useRelu, else tanh if useTanh, else identity (the original's {@code activation_type}). */
    public Activation activation() { return activation; }

    /** (nIn, D*nOut*K). */
    public Parameter weight() { return weight; }

    /** (2*D*nOut) = [forget | highway]. */
    public Parameter bias() { return bias; }

    // ---------------------------------------------------------------- initialisation

    /**
     * The original {@code init_weight}: weight ~ U(-sqrt(3/nIn), +sqrt(3/nIn)), so that
     * E[w] = 0 and Var[w] = 1/nIn, and bias = 0. Deterministic for a given seed.
     */
    public void initWeight(long seed) {
        enterExclusive("initWeight");
        try {
            initWeightInUse(seed);
        } finally {
            exit(true);
        }
    }

    private void initWeightInUse(long seed) {
        Init.fillUniform(weight, Math.sqrt(3.0 / nIn), new SplittableRandom(seed));
        bias.value().fill(0f);
    }

    /** The original {@code set_bias}: sets the highway (reset-gate) half {@code bias[D*nOut:]} to v; the forget half is left alone. */
    public void setBias(float v) {
        enterExclusive("setBias");
        try {
            setBiasInUse(v);
        } finally {
            exit(true);
        }
    }

    private void setBiasInUse(float v) {
        int out = dirs * nOut;
        Tensor b = bias.value();
        b.backend().fill(b.buffer(), out, out, v);
    }

    // ---------------------------------------------------------------- forward

    /**
     * Runs the layer over a whole sequence.
     *
     * @param input (T, B, nIn), T, B >= 1
     * @param c0    (B, D*nOut) initial c, or null for zeros
     * @return output h (T, B, D*nOut), hN null, cN the last c (B, D*nOut) = [c_{T-1}(dir 0), c_0(dir 1)]
     */
    public RecurrentOutput forward(Tensor input, Tensor c0) {
        boolean exclusive = enterForward();
        try {
            return forwardInUse(input, c0);
        } finally {
            exit(exclusive);
        }
    }

    private RecurrentOutput forwardInUse(Tensor input, Tensor c0) {
        int[] tb = checkSequence(this, "input", input, nIn);
        int seqLen = tb[0], batch = tb[1];
        int out = dirs * nOut;
        if (c0 != null) checkTensor(this, "c0", c0, batch, out);
        int cols = out * k;
        Shapes.numel(seqLen, batch, cols); // U must fit in one tensor: fail before touching the device
        Backend be = device.backend();
        boolean dropX = isTraining() && rnnDropout > 0;
        boolean dropH = isTraining() && dropout > 0;
        int rows = seqLen * batch; // fits: T*B*nIn was checked by Shapes when input was made

        Saved s = new Saved(this, input, c0, seqLen, batch);
        Tensor h = null, cLast = null;
        boolean ok = false;
        try {
            Tensor x = input;
            if (dropX) {
                s.maskX = Tensor.zeros(device, batch, nIn);
                be.dropoutMask((long) batch * nIn, (float) rnnDropout, nextDropoutSeed(), s.maskX.buffer(), 0);
                s.xDropped = Tensor.zeros(device, seqLen, batch, nIn);
                // The same (B, nIn) mask at every step: each time step is one row of B*nIn values.
                be.mulRows(seqLen, batch * nIn, input.buffer(), 0, s.maskX.buffer(), 0, s.xDropped.buffer(), 0);
                x = s.xDropped;
            }
            if (dropH) {
                s.maskH = Tensor.zeros(device, batch, out);
                be.dropoutMask((long) batch * out, (float) dropout, nextDropoutSeed(), s.maskH.buffer(), 0);
            }
            s.u = Tensor.zeros(device, seqLen, batch, cols);
            be.gemm(false, false, rows, cols, nIn,
                    1f, x.buffer(), 0, nIn, weight.value().buffer(), 0, cols,
                    0f, s.u.buffer(), 0, cols, 1, 0, 0, 0);
            h = Tensor.zeros(device, seqLen, batch, out);
            s.c = Tensor.zeros(device, seqLen, batch, out);
            cLast = Tensor.zeros(device, batch, out);
            // The highway of a K = 3 layer reads the undropped input, as the original passes `input`, not `x`.
            be.run(Op.SruForward.builder(seqLen, batch, nOut, dirs, k, activation)
                    .u(s.u.buffer(), 0).x(k == 3 ? input.buffer() : null, 0).bias(bias.value().buffer(), 0)
                    .c0(c0 == null ? null : c0.buffer(), 0).maskH(s.maskH == null ? null : s.maskH.buffer(), 0)
                    .h(h.buffer(), 0).c(s.c.buffer(), 0).cLast(cLast.buffer(), 0).build());
            RecurrentOutput result = new RecurrentOutput(h, null, cLast, s);
            ok = true;
            return result;
        } finally {
            if (!ok) Closeables.closeAll(h, cLast, s);
        }
    }

    // ---------------------------------------------------------------- backward

    /**
     * Backpropagates through a forward pass of this layer. Adds d loss/d weight and d loss/d bias
     * to the parameters' gradients and returns the gradients of the forward inputs.
     *
     * @param out        the result of {@link #forward} on this layer, still open
     * @param gradOutput d loss / d output, (T, B, D*nOut)
     * @param gradCLast  d loss / d cN, (B, D*nOut), or null for zero
     * @return (d loss/d input (T, B, nIn), null, d loss/d c0 (B, D*nOut), or null when forward got no c0);
     *         the caller closes it
     */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradCLast) {
        enterExclusive("backward");
        try {
            return backwardInUse(out, gradOutput, gradCLast);
        } finally {
            exit(true);
        }
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
        Backend be = device.backend();
        int rows = seqLen * batch;
        int cols = outSize * k;
        Tensor x = s.xDropped != null ? s.xDropped : s.input;

        Tensor du = null, dxHighway = null, dBias = null, dc0 = null, gradInput = null;
        boolean ok = false;
        try {
            du = Tensor.zeros(device, seqLen, batch, cols);
            dBias = Tensor.zeros(device, batch, 2 * outSize);
            dc0 = Tensor.zeros(device, batch, outSize);
            gradInput = Tensor.zeros(device, seqLen, batch, nIn);
            // Without an x mask the highway gradient of a K = 3 layer can be written straight into
            // the input gradient and the GEMM below adds to it; with a mask it must stay apart, as
            // the mask applies to the dU W^T part only.
            boolean highwayInPlace = k == 3 && s.maskX == null;
            if (k == 3 && !highwayInPlace) dxHighway = Tensor.zeros(device, seqLen, batch, nIn);
            Tensor dxTarget = k == 3 ? (highwayInPlace ? gradInput : dxHighway) : null;

            be.run(Op.SruBackward.builder(seqLen, batch, nOut, dirs, k, activation)
                    .u(s.u.buffer(), 0).x(k == 3 ? s.input.buffer() : null, 0).bias(bias.value().buffer(), 0)
                    .c0(s.c0 == null ? null : s.c0.buffer(), 0).maskH(s.maskH == null ? null : s.maskH.buffer(), 0)
                    .c(s.c.buffer(), 0).dh(gradOutput.buffer(), 0).dcLast(gradCLast == null ? null : gradCLast.buffer(), 0)
                    .du(du.buffer(), 0).dx(dxTarget == null ? null : dxTarget.buffer(), 0)
                    .dBias(dBias.buffer(), 0).dc0(dc0.buffer(), 0).build());

            // d bias: the primitive leaves one partial per batch row.
            be.sumRows(batch, 2 * outSize, dBias.buffer(), 0, 2 * outSize, 1f, bias.grad().buffer(), 0);
            // dW += X^T dU, with X the (possibly dropped) matrix that produced U.
            be.gemm(true, false, nIn, cols, rows,
                    1f, x.buffer(), 0, nIn, du.buffer(), 0, cols,
                    1f, weight.grad().buffer(), 0, cols, 1, 0, 0, 0);
            // dX = dU W^T (+ the highway part already there when highwayInPlace).
            be.gemm(false, true, rows, nIn, cols,
                    1f, du.buffer(), 0, cols, weight.value().buffer(), 0, cols,
                    highwayInPlace ? 1f : 0f, gradInput.buffer(), 0, nIn, 1, 0, 0, 0);
            if (s.maskX != null)
                be.mulRows(seqLen, batch * nIn, gradInput.buffer(), 0, s.maskX.buffer(), 0, gradInput.buffer(), 0);
            if (dxHighway != null)
                be.axpy((long) rows * nIn, 1f, dxHighway.buffer(), 0, gradInput.buffer(), 0);

            if (s.c0 == null) {
                dc0.close();
                dc0 = null;
            }
            RecurrentGrads result = new RecurrentGrads(gradInput, null, dc0);
            ok = true;
            return result;
        } finally {
            Closeables.closeAll(du, dxHighway, dBias);
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
        if (t.isClosed()) throw new IllegalStateException(what + " is closed");
        if (t.device() != owner.device())
            throw new IllegalArgumentException(what + " is on another device than " + owner + " (" + t.device()
                    + " is not the module's " + owner.device() + ")");
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SRUCell(").append(nIn).append(", ").append(nOut);
        if (dropout > 0) sb.append(", dropout=").append(dropout);
        if (rnnDropout > 0) sb.append(", rnn_dropout=").append(rnnDropout);
        if (bidirectional) sb.append(", bidirectional=True");
        sb.append(", activation=").append(activation.name().toLowerCase(Locale.ROOT));
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
        Tensor maskX, xDropped, maskH, u, c;

        Saved(SRUCell owner, Tensor input, Tensor c0, int seqLen, int batch) {
            this.owner = owner;
            this.input = input;
            this.c0 = c0;
            this.seqLen = seqLen;
            this.batch = batch;
        }

        @Override
        public void close() { Closeables.closeAll(maskX, xDropped, maskH, u, c); }
    }
}
