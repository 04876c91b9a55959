package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/**
 * Multi-layer Elman RNN, PyTorch's {@code nn.RNN}: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 * with act = tanh or relu. Shapes, directions, dropout and parameter names as described in
 * {@link RNNBase}; G = 1, so {@code weight_ih_l0} is (hidden_size, input_size).
 *
 * <pre>{@code
 * try (RNN rnn = RNN.builder(10, 20).numLayers(2).nonlinearity("relu").build(device);
 *      RecurrentOutput out = rnn.forward(input, null)) { ... }
 * }</pre>
 */
public final class RNN extends RNNBase {
    private final String nonlinearity;

    private RNN(Device device, Builder b) {
        super(device, CellType.rnn(b.nonlinearity), b);
        this.nonlinearity = b.nonlinearity;
    }

    /** A builder for a RNN with PyTorch's defaults (one layer, bias, time-major, no dropout, one direction, a random seed); IllegalArgumentException at {@link Builder#build} for invalid options. */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** "tanh" or "relu". */
    public String nonlinearity() { return nonlinearity; }

    /**
     * @param input (T, B, input_size), (B, T, input_size) if batch_first, or unbatched (T, input_size)
     * @param h0    (num_layers*D, B, hidden_size), or null for zeros
     * @return output, h_n and what backward needs; the caller closes it
     */
    public RecurrentOutput forward(Tensor input, Tensor h0) { return forwardImpl(input, h0, null); }

    /** {@link #forward(Tensor, Tensor)} from a zero initial state. */
    public RecurrentOutput forward(Tensor input) { return forwardImpl(input, null, null); }

    /**
     * Gradients of a loss given its gradients w.r.t. output and h_n (either may be null for zero).
     * Returns the gradients w.r.t. input and h0 (c0 is null); adds the parameter gradients to
     * {@link Parameter#grad()}.
     */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradHn) {
        return backwardImpl(out, gradOutput, gradHn, null);
    }

    /** Options of a {@link RNN}; the setters validate their argument and return the builder. */
    public static final class Builder extends RNNBase.Builder<Builder> {
        private String nonlinearity = "tanh";

        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /** "tanh" (default) or "relu". */
        public Builder nonlinearity(String nonlinearity) {
            this.nonlinearity = Args.nonlinearity(nonlinearity);
            return this;
        }

        /** Builds the RNN on {@code device}, its parameters drawn from the seed; IllegalArgumentException for an invalid combination of options. */
        public RNN build(Device device) {
            validate();
            return new RNN(device, this);
        }
    }
}
