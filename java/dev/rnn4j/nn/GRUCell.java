package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/** One step of the GRU, PyTorch's {@code nn.GRUCell} (equations in {@link GRU}). See {@link RNNCellBase}. */
public final class GRUCell extends RNNCellBase {
    private GRUCell(Device device, Builder b) { super(device, Recurrence.Kind.GRU, b.inputSize, b.hiddenSize, b.bias, b.seed); }

    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** One step from x (B, input_size) and h (B, hidden_size; null for zeros). */
    public CellOutput forward(Tensor x, Tensor h) { return forwardImpl(x, h, null); }

    /** Gradients w.r.t. x and h given the gradient w.r.t. the step's h (null for zero); CellGrads.c is null. */
    public CellGrads backward(CellOutput out, Tensor gradH) { return backwardImpl(out, gradH, null); }

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

        public GRUCell build(Device device) { return new GRUCell(device, this); }
    }
}
