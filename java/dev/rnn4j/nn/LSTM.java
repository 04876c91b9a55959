package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/**
 * Multi-layer long short-term memory, PyTorch's {@code nn.LSTM}. Gate blocks i, f, g, o (G = 4):
 * <pre>
 * i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
 * g = tanh(W_ig x + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
 * c' = f * c + i * g
 * h' = o * tanh(c')              or, with proj_size > 0,   h' = W_hr (o * tanh(c'))
 * </pre>
 * With a projection h has proj_size features: {@code weight_hh_l{k}} is (4*hidden, proj_size),
 * layers above the first read D*proj_size features, h0/h_n are (num_layers*D, B, proj_size)
 * while c0/c_n stay (num_layers*D, B, hidden_size). With {@code peepholes(true)} the gates
 * also read the cell state (ONNX's P): {@code i} and {@code f} add {@code p_i * c} and
 * {@code p_f * c}, {@code o} adds {@code p_o * c'}, with one more parameter per layer and
 * direction, {@code weight_peephole_l{k}} (3*hidden: p_i, p_f, p_o; rnn4j's name, PyTorch has
 * none), registered after the others. With {@code coupledInputForget(true)} f = 1 - i
 * (ONNX's input_forget). Everything else as in {@link RNNBase}.
 */
public final class LSTM extends RNNBase {
    private final boolean peepholes, coupledInputForget;

    private LSTM(Device device, Builder b) {
        super(device, b.peepholes ? new LstmPeephole() : b.coupledInputForget ? new LstmCoupled() : CellType.LSTM, b);
        this.peepholes = b.peepholes;
        this.coupledInputForget = b.coupledInputForget;
    }

    /** Whether the forget gate is 1 - i (ONNX's input_forget = 1). */
    public boolean coupledInputForget() { return coupledInputForget; }

    /** Whether the gates read the cell state through {@code weight_peephole_l{k}}. */
    public boolean peepholes() { return peepholes; }

    /** A builder for a LSTM with PyTorch's defaults (one layer, bias, time-major, no dropout, one direction, a random seed); IllegalArgumentException at {@link Builder#build} for invalid options. */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /**
     * @param input (T, B, input_size), (B, T, input_size) if batch_first, or unbatched (T, input_size)
     * @param h0    (num_layers*D, B, H_out), or null for zeros
     * @param c0    (num_layers*D, B, hidden_size), or null for zeros
     * @return output, h_n, c_n and what backward needs; the caller closes it
     */
    public RecurrentOutput forward(Tensor input, Tensor h0, Tensor c0) { return forwardImpl(input, h0, c0); }

    /** {@link #forward(Tensor, Tensor, Tensor)} from zero initial states. */
    public RecurrentOutput forward(Tensor input) { return forwardImpl(input, null, null); }

    /**
     * Forward over a right-padded batch of sequences of different lengths, as PyTorch's
     * {@code pack_padded_sequence(input, lengths, enforce_sorted=False)} then
     * {@code pad_packed_sequence(output, total_length=T)}: sequence b runs only its first
     * {@code lengths[b]} steps (the reverse direction starts at its last one), {@code output}
     * is zero at the padded steps and {@code h_n} and {@code c_n} hold each sequence's own last state. The
     * work follows the real tokens. Backward takes the result as usual; the gradient of the
     * input is zero at the padded steps.
     *
     * @param lengths one per batch element (one for an unbatched input), any order, each in 1..T
     * @throws IllegalArgumentException for a wrong number of lengths or a length outside 1..T,
     *                                  before any work
     */
    public RecurrentOutput forward(Tensor input, Tensor h0, Tensor c0, int[] lengths) { return forwardImpl(input, h0, c0, lengths); }

    /** {@link #forward(Tensor, Tensor, Tensor, int[])} from zero initial states. */
    public RecurrentOutput forward(Tensor input, int[] lengths) { return forwardImpl(input, null, null, lengths); }

    /**
     * Gradients of a loss given its gradients w.r.t. output, h_n and c_n (each may be null for
     * zero). Returns the gradients w.r.t. input, h0 and c0; adds the parameter gradients to
     * {@link Parameter#grad()}.
     */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradHn, Tensor gradCn) {
        return backwardImpl(out, gradOutput, gradHn, gradCn);
    }

    /** Options of a {@link LSTM}; the setters validate their argument and return the builder. */
    public static final class Builder extends RNNBase.Builder<Builder> {
        private boolean peepholes, coupledInputForget;

        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /**
         * Peephole connections (default false): i and f read c_{t-1}, o reads c_t, each through
         * a vector of its own in {@code weight_peephole_l{k}}; not with a projection.
         */
        public Builder peepholes(boolean peepholes) { this.peepholes = peepholes; return this; }

        /**
         * Couples the forget gate to the input gate, f = 1 - i (default false; ONNX's
         * input_forget = 1): the f rows of the weights and biases stay but are not read, and
         * get zero gradients. Not with a projection or peepholes.
         */
        public Builder coupledInputForget(boolean coupled) { this.coupledInputForget = coupled; return this; }

        /** Size of the projection of h (0 = none, the default); must be smaller than hidden_size. */
        public Builder projSize(int projSize) {
            if (projSize < 0) throw new IllegalArgumentException("projSize must be zero (no projection) or positive, got " + projSize);
            this.projSize = projSize;
            return this;
        }

        /** Builds the LSTM on {@code device}, its parameters drawn from the seed; IllegalArgumentException for an invalid combination of options. */
        public LSTM build(Device device) {
            validate();
            if (peepholes && projSize > 0) throw new IllegalArgumentException("peepholes do not combine with projSize (got projSize=" + projSize + ")");
            if (coupledInputForget && (projSize > 0 || peepholes))
                throw new IllegalArgumentException("coupledInputForget does not combine with projSize or peepholes");
            return new LSTM(device, this);
        }
    }
}
