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
 * while c0/c_n stay (num_layers*D, B, hidden_size). Everything else as in {@link RNNBase}.
 */
public final class LSTM extends RNNBase {
    private LSTM(Device device, Builder b) { super(device, CellType.LSTM, b); }

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
     * Gradients of a loss given its gradients w.r.t. output, h_n and c_n (each may be null for
     * zero). Returns the gradients w.r.t. input, h0 and c0; adds the parameter gradients to
     * {@link Parameter#grad()}.
     */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradHn, Tensor gradCn) {
        return backwardImpl(out, gradOutput, gradHn, gradCn);
    }

    /** Options of a {@link LSTM}; the setters validate their argument and return the builder. */
    public static final class Builder extends RNNBase.Builder<Builder> {
        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /** Size of the projection of h (0 = none, the default); must be smaller than hidden_size. */
        public Builder projSize(int projSize) {
            if (projSize < 0) throw new IllegalArgumentException("projSize must be zero (no projection) or positive, got " + projSize);
            this.projSize = projSize;
            return this;
        }

        /** Builds the LSTM on {@code device}, its parameters drawn from the seed; IllegalArgumentException for an invalid combination of options. */
        public LSTM build(Device device) {
            validate();
            return new LSTM(device, this);
        }
    }
}
