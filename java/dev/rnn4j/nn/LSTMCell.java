package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/** One step of the LSTM, PyTorch's {@code nn.LSTMCell} (equations in {@link LSTM}, no projection). See {@link RNNCellBase}. */
public final class LSTMCell extends RNNCellBase {
    private LSTMCell(Device device, Builder b) { super(device, Recurrence.Kind.LSTM, b.inputSize, b.hiddenSize, b.bias, b.seed); }

    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** One step from x (B, input_size), h and c (B, hidden_size; null for zeros). */
    public CellOutput forward(Tensor x, Tensor h, Tensor c) { return forwardImpl(x, h, c); }

    /** Gradients w.r.t. x, h and c given those w.r.t. the step's h and c (null for zero). */
    public CellGrads backward(CellOutput out, Tensor gradH, Tensor gradC) { return backwardImpl(out, gradH, gradC); }

    public static final class Builder {
        private final int inputSize, hiddenSize;
        private boolean bias = true;
        private Long seed;

        private Builder(int inputSize, int hiddenSize) {
            checkSizes(inputSize, hiddenSize);
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        public Builder bias(boolean bias) { this.bias = bias; return this; }

        /** Seed of the initial parameters; random if not set. */
        public Builder seed(long seed) { this.seed = seed; return this; }

        public LSTMCell build(Device device) { return new LSTMCell(device, this); }
    }
}
