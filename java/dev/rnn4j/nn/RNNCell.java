package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/** One step of the Elman RNN, PyTorch's {@code nn.RNNCell}: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu. See {@link RNNCellBase}. */
public final class RNNCell extends RNNCellBase {
    private RNNCell(Device device, Builder b) {
        super(device, CellType.rnn(b.nonlinearity), b);
    }

    /** A builder for a RNNCell with PyTorch's defaults (bias, a random seed). */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** "tanh" or "relu". */
    public String nonlinearity() { return kind == CellType.RNN_RELU ? "relu" : "tanh"; }

    /** One step from x (B, input_size) and h (B, hidden_size; null for zeros). */
    public CellOutput forward(Tensor x, Tensor h) { return forwardImpl(x, h, null); }

    /** Gradients w.r.t. x and h given the gradient w.r.t. the step's h (null for zero); CellGrads.c is null. */
    public CellGrads backward(CellOutput out, Tensor gradH) { return backwardImpl(out, gradH, null); }

    /** Options of a {@link RNNCell}. */
    public static final class Builder extends RecurrentBuilder<Builder> {
        private String nonlinearity = "tanh";

        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /** "tanh" (default) or "relu". */
        public Builder nonlinearity(String nonlinearity) {
            this.nonlinearity = Args.nonlinearity(nonlinearity);
            return this;
        }

        /** Builds the RNNCell on {@code device}, its parameters drawn from the seed. */
        public RNNCell build(Device device) { return new RNNCell(device, this); }
    }
}
