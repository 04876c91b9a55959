package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

/** One step of the GRU, PyTorch's {@code nn.GRUCell} (equations in {@link GRU}). See {@link RNNCellBase}. */
public final class GRUCell extends RNNCellBase {
    private GRUCell(Device device, Builder b) { super(device, CellType.GRU, b); }

    /** A builder for a GRUCell with PyTorch's defaults (bias, a random seed). */
    public static Builder builder(int inputSize, int hiddenSize) { return new Builder(inputSize, hiddenSize); }

    /** One step from x (B, input_size) and h (B, hidden_size; null for zeros). */
    public CellOutput forward(Tensor x, Tensor h) { return forwardImpl(x, h, null); }

    /** Gradients w.r.t. x and h given the gradient w.r.t. the step's h (null for zero); CellGrads.c is null. */
    public CellGrads backward(CellOutput out, Tensor gradH) { return backwardImpl(out, gradH, null); }

    /** Options of a {@link GRUCell}. */
    public static final class Builder extends RecurrentBuilder<Builder> {
        private Builder(int inputSize, int hiddenSize) { super(inputSize, hiddenSize); }

        @Override Builder self() { return this; }

        /** Builds the GRUCell on {@code device}, its parameters drawn from the seed. */
        public GRUCell build(Device device) { return new GRUCell(device, this); }
    }
}
