package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;

import java.lang.ref.Reference;
import java.util.SplittableRandom;

/**
 * Common part of the multi-layer recurrent modules {@link RNN}, {@link LSTM} and {@link GRU},
 * with PyTorch's semantics: stacked layers, optional second (reverse) direction, batch_first,
 * dropout between layers in training mode, LSTM projections, and the parameter names, shapes
 * and order of PyTorch's {@code state_dict}.
 *
 * <p>Shapes (D = 2 if bidirectional else 1, H_out = proj_size if set else hidden_size):
 * input (T, B, input_size), or (B, T, input_size) if batch_first, or unbatched (T, input_size);
 * h0 and h_n (num_layers*D, B, H_out), never batch-first ((num_layers*D, H_out) unbatched);
 * LSTM c0 and c_n (num_layers*D, B, hidden_size); output (T, B, D*H_out) (batch-first or
 * unbatched like the input). Row {@code layer*D + direction} of h0/h_n belongs to that layer
 * and direction; the reverse direction runs from t = T-1 down to 0 and the output at time t is
 * [forward h_t, reverse h_t].
 *
 * <p>With per-sequence lengths (the {@code forward(..., int[] lengths)} overloads) the batch is
 * right-padded and the result is PyTorch's pack_padded_sequence(enforce_sorted=False) /
 * pad_packed_sequence(total_length=T): padded steps are skipped, the reverse direction starts
 * at each sequence's last step, output and the input gradient are zero at padded steps, and
 * h_n/c_n are each sequence's own last states. Internally the layers run on the packed batch
 * (PyTorch's PackedSequence layout: sequences sorted by length, each step's rows contiguous).
 *
 * <p>Backward takes the upstream gradients of output, h_n (and c_n), returns the gradients of
 * input, h0 (and c0) (also when the initial state defaulted to zeros) and adds the parameter
 * gradients to {@link Parameter#grad()}. A forward result may be passed to backward any number
 * of times; the parameters must not change in between (backward uses their current values).
 */
public abstract class RNNBase extends Module {
    private static final System.Logger LOG = System.getLogger(RNNBase.class.getName());

    final CellType kind;
    private final int inputSize, hiddenSize, numLayers, projSize;
    private final boolean bias, batchFirst, bidirectional;
    private final double dropout;
    /** Parameters per [layer][direction]. */
    private final Recurrence.Weights[][] weights;

    RNNBase(Device device, CellType kind, Builder<?> b) {
        super(device);
        this.kind = kind;
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.numLayers = b.numLayers;
        this.projSize = b.projSize;
        this.bias = b.bias;
        this.batchFirst = b.batchFirst;
        this.bidirectional = b.bidirectional;
        this.dropout = b.dropout;
        int dirs = numDirections(), hOut = outputHiddenSize();
        if ((long) dirs * hOut > Integer.MAX_VALUE)
            throw new IllegalArgumentException("hidden size " + hOut + " is too large for " + dirs + " directions");
        this.weights = new Recurrence.Weights[numLayers][dirs];
        try {
            // PyTorch's order: for each layer, for each direction: w_ih, w_hh, b_ih, b_hh, w_hr.
            for (int layer = 0; layer < numLayers; layer++) {
                for (int dir = 0; dir < dirs; dir++) {
                    String sfx = "_l" + layer + (dir == 1 ? "_reverse" : "");
                    int inW = layer == 0 ? inputSize : dirs * hOut;
                    weights[layer][dir] = Recurrence.Weights.register(this, kind, sfx, inW, hiddenSize, hOut, bias);
                }
            }
            resetParameters(b.seed != null ? b.seed : new SplittableRandom().nextLong());
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ configuration

    /** The number of input features. */
    public int inputSize() { return inputSize; }

    /** The number of features of h (and c). */
    public int hiddenSize() { return hiddenSize; }

    /** The number of stacked layers. */
    public int numLayers() { return numLayers; }

    /** Whether the layer has the bias_ih and bias_hh parameters. */
    public boolean bias() { return bias; }

    /** Whether input and output are (batch, seq, feature). */
    public boolean batchFirst() { return batchFirst; }

    /** Probability of the dropout applied to every layer's output except the last, in training mode. */
    public double dropout() { return dropout; }

    /** Whether each layer also runs in reverse. */
    public boolean bidirectional() { return bidirectional; }

    /** LSTM projection size; 0 (no projection) for every other module. */
    public int projSize() { return projSize; }

    /** Whether the module carries a cell state c besides h (the LSTM): its forward takes c0 and gives c_n. */
    public boolean hasCellState() { return kind.hasCellState(); }

    /** 2 if bidirectional, else 1. */
    public int numDirections() { return bidirectional ? 2 : 1; }

    /** Width of h: proj_size if the LSTM projects, else hidden_size. */
    public int outputHiddenSize() { return projSize > 0 ? projSize : hiddenSize; }

    /**
     * PyTorch's default initialisation: every parameter from U(-1/sqrt(hidden_size),
     * +1/sqrt(hidden_size)) (variance 1/(3*hidden_size)), drawn in parameter order, row-major,
     * from a {@link SplittableRandom} seeded with {@code seed}. The builder calls it with its
     * {@code seed}, or a random one.
     */
    public void resetParameters(long seed) {
        exclusiveUse("resetParameters", () -> kind.initialise(this, hiddenSize, seed));
    }

    /** PyTorch's repr, e.g. {@code LSTM(10, 20, num_layers=2, bidirectional=True)}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(getClass().getSimpleName()).append('(')
                .append(inputSize).append(", ").append(hiddenSize);
        if (projSize != 0) s.append(", proj_size=").append(projSize);
        if (numLayers != 1) s.append(", num_layers=").append(numLayers);
        if (!bias) s.append(", bias=False");
        if (batchFirst) s.append(", batch_first=True");
        if (dropout != 0) s.append(", dropout=").append(PyRepr.pyFloat(dropout));
        if (bidirectional) s.append(", bidirectional=True");
        return s.append(')').toString();
    }

    // ------------------------------------------------------------------ forward

    /** What one forward pass keeps for backward; owned by its {@link RecurrentOutput}. */
    private static final class Saved implements AutoCloseable {
        final RNNBase owner;
        final int steps, batch;
        final boolean unbatched;
        /** The batch's lengths: which rows each step runs on (a full packing without lengths). */
        final Packing pk;
        final int[] inputShape, outputShape, hShape, cShape;
        final TensorScope scope;
        /** Input of each layer, time-major (T, B, width); layer k > 0 reads layer k-1's output after dropout. */
        final Tensor[] layerInput;
        /** Dropout mask applied to the output of layer k (k < num_layers-1), or null. */
        final Tensor[] mask;
        final Recurrence.State[][] state;
        boolean closed;

        Saved(RNNBase owner, int steps, int batch, boolean unbatched, Packing pk,
              int[] inputShape, int[] outputShape, int[] hShape, int[] cShape) {
            this.owner = owner;
            this.pk = pk;
            this.steps = steps;
            this.batch = batch;
            this.unbatched = unbatched;
            this.inputShape = inputShape;
            this.outputShape = outputShape;
            this.hShape = hShape;
            this.cShape = cShape;
            this.scope = new TensorScope(owner.device);
            this.layerInput = new Tensor[owner.numLayers];
            this.mask = new Tensor[owner.numLayers];
            this.state = new Recurrence.State[owner.numLayers][owner.numDirections()];
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            AutoCloseable[] all = new AutoCloseable[1 + state.length * state[0].length];
            all[0] = scope;
            int i = 1;
            for (Recurrence.State[] layer : state) for (Recurrence.State s : layer) all[i++] = s;
            Closeables.closeAll(all);
        }
    }

    /** Whether the input/output are (B, T, ...) and must be transposed to the time-major layout the layers use. */
    private boolean transposes(boolean unbatched) { return batchFirst && !unbatched; }

    /**
     * Element strides of the caller's input/output layout: {batch stride, time stride} for a
     * tensor of {@code width} features (time-major, batch-first or unbatched).
     */
    private long[] callerStrides(boolean unbatched, int steps, int batch, int width) {
        if (transposes(unbatched)) return new long[]{(long) steps * width, width};
        return new long[]{width, (long) batch * width};
    }

    final RecurrentOutput forwardImpl(Tensor input, Tensor h0, Tensor c0) { return entered(input, h0, c0, null); }

    /**
     * The forward of every module in one signature, for code that serves or drives any of them:
     * as the module's own {@code forward} with h0 and, where {@link #hasCellState()}, c0 (each
     * null for zeros), over sequences of {@code lengths} (null: all of length T).
     *
     * @throws IllegalArgumentException as the module's {@code forward}, and for a c0 given to a
     *                                  module without a cell state
     */
    public final RecurrentOutput forwardStates(Tensor input, Tensor h0, Tensor c0, int[] lengths) {
        if (c0 != null && !kind.hasCellState())
            throw new IllegalArgumentException("c0: " + getClass().getSimpleName() + " has no cell state");
        return entered(input, h0, c0, lengths);
    }

    /**
     * The backward of every module in one signature: as the module's own {@code backward}, with
     * the gradient of c_n where {@link #hasCellState()} (each gradient null for zero).
     *
     * @throws IllegalArgumentException as the module's {@code backward}, and for a gradCn given to a
     *                                  module without a cell state
     */
    public final RecurrentGrads backwardStates(RecurrentOutput out, Tensor gradOutput, Tensor gradHn, Tensor gradCn) {
        if (gradCn != null && !kind.hasCellState())
            throw new IllegalArgumentException("gradCn: " + getClass().getSimpleName() + " has no cell state");
        return backwardImpl(out, gradOutput, gradHn, gradCn);
    }

    /**
     * Forward over a right-padded batch; {@code lengths}: one per batch element, 1..T, any
     * order. As PyTorch's pack_padded_sequence(enforce_sorted=False) then
     * pad_packed_sequence(total_length=T).
     */
    final RecurrentOutput forwardImpl(Tensor input, Tensor h0, Tensor c0, int[] lengths) {
        if (lengths == null) throw new NullPointerException("lengths is null");
        return entered(input, h0, c0, lengths);
    }

    /** Forward as one use of the module (eval-mode forward calls may share it; see {@link Module}). */
    private RecurrentOutput entered(Tensor input, Tensor h0, Tensor c0, int[] lengths) {
        return forwardUse(() -> run(input, h0, c0, lengths));
    }

    /** The forward pass itself, for a caller that has entered the module (package-private for the close-in-flight test). */
    RecurrentOutput forwardInUse(Tensor input, Tensor h0, Tensor c0) { return run(input, h0, c0, null); }

    private RecurrentOutput run(Tensor input, Tensor h0, Tensor c0, int[] lengths) {
        Args.tensor("input", input, device);
        if (input.dim() != 3 && input.dim() != 2)
            throw new IllegalArgumentException("input: expected a 3-D tensor " + (batchFirst ? "(batch, seq_len, input_size)" : "(seq_len, batch, input_size)")
                    + " or a 2-D unbatched tensor (seq_len, input_size), got shape " + Shapes.str(input.shape()));
        boolean unbatched = input.dim() == 2;
        int steps = unbatched || !batchFirst ? input.size(0) : input.size(1);
        int batch = unbatched ? 1 : batchFirst ? input.size(0) : input.size(1);
        if (input.size(input.dim() - 1) != inputSize)
            throw new IllegalArgumentException("input: expected last dimension input_size=" + inputSize + ", got shape " + Shapes.str(input.shape()));
        if (steps < 1 || batch < 1)
            throw new IllegalArgumentException("input: needs at least one time step and one batch element, got shape " + Shapes.str(input.shape()));
        final int L = numLayers, D = numDirections(), H = hiddenSize, hOut = outputHiddenSize();
        int[] hShape = unbatched ? new int[]{L * D, hOut} : new int[]{L * D, batch, hOut};
        int[] cShape = !kind.hasCellState() ? null : unbatched ? new int[]{L * D, H} : new int[]{L * D, batch, H};
        int[] outShape = unbatched ? new int[]{steps, D * hOut}
                : batchFirst ? new int[]{batch, steps, D * hOut} : new int[]{steps, batch, D * hOut};
        String stateDims = unbatched ? "(num_layers*num_directions, " : "(num_layers*num_directions, batch, ";
        if (h0 != null) Args.tensor("h0", h0, device, hShape, stateDims + (projSize > 0 ? "proj_size)" : "hidden_size)"));
        if (c0 != null) Args.tensor("c0", c0, device, cShape, stateDims + "hidden_size)");
        if (kind.hasCellState() && (h0 == null) != (c0 == null))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": h0 and c0 must be given together or both be null (PyTorch's (h_0, c_0)); got only "
                    + (h0 != null ? "h0" : "c0"));
        // Largest temporary: the (T, B, 4H) gates, or a layer's (T, B, D*H_out) output.
        Args.fits(this, input, steps + 1, batch, Math.max(kind.gates * H + H, Math.max(D * hOut, inputSize)));
        Packing pk = lengths == null ? Packing.full(steps, batch) : Packing.of(lengths, steps, batch);
        // A batch whose sequences all run T steps is the padded layout itself: no reordering.
        final boolean packed = !pk.isFull();

        Backend be = DeviceAccess.backend(device);
        Saved sv = new Saved(this, steps, batch, unbatched, pk, input.shape(), outShape, hShape, cShape);
        Tensor output = null, hN = null, cN = null;
        boolean ok = false;
        try (TensorScope tmp = new TensorScope(device)) {
            hN = Tensor.zeros(device, hShape);
            if (cShape != null) cN = Tensor.zeros(device, cShape);
            // The layers read a time-major copy of the input (which backward needs for dW_ih),
            // packed when the sequences have different lengths (N real rows, sorted by length).
            final int TB = pk.total, width = D * hOut;
            Tensor x = sv.scope.zeros(TB, inputSize);
            DeviceBuffer h0b = h0 == null ? null : DeviceAccess.buffer(h0), c0b = c0 == null ? null : DeviceAccess.buffer(c0);
            DeviceBuffer hNb = DeviceAccess.buffer(hN), cNb = cN == null ? null : DeviceAccess.buffer(cN);
            if (packed) {
                long[] st = callerStrides(unbatched, steps, batch, inputSize);
                Tensor scratch = tmp.zeros(steps, batch, inputSize);
                pk.pack(be, inputSize, DeviceAccess.buffer(input), 0, st[0], st[1], DeviceAccess.buffer(scratch), DeviceAccess.buffer(x), 0);
                tmp.release(scratch);
                // Initial and last states in the sorted order, put back in the caller's order at the end.
                if (h0 != null) pk.permute(be, L * D, hOut, DeviceAccess.buffer(h0), h0b = DeviceAccess.buffer(tmp.zeros(L * D, batch, hOut)), true);
                if (c0 != null) pk.permute(be, L * D, H, DeviceAccess.buffer(c0), c0b = DeviceAccess.buffer(tmp.zeros(L * D, batch, H)), true);
                hNb = DeviceAccess.buffer(tmp.zeros(L * D, batch, hOut));
                if (cN != null) cNb = DeviceAccess.buffer(tmp.zeros(L * D, batch, H));
            } else if (transposes(unbatched)) {
                Recurrence.swapLeadingDims(be, batch, steps, inputSize, DeviceAccess.buffer(input), 0, DeviceAccess.buffer(x), 0);
            } else {
                be.copy(DeviceAccess.buffer(input), 0, DeviceAccess.buffer(x), 0, input.numel());
            }
            float p = (float) dropout;
            for (int layer = 0; layer < L; layer++) {
                sv.layerInput[layer] = x;
                boolean last = layer == L - 1;
                int inW = layer == 0 ? inputSize : width;
                Recurrence rec = new Recurrence(device, kind, pk, inW, H, hOut);
                Tensor y;   // this layer's output, time-major (T, B, D*H_out), or packed (N, D*H_out)
                if (last && !transposes(unbatched) && !packed) y = output = Tensor.zeros(device, outShape);
                else if (last) y = tmp.zeros(TB, width);
                else y = sv.scope.zeros(TB, width);
                for (int dir = 0; dir < D; dir++) {
                    boolean rev = dir == 1;
                    int row = layer * D + dir;
                    Recurrence.State st = rec.forward(weights[layer][dir], rev, DeviceAccess.buffer(x),
                            h0b, (long) row * batch * hOut, c0b, (long) row * batch * H);
                    sv.state[layer][dir] = st;
                    rec.copyOutputs(st, rev, DeviceAccess.buffer(y), (long) dir * hOut, width);
                    rec.copyLast(st, rev, false, hNb, (long) row * batch * hOut);
                    if (cN != null) rec.copyLast(st, rev, true, cNb, (long) row * batch * H);
                }
                if (!last && isTraining() && dropout > 0) {
                    Tensor mask = sv.scope.zeros(TB, width);
                    // p == 1 drops everything: the zero-filled mask is already right (dropoutMask needs p < 1).
                    if (p < 1f) be.dropoutMask(mask.numel(), p, nextDropoutSeed(), DeviceAccess.buffer(mask), 0);
                    be.mul(y.numel(), DeviceAccess.buffer(y), 0, DeviceAccess.buffer(mask), 0, DeviceAccess.buffer(y), 0);
                    sv.mask[layer] = mask;
                }
                x = y;
            }
            if (packed) {
                // Back to the caller's order and layout, zero at the padded steps.
                output = Tensor.zeros(device, outShape);
                long[] st = callerStrides(unbatched, steps, batch, width);
                pk.unpack(be, width, DeviceAccess.buffer(x), 0, DeviceAccess.buffer(tmp.zeros(steps, batch, width)), DeviceAccess.buffer(output), 0, st[0], st[1]);
                pk.permute(be, L * D, hOut, hNb, DeviceAccess.buffer(hN), false);
                if (cN != null) pk.permute(be, L * D, H, cNb, DeviceAccess.buffer(cN), false);
            } else if (transposes(unbatched)) {
                output = Tensor.zeros(device, outShape);
                Recurrence.swapLeadingDims(be, steps, batch, width, DeviceAccess.buffer(x), 0, DeviceAccess.buffer(output), 0);
            }
            ok = true;
            return new RecurrentOutput(output, hN, cN, sv);
        } finally {
            if (!ok) Closeables.closeAll(output, hN, cN, sv);
            // The caller's tensors must outlive every use of their buffers above, even if the caller drops them.
            Reference.reachabilityFence(input);
            Reference.reachabilityFence(h0);
            Reference.reachabilityFence(c0);
        }
    }

    // ------------------------------------------------------------------ backward

    final RecurrentGrads backwardImpl(RecurrentOutput out, Tensor gradOutput, Tensor gradHn, Tensor gradCn) {
        return exclusiveUse("backward", () -> backwardInUse(out, gradOutput, gradHn, gradCn));
    }

    private RecurrentGrads backwardInUse(RecurrentOutput out, Tensor gradOutput, Tensor gradHn, Tensor gradCn) {
        if (out == null) throw new NullPointerException("out is null");
        if (!(out.saved instanceof Saved sv) || sv.owner != this)
            throw new IllegalArgumentException("out: was not produced by forward of this module " + this);
        if (sv.closed) throw new IllegalStateException("out: the RecurrentOutput is closed");
        if (gradOutput != null) Args.tensor("gradOutput", gradOutput, device, sv.outputShape, "the shape of output");
        if (gradHn != null) Args.tensor("gradHn", gradHn, device, sv.hShape, "the shape of h_n");
        if (gradCn != null) Args.tensor("gradCn", gradCn, device, sv.cShape, "the shape of c_n");

        Backend be = DeviceAccess.backend(device);
        final int L = numLayers, D = numDirections(), H = hiddenSize, hOut = outputHiddenSize();
        final int steps = sv.steps, batch = sv.batch, width = D * hOut;
        boolean transposes = transposes(sv.unbatched);
        final Packing pk = sv.pk;
        final boolean packed = !pk.isFull();
        final int TB = pk.total;
        Tensor gIn = null, gH0 = null, gC0 = null;
        boolean ok = false;
        try (TensorScope tmp = new TensorScope(device)) {
            gH0 = Tensor.zeros(device, sv.hShape);
            if (sv.cShape != null) gC0 = Tensor.zeros(device, sv.cShape);
            // With lengths the layers see the batch sorted: the state gradients go through sorted copies.
            DeviceBuffer gHn = gradHn == null ? null : DeviceAccess.buffer(gradHn), gCn = gradCn == null ? null : DeviceAccess.buffer(gradCn);
            DeviceBuffer gH0b = DeviceAccess.buffer(gH0), gC0b = gC0 == null ? null : DeviceAccess.buffer(gC0);
            if (packed) {
                if (gradHn != null) pk.permute(be, L * D, hOut, DeviceAccess.buffer(gradHn), gHn = DeviceAccess.buffer(tmp.zeros(L * D, batch, hOut)), true);
                if (gradCn != null) pk.permute(be, L * D, H, DeviceAccess.buffer(gradCn), gCn = DeviceAccess.buffer(tmp.zeros(L * D, batch, H)), true);
                gH0b = DeviceAccess.buffer(tmp.zeros(L * D, batch, hOut));
                if (gC0 != null) gC0b = DeviceAccess.buffer(tmp.zeros(L * D, batch, H));
            }
            // dY: gradient of the current layer's output, time-major (T, B, D*H_out) or packed; null = zero.
            Tensor dYTmp = null;
            DeviceBuffer dY = null;
            if (gradOutput != null) {
                if (packed) {
                    // Only the valid steps: the output is constant zero at the padded ones.
                    dYTmp = tmp.zeros(TB, width);
                    long[] st = callerStrides(sv.unbatched, steps, batch, width);
                    Tensor scratch = tmp.zeros(steps, batch, width);
                    pk.pack(be, width, DeviceAccess.buffer(gradOutput), 0, st[0], st[1], DeviceAccess.buffer(scratch), DeviceAccess.buffer(dYTmp), 0);
                    tmp.release(scratch);
                    dY = DeviceAccess.buffer(dYTmp);
                } else if (transposes) {
                    dYTmp = tmp.zeros(steps, batch, width);
                    Recurrence.swapLeadingDims(be, batch, steps, width, DeviceAccess.buffer(gradOutput), 0, DeviceAccess.buffer(dYTmp), 0);
                    dY = DeviceAccess.buffer(dYTmp);
                } else {
                    dY = DeviceAccess.buffer(gradOutput);
                }
            }
            for (int layer = L - 1; layer >= 0; layer--) {
                int inW = layer == 0 ? inputSize : width;
                Recurrence rec = new Recurrence(device, kind, pk, inW, H, hOut);
                Tensor dX = layer == 0 && !transposes && !packed ? (gIn = Tensor.zeros(device, sv.inputShape)) : tmp.zeros(TB, inW);
                for (int dir = 0; dir < D; dir++) {
                    int row = layer * D + dir;
                    rec.backward(sv.state[layer][dir], weights[layer][dir], dir == 1, DeviceAccess.buffer(sv.layerInput[layer]),
                            dY, (long) dir * hOut, width,
                            gHn, (long) row * batch * hOut, gCn, (long) row * batch * H,
                            DeviceAccess.buffer(dX), gH0b, (long) row * batch * hOut, gC0b, (long) row * batch * H);
                }
                // Layer k's input is layer k-1's output times its dropout mask.
                if (layer > 0 && sv.mask[layer - 1] != null)
                    be.mul(dX.numel(), DeviceAccess.buffer(dX), 0, DeviceAccess.buffer(sv.mask[layer - 1]), 0, DeviceAccess.buffer(dX), 0);
                if (dYTmp != null) tmp.release(dYTmp);
                dYTmp = dX == gIn ? null : dX;
                dY = DeviceAccess.buffer(dX);
            }
            if (packed) {
                gIn = Tensor.zeros(device, sv.inputShape);
                long[] st = callerStrides(sv.unbatched, steps, batch, inputSize);
                pk.unpack(be, inputSize, dY, 0, DeviceAccess.buffer(tmp.zeros(steps, batch, inputSize)), DeviceAccess.buffer(gIn), 0, st[0], st[1]);
                pk.permute(be, L * D, hOut, gH0b, DeviceAccess.buffer(gH0), false);
                if (gC0 != null) pk.permute(be, L * D, H, gC0b, DeviceAccess.buffer(gC0), false);
            } else if (transposes) {
                gIn = Tensor.zeros(device, sv.inputShape);
                Recurrence.swapLeadingDims(be, steps, batch, inputSize, dY, 0, DeviceAccess.buffer(gIn), 0);
            }
            ok = true;
            return new RecurrentGrads(gIn, gH0, gC0);
        } finally {
            if (!ok) Closeables.closeAll(gIn, gH0, gC0);
            Reference.reachabilityFence(gradOutput);
            Reference.reachabilityFence(gradHn);
            Reference.reachabilityFence(gradCn);
        }
    }

    // ------------------------------------------------------------------ builder

    /**
     * Options shared by the module builders, named after PyTorch's constructor arguments, on top
     * of those of every recurrent builder. Setters check their argument at once; {@code build}
     * checks the combination.
     */
    public abstract static class Builder<S extends Builder<S>> extends RecurrentBuilder<S> {
        int numLayers = 1, projSize;
        boolean batchFirst, bidirectional;
        double dropout;

        Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        /** The number of stacked layers (default 1); IllegalArgumentException unless positive. */
        public S numLayers(int numLayers) {
            if (numLayers <= 0) throw new IllegalArgumentException("numLayers must be greater than zero, got " + numLayers);
            this.numLayers = numLayers;
            return self();
        }

        /** Input and output as (batch, seq, feature); h0/h_n/c0/c_n stay (layers*dirs, batch, hidden). */
        public S batchFirst(boolean batchFirst) { this.batchFirst = batchFirst; return self(); }

        /** Dropout probability in [0, 1] on every layer's output except the last, in training mode only. */
        public S dropout(double dropout) {
            if (!(dropout >= 0 && dropout <= 1))
                throw new IllegalArgumentException("dropout must be a number in [0, 1], got " + dropout);
            this.dropout = dropout;
            return self();
        }

        /** Whether each layer also runs in reverse, doubling the output width (default false). */
        public S bidirectional(boolean bidirectional) { this.bidirectional = bidirectional; return self(); }

        void validate() {
            if (projSize >= hiddenSize)
                throw new IllegalArgumentException("projSize must be smaller than hiddenSize, got projSize=" + projSize + ", hiddenSize=" + hiddenSize);
            if (dropout > 0 && numLayers == 1)
                LOG.log(System.Logger.Level.WARNING, "dropout={0} has no effect with numLayers=1: dropout applies between layers only", dropout);
        }
    }
}
