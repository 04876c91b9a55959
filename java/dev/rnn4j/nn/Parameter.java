package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;

/**
 * A learnable tensor and its gradient. The gradient is allocated (zero) on first use and
 * accumulates: every backward pass adds to it until {@link #zeroGrad()}. After
 * {@link #close()} (idempotent) every method but the shape queries throws
 * {@link IllegalStateException}.
 */
public final class Parameter implements AutoCloseable {
    private final Tensor value;
    private Tensor grad;
    private boolean closed;

    Parameter(Device device, int... shape) { this.value = Tensor.zeros(device, shape); }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("parameter " + Shapes.str(value.shape()) + " is closed");
    }

    /** The value tensor, owned by the parameter; IllegalStateException once closed. */
    public Tensor value() { checkOpen(); return value; }

    /** A copy of the shape (also after close). */
    public int[] shape() { return value.shape(); }

    /** The number of elements. */
    public long numel() { return value.numel(); }

    /** The gradient tensor (same shape), allocated zero-filled on first call. */
    public synchronized Tensor grad() {
        checkOpen();
        if (grad == null) grad = Tensor.zeros(value.device(), value.shape());
        return grad;
    }

    /** Whether the gradient tensor was allocated (by a backward pass or {@link #grad()}). */
    public synchronized boolean hasGrad() { return grad != null; }

    /** Zeroes the gradient if it was allocated. */
    public synchronized void zeroGrad() {
        checkOpen();
        if (grad != null) grad.fill(0f);
    }

    /** Overwrites the value; the shape must match. */
    public void set(HostTensor t) {
        if (t == null) throw new NullPointerException("host tensor is null");
        checkOpen();
        if (!java.util.Arrays.equals(value.shape(), t.shape()))
            throw new IllegalArgumentException("parameter value: expected shape " + Shapes.str(value.shape()) + ", got " + Shapes.str(t.shape()));
        value.copyFrom(t.data());
    }

    /** Overwrites the value with row-major data of numel() values; IllegalArgumentException otherwise. */
    public void set(float[] data) {
        if (data == null) throw new NullPointerException("data is null");
        checkOpen();
        value.copyFrom(data);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() { return closed; }

    @Override
    /** Frees the value and the gradient; idempotent. */
    public synchronized void close() {
        if (closed) return;
        closed = true;
        Closeables.closeAll(value, grad);
    }
}
