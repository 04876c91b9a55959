package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;

/**
 * A learnable tensor and its gradient. The gradient is allocated (zero) on first use and
 * accumulates: every backward pass adds to it until {@link #zeroGrad()}.
 */
public final class Parameter implements AutoCloseable {
    private final Tensor value;
    private Tensor grad;

    Parameter(Device device, int... shape) { this.value = Tensor.zeros(device, shape); }

    public Tensor value() { return value; }

    public int[] shape() { return value.shape(); }

    public long numel() { return value.numel(); }

    /** The gradient tensor (same shape), allocated zero-filled on first call. */
    public Tensor grad() {
        if (grad == null) grad = Tensor.zeros(value.device(), value.shape());
        return grad;
    }

    public boolean hasGrad() { return grad != null; }

    public void zeroGrad() { if (grad != null) grad.fill(0f); }

    /** Overwrites the value; the shape must match. */
    public void set(HostTensor t) {
        Shapes.check("parameter value", value, t.shape());
        value.copyFrom(t.data());
    }

    public void set(float[] data) { value.copyFrom(data); }

    @Override
    public void close() {
        value.close();
        if (grad != null) grad.close();
    }
}
