package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/**
 * Multi-layer gated recurrent unit, PyTorch's {@code nn.GRU}. Gate blocks r, z, n (G = 3):
 * <pre>
 * r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 * z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 * h' = (1 - z) * n + z * h
 * </pre>
 * With {@code linearBeforeReset(false)} the reset gate applies to h before the product
 * (ONNX's default, linear_before_reset = 0): {@code n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)};
 * the parameters are the same.
 * Shapes, directions, dropout and parameter names as described in {@link RNNBase}.
 */
public final class GRU extends RNNBase {
    private final boolean linearBeforeReset;

    private GRU(Device device, Builder b) {
        super(device, b.linearBeforeReset ? CellType.GRU : new GruResetBefore(), b);
        this.linearBeforeReset = b.linearBeforeReset;
    }

    /** Whether r multiplies W_hn h + b_hn (true, PyTorch's GRU) or h before the product (false). */
    public boolean linearBeforeReset() { return linearBeforeReset; }

    /** A builder for a GRU with PyTorch's defaults (one layer, bias, time-major, no dropout, one direction, a random seed); IllegalArgumentException at {@link Builder#build} for invalid options. */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /**
     * @param input (T, B, input_size), (B, T, input_size) if batch_first, or unbatched (T, input_size)
     * @param h0    (num_layers*D, B, hidden_size), or null for zeros
     */
    public RecurrentOutput forward(Tensor input, Tensor h0) { return forwardImpl(input, h0, null); }

    /** {@link #forward(Tensor, Tensor)} from a zero initial state. */
    public RecurrentOutput forward(Tensor input) { return forwardImpl(input, null, null); }

    /**
     * Forward over a right-padded batch of sequences of different lengths, as PyTorch's
     * {@code pack_padded_sequence(input, lengths, enforce_sorted=False)} then
     * {@code pad_packed_sequence(output, total_length=T)}: sequence b runs only its first
     * {@code lengths[b]} steps (the reverse direction starts at its last one), {@code output}
     * is zero at the padded steps and {@code h_n} holds each sequence's own last state. The
     * work follows the real tokens. Backward takes the result as usual; the gradient of the
     * input is zero at the padded steps.
     *
     * @param lengths one per batch element (one for an unbatched input), any order, each in 1..T
     * @throws IllegalArgumentException for a wrong number of lengths or a length outside 1..T,
     *                                  before any work
     */
    public RecurrentOutput forward(Tensor input, Tensor h0, int[] lengths) { return forwardImpl(input, h0, null, lengths); }

    /** {@link #forward(Tensor, Tensor, int[])} from a zero initial state. */
    public RecurrentOutput forward(Tensor input, int[] lengths) { return forwardImpl(input, null, null, lengths); }

    /** As {@link RNN#backward}: gradients w.r.t. input and h0; parameter gradients accumulate. */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradHn) {
        return backwardImpl(out, gradOutput, gradHn, null);
    }

    /** Options of a {@link GRU}; the setters validate their argument and return the builder. */
    public static final class Builder extends RNNBase.Builder<Builder> {
        private boolean linearBeforeReset = true;

        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /**
         * Where the reset gate applies: true (the default, PyTorch's GRU) multiplies the product
         * W_hn h + b_hn by r; false multiplies h by r before the product (ONNX's
         * linear_before_reset = 0).
         */
        public Builder linearBeforeReset(boolean linearBeforeReset) { this.linearBeforeReset = linearBeforeReset; return this; }

        /** Builds the GRU on {@code device}, its parameters drawn from the seed; IllegalArgumentException for an invalid combination of options. */
        public GRU build(Device device) {
            validate();
            return new GRU(device, this);
        }
    }
}
