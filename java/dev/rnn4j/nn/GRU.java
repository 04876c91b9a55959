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
 * Shapes, directions, dropout and parameter names as described in {@link RNNBase}.
 */
public final class GRU extends RNNBase {
    private GRU(Device device, Builder b) { super(device, CellType.GRU, b); }

    /** A builder for a GRU with PyTorch's defaults (one layer, bias, time-major, no dropout, one direction, a random seed); IllegalArgumentException at {@link Builder#build} for invalid options. */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /**
     * @param input (T, B, input_size), (B, T, input_size) if batch_first, or unbatched (T, input_size)
     * @param h0    (num_layers*D, B, hidden_size), or null for zeros
     */
    public RecurrentOutput forward(Tensor input, Tensor h0) { return forwardImpl(input, h0, null); }

    /** {@link #forward(Tensor, Tensor)} from a zero initial state. */
    public RecurrentOutput forward(Tensor input) { return forwardImpl(input, null, null); }

    /** As {@link RNN#backward}: gradients w.r.t. input and h0; parameter gradients accumulate. */
    public RecurrentGrads backward(RecurrentOutput out, Tensor gradOutput, Tensor gradHn) {
        return backwardImpl(out, gradOutput, gradHn, null);
    }

    /** Options of a {@link GRU}; the setters validate their argument and return the builder. */
    public static final class Builder extends RNNBase.Builder<Builder> {
        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /** Builds the GRU on {@code device}, its parameters drawn from the seed; IllegalArgumentException for an invalid combination of options. */
        public GRU build(Device device) {
            validate();
            return new GRU(device, this);
        }
    }
}
