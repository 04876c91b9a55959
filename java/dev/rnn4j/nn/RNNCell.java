package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/** One step of the Elman RNN, PyTorch's {@code nn.RNNCell}: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu. See {@link RNNCellBase}. */
public final class RNNCell extends RNNCellBase {
    private RNNCell(Device device, Builder b) {
        super(device, b.nonlinearity.equals("relu") ? Recurrence.Kind.RNN_RELU : Recurrence.Kind.RNN_TANH,
                b.inputSize, b.hiddenSize, b.bias, b.seed);
    }

    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** "tanh" or "relu". */
    public String nonlinearity() { return kind == Recurrence.Kind.RNN_RELU ? "relu" : "tanh"; }

    /** One step from x (B, input_size) and h (B, hidden_size; null for zeros). */
    public CellOutput forward(Tensor x, Tensor h) { return forwardImpl(x, h, null); }

    /** Gradients w.r.t. x and h given the gradient w.r.t. the step's h (null for zero); CellGrads.c is null. */
    public CellGrads backward(CellOutput out, Tensor gradH) { return backwardImpl(out, gradH, null); }

    public static final class Builder {
        private final int inputSize, hiddenSize;
        private boolean bias = true;
        private String nonlinearity = "tanh";
        private Long seed;

        private Builder(int inputSize, int hiddenSize) {
            checkSizes(inputSize, hiddenSize);
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        public Builder bias(boolean bias) { this.bias = bias; return this; }

        /** "tanh" (default) or "relu". */
        public Builder nonlinearity(String nonlinearity) {
            if (nonlinearity == null) throw new NullPointerException("nonlinearity is null");
            if (!nonlinearity.equals("tanh") && !nonlinearity.equals("relu"))
                throw new IllegalArgumentException("unknown nonlinearity '" + nonlinearity + "': select 'tanh' or 'relu'");
            this.nonlinearity = nonlinearity;
            return this;
        }

        /** Seed of the initial parameters; random if not set. */
        public Builder seed(long seed) { this.seed = seed; return this; }

        public RNNCell build(Device device) { return new RNNCell(device, this); }
    }
}
