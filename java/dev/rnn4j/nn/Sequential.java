package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Layers applied in order, PyTorch's {@code nn.Sequential}: the output of layer i is the input
 * of layer i + 1. Each element is a {@link Module} that is also a {@link Layer} (such as
 * {@link Linear}), named by its index like a {@link ModuleList}, so the state dict of
 * {@code new Sequential(dev, new Linear(dev, 4, 8, true), new Linear(dev, 8, 2, true))} holds
 * {@code 0.weight, 0.bias, 1.weight, 1.bias}, as PyTorch's does.
 *
 * <p>{@link #forward} keeps every layer's input in its {@link Output}, which
 * {@link #backward} needs; closing the output frees them.
 */
public final class Sequential extends ModuleList {

    /**
     * A sequence of {@code layers}, each a {@link Module} implementing {@link Layer}, on {@code device}.
     *
     * @throws IllegalArgumentException if a layer is not a {@link Layer} or is on another device
     * @throws NullPointerException     if a layer is null
     */
    public Sequential(Device device, Module... layers) { super(device, layers); }

    /**
     * Appends a layer (a {@link Module} implementing {@link Layer}); returns this sequence.
     *
     * @throws IllegalArgumentException if it is not a {@link Layer} or is on another device
     */
    @Override
    public Sequential add(Module layer) {
        super.add(layer);
        return this;
    }

    @Override
    void checkModule(Module module) {
        super.checkModule(module);
        if (!(module instanceof Layer))
            throw new IllegalArgumentException("module " + size() + " (" + module + ") is not a Layer: Sequential chains"
                    + " Tensor -> Tensor layers; wrap it in a Module that implements Layer");
    }

    /**
     * The result of a forward call: the final output and the input of every layer (the first
     * is the caller's, not owned). Closing it frees the output and the intermediate tensors.
     */
    public static final class Output implements AutoCloseable {
        private final List<Tensor> inputs;
        private final Tensor output;

        Output(List<Tensor> inputs, Tensor output) {
            this.inputs = inputs;
            this.output = output;
        }

        /** The last layer's output (for no layers, a copy of the input). */
        public Tensor output() { return output; }

        @Override
        public void close() {
            List<AutoCloseable> owned = new ArrayList<>(inputs.subList(Math.min(1, inputs.size()), inputs.size()));
            owned.add(output);
            Closeables.closeAll(owned.toArray(new AutoCloseable[0]));
        }
    }

    /** Runs every layer in order on {@code x}; the caller closes the result. */
    public Output forward(Tensor x) {
        checkOpen();
        Args.tensor("input", x, device);
        List<Tensor> inputs = new ArrayList<>();
        inputs.add(x);
        Tensor cur = x;
        try {
            for (Module m : this) {
                Tensor next = ((Layer) m).forward(cur);
                inputs.add(next);
                cur = next;
            }
        } catch (RuntimeException | Error e) {
            Closeables.closeAll(inputs.subList(1, inputs.size()).toArray(new AutoCloseable[0]));
            throw e;
        }
        if (inputs.size() == 1) return new Output(inputs, x.copy());
        Tensor out = inputs.remove(inputs.size() - 1);
        return new Output(inputs, out);
    }

    /**
     * Backward through every layer in reverse order, from the gradient of the loss with respect
     * to {@code out.output()}: adds to each layer's parameter gradients and returns the gradient
     * with respect to the forward input (the caller closes it).
     *
     * @throws IllegalArgumentException if the output did not come from this sequence's {@link #forward}
     */
    public Tensor backward(Output out, Tensor gradOutput) {
        checkOpen();
        if (out == null) throw new NullPointerException("out is null");
        if (out.inputs.size() != Math.max(1, size()))
            throw new IllegalArgumentException("out holds " + out.inputs.size() + " layer inputs, this Sequential has " + size() + " layers");
        Args.tensor("gradOutput", gradOutput, device, out.output().shape(), "(the shape of the forward output)");
        if (size() == 0) return gradOutput.copy();
        Tensor g = gradOutput;
        for (int i = size() - 1; i >= 0; i--) {
            Tensor next;
            try {
                next = ((Layer) get(i)).backward(out.inputs.get(i), g);
            } finally {
                if (g != gradOutput) g.close();
            }
            g = next;
        }
        return g;
    }

    /** The PyTorch-style listing, e.g. {@code Sequential((0): Linear(...), (1): Linear(...))}. */
    @Override
    public String toString() { return listing("Sequential"); }
}
