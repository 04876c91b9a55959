package dev.rnn4j;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;

import java.util.Arrays;

/**
 * A dense float32 tensor in a device's memory, row-major, with a fixed shape. Owns its
 * buffer: {@link #close()} frees it (idempotent); any use after close throws
 * {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    private final Device device;
    private final int[] shape;
    private final DeviceBuffer buffer;
    private final long numel;

    private Tensor(Device device, int[] shape, DeviceBuffer buffer, long numel) {
        this.device = device;
        this.shape = shape;
        this.buffer = buffer;
        this.numel = numel;
    }

    /** A zero-filled tensor. */
    public static Tensor zeros(Device device, int... shape) {
        if (device == null) throw new NullPointerException("device is null");
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        return new Tensor(device, s, device.backend().allocate(n), n);
    }

    /** A tensor holding a copy of {@code data} (row-major). */
    public static Tensor of(Device device, float[] data, int... shape) {
        if (data == null) throw new NullPointerException("data is null");
        Tensor t = zeros(device, shape);
        if (data.length != t.numel) {
            t.close();
            throw new IllegalArgumentException("data has " + data.length + " values but shape "
                    + Arrays.toString(shape) + " needs " + t.numel);
        }
        t.copyFrom(data);
        return t;
    }

    public static Tensor of(Device device, HostTensor host) { return of(device, host.data(), host.shape()); }

    public Device device() { return device; }

    public int[] shape() { return shape.clone(); }

    public int dim() { return shape.length; }

    public int size(int i) { return shape[i]; }

    public long numel() { return numel; }

    /** The underlying buffer, for layers and backends. Throws if closed. */
    public DeviceBuffer buffer() {
        if (buffer.isClosed()) throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is closed");
        return buffer;
    }

    /** The backend that owns this tensor. Throws if this tensor or its device is closed. */
    public Backend backend() {
        buffer();
        return device.backend();
    }

    public boolean isClosed() { return buffer.isClosed(); }

    /** Overwrites the whole tensor with {@code data} (length must equal numel). */
    public void copyFrom(float[] data) {
        if (data.length != numel)
            throw new IllegalArgumentException("data has " + data.length + " values, tensor " + Arrays.toString(shape) + " holds " + numel);
        backend().upload(data, 0, buffer(), 0, (int) numel);
    }

    /** Overwrites this tensor with the values of {@code src}, which must have the same shape and device. */
    public void copyFrom(Tensor src) {
        if (src.device != device) throw new IllegalArgumentException("source tensor is on " + src.device.name() + ", this on " + device.name());
        Shapes.check("source", src, shape);
        backend().copy(src.buffer(), 0, buffer(), 0, numel);
    }

    /** A copy of the values, row-major. */
    public float[] toArray() {
        float[] out = new float[(int) numel];
        backend().download(buffer(), 0, out, 0, (int) numel);
        return out;
    }

    public HostTensor toHost() { return new HostTensor(shape, toArray()); }

    /** A new tensor with the same shape and values. */
    public Tensor copy() {
        Tensor t = zeros(device, shape);
        backend().copy(buffer(), 0, t.buffer, 0, numel);
        return t;
    }

    public void fill(float value) { backend().fill(buffer(), 0, numel, value); }

    @Override
    public void close() { buffer.close(); }

    @Override
    public String toString() { return "Tensor" + Arrays.toString(shape) + "@" + device.name() + (isClosed() ? " (closed)" : ""); }
}
