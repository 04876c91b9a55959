package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/** One step of the LSTM, PyTorch's {@code nn.LSTMCell} (equations in {@link LSTM}, no projection). See {@link RNNCellBase}. */
public final class LSTMCell extends RNNCellBase {
    private LSTMCell(Device device, Builder b) { super(device, CellType.LSTM, b); }

    /** A builder for a LSTMCell with PyTorch's defaults (bias, a random seed). */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** One step from x (B, input_size), h and c (B, hidden_size; null for zeros). */
    public CellOutput forward(Tensor x, Tensor h, Tensor c) { return forwardImpl(x, h, c); }

    /** Gradients w.r.t. x, h and c given those w.r.t. the step's h and c (null for zero). */
    public CellGrads backward(CellOutput out, Tensor gradH, Tensor gradC) { return backwardImpl(out, gradH, gradC); }

    /** Options of a {@link LSTMCell}. */
    public static final class Builder extends RecurrentBuilder<Builder> {
        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /** Builds the LSTMCell on {@code device}, its parameters drawn from the seed. */
        public LSTMCell build(Device device) { return new LSTMCell(device, this); }
    }
}
