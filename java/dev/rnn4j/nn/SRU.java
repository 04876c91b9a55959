package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DropoutRng;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A stack of SRU layers ({@link SRUCell}), the {@code SRU} module of the original code (v1, the
 * default) or of the sru package 2.x ({@code v1(false)}; see {@link SRUOptions}): layer 0 reads
 * the input, layer k &gt; 0 reads the output (width D*hidden) of layer k-1. The layers are
 * children named {@code rnn_lst.0}, {@code rnn_lst.1}, ..., so the parameters are
 * {@code rnn_lst.{k}.weight} and {@code rnn_lst.{k}.bias} (2.x also {@code weight_c},
 * {@code weight_proj}, the buffer {@code scale_x} and {@code layer_norm.weight/.bias}), sru's
 * state_dict names; a state dict saved by sru 2.6.0 loads strictly, by name.
 *
 * <p>Dropout as in sru: every layer gets {@code rnnDropout} on its input, and every layer except
 * the last gets {@code dropout} (sru passes {@code dropout if i+1 != num_layers else 0}); nothing
 * is applied between the layers. Active in training mode only. Every layer gets the same 2.x
 * options, as in sru; a {@code projectionSize} must fit every layer (sru silently drops it
 * where it does not; here that is an error naming the option).
 *
 * <p>Shapes: input (T, B, inputSize); c0 and cN (numLayers, B, D*hidden), row k the initial /
 * last c of layer k; output (T, B, D*hidden). There is no h_n. With lengths (sru's
 * {@code mask_pad}) every layer freezes c and zeroes h at padded steps.
 */
public final class SRU extends Module {
    private final int inputSize, hiddenSize, numLayers, dirs;
    private final double dropout, rnnDropout;
    private final boolean bidirectional, useTanh, useRelu, v1;
    private final List<SRUCell> layers;

    private SRU(Device device, Builder b) {
        super(device);
        b.validate();
        this.v1 = b.v1;
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.numLayers = b.numLayers;
        this.dropout = b.dropout;
        this.rnnDropout = b.rnnDropout;
        this.bidirectional = b.bidirectional;
        this.useTanh = b.tanh();
        this.useRelu = b.useRelu;
        this.dirs = bidirectional ? 2 : 1;
        List<SRUCell> list = new ArrayList<>(numLayers);
        try {
            for (int i = 0; i < numLayers; i++) {
                SRUCell.Builder cb = SRUCell.builder(i == 0 ? inputSize : dirs * hiddenSize, hiddenSize)
                        .dropout(i + 1 != numLayers ? dropout : 0)
                        .rnnDropout(rnnDropout)
                        .bidirectional(bidirectional)
                        .useTanh(useTanh)
                        .useRelu(useRelu)
                        .v1(v1);
                if (!v1) {
                    cb.projectionSize(b.projectionSize).layerNorm(b.layerNorm).normalizeAfter(b.normalizeAfter)
                            .highwayBias(b.highwayBias).hasSkipTerm(b.hasSkipTerm).rescale(b.rescaleOr(false));
                    if (b.weightCInit != null) cb.weightCInit(b.weightCInit);
                }
                SRUCell cell;
                try {
                    cell = cb.buildLayer(device);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("layer " + i + " (rnn_lst." + i + "): " + e.getMessage(), e);
                }
                list.add(cell);
                registerModule("rnn_lst." + i, cell);
            }
        } catch (RuntimeException | Error e) {
            for (SRUCell c : list) c.close(); // e.g. out of memory half way: free what was made
            throw e;
        }
        this.layers = Collections.unmodifiableList(list);
    }

    /** A builder with the SRU code's defaults (two layers, one direction, no dropout, identity activation). */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** Configuration of an {@link SRU}, with the original constructor's argument names and defaults. */
    public static final class Builder extends SRUOptions<Builder> {
        private final int inputSize, hiddenSize;
        private int numLayers = 2;

        private Builder(int inputSize, int hiddenSize) {
            if (inputSize < 1) throw new IllegalArgumentException("inputSize must be >= 1, got " + inputSize);
            if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize must be >= 1, got " + hiddenSize);
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        /** Number of stacked layers; default 2. */
        public Builder numLayers(int n) {
            if (n < 1) throw new IllegalArgumentException("numLayers must be >= 1, got " + n);
            numLayers = n;
            return this;
        }

        @Override Builder self() { return this; }

        /** Builds the SRU on {@code device}; IllegalArgumentException for invalid options. */
        public SRU build(Device device) {
            if (device == null) throw new NullPointerException("device is null");
            if ((long) hiddenSize * (bidirectional ? 2 : 1) > Integer.MAX_VALUE / 4)
                throw new IllegalArgumentException("hiddenSize is too large: " + hiddenSize);
            return new SRU(device, this);
        }
    }

    // ---------------------------------------------------------------- configuration

    /** The number of input features. */
    public int inputSize() { return inputSize; }

    /** The number of features per direction of h and c. */
    public int hiddenSize() { return hiddenSize; }

    /** The number of stacked layers. */
    public int numLayers() { return numLayers; }

    /** 2 if bidirectional, else 1. */
    public int numDirections() { return dirs; }

    /** Width of the output and of each layer's c: D * hidden. */
    public int outputSize() { return dirs * hiddenSize; }

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

    /** The layers, bottom first. */
    public List<SRUCell> layers() { return layers; }

    /** {@link SRUCell#initWeight(long)} on every layer, layer k with a seed derived from (seed, k). */
    public void initWeight(long seed) {
        exclusiveUse("initWeight", () -> initWeightInUse(seed));
    }

    private void initWeightInUse(long seed) {
        // splitmix64 over the layer index: distinct, well-mixed seeds per layer.
        for (int i = 0; i < numLayers; i++) layers.get(i).initWeight(DropoutRng.stream(seed, i));
    }

    /** True for the 2017 SRU, false for the sru 2.x layers. */
    public boolean v1() { return v1; }

    /** {@link SRUCell#resetParameters(long)} on every layer (2.x; v1: {@link #initWeight}), layer k with a seed derived from (seed, k). */
    public void resetParameters(long seed) {
        exclusiveUse("resetParameters", () -> resetParametersInUse(seed));
    }

    private void resetParametersInUse(long seed) {
        for (int i = 0; i < numLayers; i++) layers.get(i).resetParameters(DropoutRng.stream(seed, i));
    }

    /** 2.x: {@link SRUCell#resetPeepholesAndNorms(long)} on every layer, layer k with a seed derived from (seed, k). */
    public void resetPeepholesAndNorms(long seed) {
        exclusiveUse("resetPeepholesAndNorms", () -> resetPeepholesAndNormsInUse(seed));
    }

    private void resetPeepholesAndNormsInUse(long seed) {
        for (int i = 0; i < numLayers; i++) layers.get(i).resetPeepholesAndNorms(DropoutRng.stream(seed, i));
    }

    /** Strict, by name; a state dict of the other SRU version, or of other options, says which option would fit it. */
    @Override
    public void loadStateDict(java.util.Map<String, dev.rnn4j.HostTensor> state) {
        try {
            super.loadStateDict(state);
        } catch (StateDictException e) {
            throw withHint(e, toString(), v1);
        }
    }

    /** e with a hint naming the option that explains its keys (the SRU version, layerNorm, projectionSize), if any. */
    static StateDictException withHint(StateDictException e, String module, boolean v1) {
        List<String> hints = new ArrayList<>();
        boolean extra2x = e.unexpected().stream().anyMatch(k -> k.endsWith("weight_c") || k.endsWith("scale_x"));
        boolean lacks2x = e.missing().stream().anyMatch(k -> k.endsWith("weight_c") || k.endsWith("scale_x"));
        if (v1 && extra2x)
            hints.add("the state dict is of an sru 2.x layer (weight_c, scale_x): build the SRU with v1(false)");
        if (!v1 && lacks2x && !extra2x)
            hints.add("the state dict is of an SRU v1 (no weight_c, scale_x): build the SRU with v1(true)");
        if (e.unexpected().stream().anyMatch(k -> k.contains("layer_norm.")))
            hints.add("it has layer_norm parameters: build with layerNorm(true)");
        if (e.missing().stream().anyMatch(k -> k.contains("layer_norm.")))
            hints.add("it has no layer_norm parameters: build with layerNorm(false)");
        if (e.unexpected().stream().anyMatch(k -> k.endsWith("weight_proj")))
            hints.add("it has weight_proj: build with projectionSize(n), n its second dimension");
        if (e.missing().stream().anyMatch(k -> k.endsWith("weight_proj")))
            hints.add("it has no weight_proj: build with projectionSize(0)");
        if (hints.isEmpty()) return e;
        return new StateDictException(module, e.missing(), e.unexpected(), e.mismatched(), String.join("; ", hints));
    }

    /** {@link SRUCell#setBias(float)} on every layer: the highway half of each bias becomes v. */
    public void setBias(float v) {
        exclusiveUse("setBias", () -> setBiasInUse(v));
    }

    private void setBiasInUse(float v) {
        for (SRUCell l : layers) l.setBias(v);
    }

    // ---------------------------------------------------------------- forward / backward

    /**
     * Runs every layer over the sequence.
     *
     * @param input (T, B, inputSize), T, B >= 1
     * @param c0    (numLayers, B, D*hidden), or null for zeros
     * @return output (T, B, D*hidden), hN null, cN (numLayers, B, D*hidden)
     */
    public RecurrentOutput forward(Tensor input, Tensor c0) { return forward(input, c0, null); }

    /**
     * Runs every layer over a right-padded batch of sequences of different lengths: sru's
     * {@code mask_pad} (c frozen and h zero at padded steps; the reverse direction starts at each
     * sequence's last valid step; cN taken there).
     *
     * @param lengths one entry per batch element, each in 1..T, any order; null for all T
     * @throws IllegalArgumentException for a wrong number of lengths or one outside 1..T, before any work
     */
    public RecurrentOutput forward(Tensor input, Tensor c0, int[] lengths) {
        return forwardUse(() -> forwardInUse(input, c0, lengths));
    }

    private RecurrentOutput forwardInUse(Tensor input, Tensor c0, int[] lengths) {
        int[] tb = SRUCell.checkSequence(this, "input", input, inputSize);
        int batch = tb[1];
        int out = dirs * hiddenSize;
        if (c0 != null) SRUCell.checkTensor(this, "c0", c0, numLayers, batch, out);
        int[] len = SRUCell.checkLengths(lengths, tb[0], batch);
        Backend be = DeviceAccess.backend(device);
        long slice = (long) batch * out;

        Saved s = new Saved(this);
        Tensor cN = null;
        boolean ok = false;
        try {
            cN = Tensor.zeros(device, numLayers, batch, out);
            Tensor x = input;
            for (int i = 0; i < numLayers; i++) {
                Tensor c0i = null;
                if (c0 != null) {
                    // Layers take whole tensors, so each gets its own copy of its row of c0 (small: B*D*H).
                    c0i = Tensor.zeros(device, batch, out);
                    s.c0Rows.add(c0i);
                    be.copy(DeviceAccess.buffer(c0), i * slice, DeviceAccess.buffer(c0i), 0, slice);
                }
                RecurrentOutput o = layers.get(i).forward(x, c0i, len);
                s.layerOutputs.add(o);
                be.copy(DeviceAccess.buffer(o.cN()), 0, DeviceAccess.buffer(cN), i * slice, slice);
                x = o.output();
            }
            // The output tensor is the last layer's; closing either result frees it once (close is idempotent).
            RecurrentOutput result = new RecurrentOutput(x, null, cN, s);
            ok = true;
            return result;
        } finally {
            if (!ok) Closeables.closeAll(cN, s);
        }
    }

    /**
     * Backpropagates through a forward pass of this module, adding every layer's weight and bias
     * gradients to its parameters.
     *
     * @param out        the result of {@link #forward} on this module, still open
     * @param gradOutput d loss / d output, (T, B, D*hidden)
     * @param gradCn     d loss / d cN, (numLayers, B, D*hidden), or null for zero
     * @return (d loss/d input (T, B, inputSize), null, d loss/d c0 (numLayers, B, D*hidden), or null
     *         when forward got no c0); the caller closes it
     */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradCn) {
        return exclusiveUse("backward", () -> backwardInUse(out, gradOutput, gradCn));
    }

    private RecurrentGrads backwardInUse(RecurrentOutput out, Tensor gradOutput, Tensor gradCn) {
        if (out == null) throw new NullPointerException("out is null");
        Tensor output = out.output(); // throws if closed
        if (!(out.saved instanceof Saved s) || s.owner != this)
            throw new IllegalArgumentException("out was not produced by forward of this " + this);
        int seqLen = output.size(0), batch = output.size(1), outSize = dirs * hiddenSize;
        SRUCell.checkTensor(this, "gradOutput", gradOutput, seqLen, batch, outSize);
        if (gradCn != null) SRUCell.checkTensor(this, "gradCn", gradCn, numLayers, batch, outSize);
        boolean hasC0 = !s.c0Rows.isEmpty();
        Backend be = DeviceAccess.backend(device);
        long slice = (long) batch * outSize;

        Tensor dc0 = null, g = gradOutput, gc = null;
        RecurrentGrads gi = null;
        boolean ok = false;
        try {
            if (hasC0) dc0 = Tensor.zeros(device, numLayers, batch, outSize);
            for (int i = numLayers - 1; i >= 0; i--) {
                if (gradCn != null) {
                    gc = Tensor.zeros(device, batch, outSize);
                    be.copy(DeviceAccess.buffer(gradCn), i * slice, DeviceAccess.buffer(gc), 0, slice);
                }
                gi = layers.get(i).backward(s.layerOutputs.get(i), g, gc);
                Closeables.closeAll(gc);
                gc = null;
                if (g != gradOutput) g.close(); // the gradient of an intermediate layer's output is spent
                g = gi.input();
                if (hasC0) {
                    be.copy(DeviceAccess.buffer(gi.c0()), 0, DeviceAccess.buffer(dc0), i * slice, slice);
                    gi.c0().close();
                }
                gi = null;
            }
            RecurrentGrads result = new RecurrentGrads(g, null, dc0);
            ok = true;
            return result;
        } finally {
            if (!ok) {
                Closeables.closeAll(gc, dc0, gi);
                if (g != gradOutput) Closeables.closeAll(g);
            }
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SRU(").append(inputSize).append(", ").append(hiddenSize)
                .append(", num_layers=").append(numLayers);
        if (dropout > 0) sb.append(", dropout=").append(dropout);
        if (rnnDropout > 0) sb.append(", rnn_dropout=").append(rnnDropout);
        if (bidirectional) sb.append(", bidirectional=True");
        if (v1) {
            if (!useTanh) sb.append(", use_tanh=0");
            if (useRelu) sb.append(", use_relu=1");
        } else {
            SRUCell l0 = layers == null ? null : layers.get(0);
            if (l0 == null) return sb.append(", v1=False)").toString();
            if (useTanh) sb.append(", use_tanh=True");
            if (l0.projectionSize() > 0) sb.append(", projection_size=").append(l0.projectionSize());
            if (l0.layerNorm() != null) sb.append(", layer_norm=True").append(l0.normalizeAfter() ? ", normalize_after=True" : "");
            if (l0.highwayBias() != 0) sb.append(", highway_bias=").append(l0.highwayBias());
            if (!l0.hasSkipTerm()) sb.append(", has_skip_term=False");
            sb.append(", rescale=").append(l0.rescale() ? "True" : "False").append(", v1=False");
        }
        return sb.append(')').toString();
    }

    /** Per-forward state: every layer's result (owned) and the per-layer copies of c0 (owned). */
    private static final class Saved implements AutoCloseable {
        final SRU owner;
        final List<RecurrentOutput> layerOutputs = new ArrayList<>();
        final List<Tensor> c0Rows = new ArrayList<>();

        Saved(SRU owner) { this.owner = owner; }

        @Override
        public void close() {
            List<AutoCloseable> all = new ArrayList<>(layerOutputs);
            all.addAll(c0Rows);
            Closeables.closeAll(all.toArray(new AutoCloseable[0]));
        }
    }
}
