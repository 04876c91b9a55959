package dev.rnn4j.onnx;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.onnx.OnnxTensor.DataType;

import java.util.Arrays;

/**
 * One value of a running graph: on the host (an {@link OnnxTensor}), on the device (a float32
 * {@link Tensor}), or both; each form is made from the other when first asked for, so that
 * device operators chain without round trips and host operators read what they need.
 * The device tensors a run makes are closed by its {@link Run}.
 */
final class Value {
    final DataType type;
    final int[] shape;
    private OnnxTensor host;
    private Tensor dev;

    private Value(DataType type, int[] shape, OnnxTensor host, Tensor dev) {
        this.type = type;
        this.shape = shape;
        this.host = host;
        this.dev = dev;
    }

    static Value of(OnnxTensor t) { return new Value(t.dataType(), t.shape(), t, null); }

    /** A float value on the device, shaped {@code shape} (the tensor's own shape may differ for a scalar). */
    static Value of(Tensor t, int[] shape) { return new Value(DataType.FLOAT, shape.clone(), null, t); }

    static Value floats(float[] f, int... shape) { return of(OnnxTensor.ofFloats(f, shape)); }

    static Value longs(DataType type, long[] l, int... shape) { return of(OnnxTensor.ofLongs(type, l, shape)); }

    int rank() { return shape.length; }

    int numel() { return (int) OnnxTensor.numel(shape); }

    boolean onDevice() { return dev != null; }

    OnnxTensor host() {
        if (host == null) host = OnnxTensor.ofFloats(dev.toArray(), shape);
        return host;
    }

    float[] f() { return host().floats(); }

    long[] l() { return host().longs(); }

    /** This value on {@code device}, uploaded on first use (float32 only); the run owns the upload. */
    Tensor dev(Device device, Run run) {
        if (type != DataType.FLOAT) throw new IllegalStateException("only float values go to the device, not " + type);
        if (dev == null) {
            dev = run.own(device.tensor(host.floats(), shape.length == 0 ? new int[]{1} : shape));
        }
        return dev;
    }

    /** A view of this value's device tensor under another shape (the same element count). */
    Tensor devView(int[] newShape) { return dev.view(newShape); }

    @Override
    public String toString() { return type + Arrays.toString(shape); }
}
