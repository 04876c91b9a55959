package dev.rnn4j;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;

import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * A dense float32 tensor in a device's memory, row-major, with a fixed shape. Owns its
 * buffer: {@link #close()} frees it (idempotent); any use after close throws
 * {@link IllegalStateException}.
 *
 * <p>Thread safety: any number of threads may read a tensor at once (pass it to forward calls,
 * {@link #toArray()}); writing it ({@link #copyFrom}, {@link #fill}, being the output of an op)
 * or closing it while another thread uses it is a caller's bug. It never crashes the JVM: a
 * call that finds the tensor closed throws {@link IllegalStateException}, but a read that
 * overlaps a write may see either value.
 *
 * <p>Safety net: a tensor that becomes unreachable without being closed has its buffer freed
 * by a {@link Cleaner}, which logs a WARNING through {@link System.Logger} (logger
 * {@code dev.rnn4j.Tensor}) naming its shape and device. That is a leak in the caller's code,
 * reported, not a way to manage memory: the collector may run late or never.
 */
public final class Tensor implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Tensor.class.getName());
    private static final Cleaner CLEANER = Cleaner.create();

    private final Device device;
    private final int[] shape;
    private final DeviceBuffer buffer;
    private final long numel;
    private final Reclaim reclaim;
    private final Cleaner.Cleanable cleanable;

    /** Frees the buffer of a tensor that was closed or collected; holds no reference to the tensor. */
    private static final class Reclaim implements Runnable {
        private final DeviceBuffer buffer;
        private final int[] shape;
        private final String device;
        private volatile boolean closedByOwner;

        Reclaim(DeviceBuffer buffer, int[] shape, String device) {
            this.buffer = buffer;
            this.shape = shape;
            this.device = device;
        }

        @Override
        public void run() {
            if (!closedByOwner && !buffer.isClosed())
                LOG.log(System.Logger.Level.WARNING, "Tensor" + Arrays.toString(shape) + "@" + device
                        + " was garbage-collected without close(); its device buffer was freed. Close tensors"
                        + " (try-with-resources) to free device memory in time.");
            try {
                buffer.close();
            } catch (RuntimeException e) {
                if (!closedByOwner) {
                    LOG.log(System.Logger.Level.WARNING, "freeing the buffer of a collected Tensor" + Arrays.toString(shape) + " failed", e);
                    return;
                }
                throw e;
            }
        }
    }

    private Tensor(Device device, int[] shape, DeviceBuffer buffer, long numel) {
        this.device = device;
        this.shape = shape;
        this.buffer = buffer;
        this.numel = numel;
        this.reclaim = new Reclaim(buffer, shape, device.name());
        this.cleanable = CLEANER.register(this, reclaim);
    }

    /** A zero-filled tensor. */
    public static Tensor zeros(Device device, int... shape) {
        if (device == null) throw new NullPointerException("device is null");
        if (shape == null) throw new NullPointerException("shape is null");
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        return new Tensor(device, s, device.backend().allocate(n), n);
    }

    /** A tensor holding a copy of {@code data} (row-major). */
    public static Tensor of(Device device, float[] data, int... shape) {
        if (device == null) throw new NullPointerException("device is null");
        if (data == null) throw new NullPointerException("data is null");
        long n = Shapes.numel(shape);
        if (data.length != n)
            throw new IllegalArgumentException("data has " + data.length + " values but shape "
                    + Arrays.toString(shape) + " needs " + n);
        Tensor t = zeros(device, shape);
        try {
            t.copyFrom(data);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    public static Tensor of(Device device, HostTensor host) {
        if (host == null) throw new NullPointerException("host tensor is null");
        return of(device, host.data(), host.shape());
    }

    public Device device() { return device; }

    public int[] shape() { return shape.clone(); }

    public int dim() { return shape.length; }

    /** Size of dimension {@code i}; IndexOutOfBoundsException unless 0 <= i < dim(). */
    public int size(int i) {
        if (i < 0 || i >= shape.length)
            throw new IndexOutOfBoundsException("dimension " + i + " out of range for a tensor of shape " + Arrays.toString(shape));
        return shape[i];
    }

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
        if (data == null) throw new NullPointerException("data is null");
        Backend be = backend();
        if (data.length != numel)
            throw new IllegalArgumentException("data has " + data.length + " values, tensor " + Arrays.toString(shape) + " holds " + numel);
        be.upload(data, 0, buffer(), 0, (int) numel);
    }

    /** Overwrites this tensor with the values of {@code src}, which must have the same shape and device. */
    public void copyFrom(Tensor src) {
        if (src == null) throw new NullPointerException("source tensor is null");
        Backend be = backend();
        if (src.device != device) throw new IllegalArgumentException("source tensor is on " + src.device.name() + ", this on " + device.name());
        Shapes.check("source", src, shape);
        be.copy(src.buffer(), 0, buffer(), 0, numel);
    }

    /** A copy of the values, row-major. */
    public float[] toArray() {
        Backend be = backend();
        float[] out = new float[(int) numel];
        be.download(buffer(), 0, out, 0, (int) numel);
        return out;
    }

    public HostTensor toHost() { return new HostTensor(shape, toArray()); }

    /** A new tensor with the same shape and values. */
    public Tensor copy() {
        backend();
        Tensor t = zeros(device, shape);
        try {
            backend().copy(buffer(), 0, t.buffer, 0, numel);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    public void fill(float value) { backend().fill(buffer(), 0, numel, value); }

    /** Frees the buffer; idempotent. */
    @Override
    public void close() {
        reclaim.closedByOwner = true;
        cleanable.clean();
    }

    @Override
    public String toString() { return "Tensor" + Arrays.toString(shape) + "@" + device.name() + (isClosed() ? " (closed)" : ""); }
}
