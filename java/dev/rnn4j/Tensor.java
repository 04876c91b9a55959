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
 *
 * <p>Views: {@link #view(int...)} (or {@link #reshape(int...)}) gives another shape over the
 * same memory; writes through one are seen through the other. A view does not own the memory:
 * closing it only makes the view unusable, and it becomes unusable when its base tensor is
 * closed. {@link #slice}, {@link #cat} and {@link #copy()} make new tensors.
 *
 * <p>Arithmetic: {@link #add}, {@link #sub}, {@link #mul}, {@link #scale}, {@link #sum(int)},
 * {@link #mean(int)}, {@link #sumAll()}, {@link #expandDim} and {@link #transpose} run on the
 * tensor's device (every backend) and return new tensors; each one's Javadoc gives its
 * backward pass in terms of the others.
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
    /** The tensor owning the buffer, for a view (kept reachable so its buffer is not collected); null for an owner. */
    private final Tensor base;
    private volatile boolean viewClosed;

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
        this.base = null;
    }

    /** A view of {@code owner}'s buffer with another shape of the same size. */
    private Tensor(Tensor owner, int[] shape) {
        this.device = owner.device;
        this.shape = shape;
        this.buffer = owner.buffer;
        this.numel = owner.numel;
        this.reclaim = null;
        this.cleanable = null;
        this.base = owner;
    }

    /**
     * A zero-filled tensor.
     *
     * @throws IllegalArgumentException if a dimension is negative or the shape holds more than {@link Shapes#MAX_NUMEL} elements
     * @throws IllegalStateException    if the device is closed
     */
    public static Tensor zeros(Device device, int... shape) {
        if (device == null) throw new NullPointerException("device is null");
        if (shape == null) throw new NullPointerException("shape is null");
        int[] s = shape.clone();
        long n = Shapes.numel(s);
        return new Tensor(device, s, device.backend().allocate(n), n);
    }

    /**
     * A tensor holding a copy of {@code data} (row-major).
     *
     * @throws IllegalArgumentException if data.length differs from the shape's element count
     */
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

    /** A tensor holding a copy of a host tensor's shape and values. */
    public static Tensor of(Device device, HostTensor host) {
        if (host == null) throw new NullPointerException("host tensor is null");
        return of(device, host.data(), host.shape());
    }

    /** The device holding this tensor. */
    public Device device() { return device; }

    /** A copy of the shape. */
    public int[] shape() { return shape.clone(); }

    /** The number of dimensions. */
    public int dim() { return shape.length; }

    /** Size of dimension {@code i}; IndexOutOfBoundsException unless 0 &lt;= i &lt; dim(). */
    public int size(int i) {
        if (i < 0 || i >= shape.length)
            throw new IndexOutOfBoundsException("dimension " + i + " out of range for a tensor of shape " + Arrays.toString(shape));
        return shape[i];
    }

    /** The number of elements: the product of the shape. */
    public long numel() { return numel; }

    /** The underlying buffer (for layers and backends: {@link dev.rnn4j.backend.DeviceAccess#buffer(Tensor)}). Throws if it or its device is closed. */
    DeviceBuffer buffer() {
        // A closed device frees its buffers on some backends (opencl, cuda) but not on others:
        // name the device first, so that every backend gives the same reason.
        if (device.isClosed()) throw Device.closedError(device.name());
        if (viewClosed || buffer.isClosed()) throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is closed");
        return buffer;
    }

    /** The backend that owns this tensor (inside the module: {@link dev.rnn4j.backend.DeviceAccess#backend(Tensor)}). Throws if this tensor or its device is closed. */
    Backend backend() {
        buffer();
        return device.backend();
    }

    /** Whether this tensor (or, for a view, it or its base) was closed. */
    public boolean isClosed() { return viewClosed || buffer.isClosed(); }

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
        if (src.device != device) throw new IllegalArgumentException("source tensor is on device " + src.device.label() + ", this one on device " + device.label());
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

    /** A copy of the shape and values in Java heap memory. */
    public HostTensor toHost() { return new HostTensor(shape, toArray()); }

    /**
     * Copies {@code n} elements starting at row-major element {@code offset} of this tensor to
     * {@code dst[dstOffset ..]}.
     *
     * @throws IndexOutOfBoundsException if either range lies outside its array or tensor
     */
    public void copyToHost(long offset, float[] dst, int dstOffset, int n) {
        if (dst == null) throw new NullPointerException("destination array is null");
        Backend be = backend();
        checkRange(offset, n, dst.length, dstOffset);
        if (n > 0) be.download(buffer(), offset, dst, dstOffset, n);
    }

    /**
     * Overwrites {@code n} elements starting at row-major element {@code offset} of this tensor
     * with {@code src[srcOffset ..]}; the rest of the tensor is unchanged.
     *
     * @throws IndexOutOfBoundsException if either range lies outside its array or tensor
     */
    public void copyFromHost(float[] src, int srcOffset, long offset, int n) {
        if (src == null) throw new NullPointerException("source array is null");
        Backend be = backend();
        checkRange(offset, n, src.length, srcOffset);
        if (n > 0) be.upload(src, srcOffset, buffer(), offset, n);
    }

    private void checkRange(long offset, int n, int arrayLength, int arrayOffset) {
        if (n < 0 || offset < 0 || offset > numel - n)
            throw new IndexOutOfBoundsException("elements [" + offset + ", " + offset + " + " + n + ") are outside tensor " + Arrays.toString(shape)
                    + " of " + numel + " elements");
        if (arrayOffset < 0 || arrayOffset > arrayLength - n)
            throw new IndexOutOfBoundsException("array range [" + arrayOffset + ", " + arrayOffset + " + " + n + ") is outside an array of " + arrayLength);
    }

    /**
     * A view of the same memory with another shape (PyTorch's {@code view}); one dimension may
     * be -1 and is then inferred. The view is valid while this tensor is open.
     *
     * @throws IllegalArgumentException if the shape's element count differs from {@link #numel()}
     *                                  or it has more than one -1 or another negative dimension
     */
    public Tensor view(int... newShape) {
        if (newShape == null) throw new NullPointerException("shape is null");
        buffer();
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dimension can be -1 in " + Arrays.toString(newShape));
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException("invalid dimension " + s[i] + " in " + Arrays.toString(newShape));
            } else {
                known *= s[i];
                if (known > Shapes.MAX_NUMEL) known = Shapes.MAX_NUMEL + 1;
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0)
                throw new IllegalArgumentException("shape " + Arrays.toString(newShape) + " is invalid for a tensor of " + numel + " elements");
            s[infer] = (int) (numel / known);
        }
        if (Shapes.numel(s) != numel)
            throw new IllegalArgumentException("shape " + Arrays.toString(newShape) + " is invalid for a tensor of " + numel
                    + " elements (shape " + Arrays.toString(shape) + ")");
        return new Tensor(base != null ? base : this, s);
    }

    /** Same as {@link #view(int...)}: a tensor is always contiguous, so reshape never needs a copy. */
    public Tensor reshape(int... newShape) { return view(newShape); }

    /**
     * A new tensor holding indices [start, end) of dimension {@code dim} (PyTorch's
     * {@code t.narrow(dim, start, end - start).clone()}), e.g. time steps of a (T, B, F) sequence.
     *
     * @throws IndexOutOfBoundsException unless 0 &lt;= dim &lt; dim() and 0 &lt;= start &lt;= end &lt;= size(dim)
     */
    public Tensor slice(int dim, int start, int end) {
        int d = size(dim);
        if (start < 0 || end < start || end > d)
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of dimension " + dim + " of size " + d
                    + " (tensor " + Arrays.toString(shape) + ")");
        int[] s = shape.clone();
        s[dim] = end - start;
        Backend be = backend();
        Tensor out = zeros(device, s);
        try {
            long inner = inner(shape, dim);
            int rows = Math.toIntExact(outer(shape, dim));
            int cols = Math.toIntExact((end - start) * inner);
            if (rows > 0 && cols > 0)
                be.copy2d(rows, cols, buffer(), start * inner, Math.toIntExact(d * inner), out.buffer(), 0, cols);
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * A new tensor joining {@code tensors} along dimension {@code dim} (PyTorch's {@code torch.cat}):
     * every tensor must be on one device with the same shape except in {@code dim}.
     *
     * @throws IllegalArgumentException if the list is empty, the devices or other dimensions differ
     * @throws IndexOutOfBoundsException if dim is not a dimension of the tensors
     */
    public static Tensor cat(int dim, Tensor... tensors) {
        if (tensors == null) throw new NullPointerException("tensors is null");
        if (tensors.length == 0) throw new IllegalArgumentException("cat needs at least one tensor");
        for (int i = 0; i < tensors.length; i++) if (tensors[i] == null) throw new NullPointerException("tensor " + i + " is null");
        Tensor first = tensors[0];
        first.size(dim);
        int[] s = first.shape();
        long total = 0;
        for (int i = 0; i < tensors.length; i++) {
            Tensor t = tensors[i];
            if (t.device != first.device)
                throw new IllegalArgumentException("tensor " + i + " is on device " + t.device.label() + ", tensor 0 on device " + first.device.label());
            int[] ts = t.shape;
            boolean ok = ts.length == s.length;
            for (int k = 0; ok && k < s.length; k++) ok = k == dim || ts[k] == s[k];
            if (!ok)
                throw new IllegalArgumentException("tensor " + i + " has shape " + Arrays.toString(ts) + ", which differs from tensor 0's "
                        + Arrays.toString(s) + " outside dimension " + dim);
            total += ts[dim];
        }
        if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("dimension " + dim + " would have " + total + " entries");
        s[dim] = (int) total;
        Backend be = first.backend();
        Tensor out = zeros(first.device, s);
        try {
            long inner = inner(s, dim);
            int rows = Math.toIntExact(outer(s, dim));
            int dstLd = Math.toIntExact(total * inner);
            long at = 0;
            for (Tensor t : tensors) {
                int cols = Math.toIntExact(t.shape[dim] * inner);
                if (rows > 0 && cols > 0) be.copy2d(rows, cols, t.buffer(), 0, cols, out.buffer(), at, dstLd);
                at += cols;
            }
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    private static long inner(int[] s, int dim) {
        long n = 1;
        for (int i = dim + 1; i < s.length; i++) n *= s[i];
        return n;
    }

    private static long outer(int[] s, int dim) {
        long n = 1;
        for (int i = 0; i < dim; i++) n *= s[i];
        return n;
    }

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

    // ------------------------------------------------------------------ arithmetic (new tensors)
    //
    // Each op returns a new tensor on this tensor's device (the caller closes it) and leaves its
    // inputs unchanged. There is no autograd: each Javadoc gives the backward pass, written with
    // these same ops, for a training loop that chains them by hand.

    /**
     * {@code this + other}, element-wise (same shape, same device; no broadcasting).
     * Backward: both inputs receive the output gradient unchanged.
     *
     * @throws IllegalArgumentException if the shapes or devices differ
     */
    public Tensor add(Tensor other) { return TensorMath.addScaled("add", this, 1f, other); }

    /**
     * {@code this - other}, element-wise (same shape, same device). Backward: {@code this}
     * receives the output gradient {@code g}, {@code other} receives {@code g.scale(-1)}.
     *
     * @throws IllegalArgumentException if the shapes or devices differ
     */
    public Tensor sub(Tensor other) { return TensorMath.addScaled("sub", this, -1f, other); }

    /**
     * {@code this * other}, element-wise (same shape, same device). Backward: {@code this}
     * receives {@code g.mul(other)}, {@code other} receives {@code g.mul(this)}.
     *
     * @throws IllegalArgumentException if the shapes or devices differ
     */
    public Tensor mul(Tensor other) { return TensorMath.mul(this, other); }

    /** {@code alpha * this}. Backward: {@code g.scale(alpha)}. */
    public Tensor scale(float alpha) { return TensorMath.scale(this, alpha); }

    /**
     * The sum over dimension {@code dim}, which is removed (PyTorch's {@code x.sum(dim)}); a
     * dimension of size 0 sums to zeros. Backward: {@code g.expandDim(dim, size(dim))}.
     *
     * @throws IndexOutOfBoundsException unless 0 &lt;= dim &lt; dim()
     */
    public Tensor sum(int dim) { return TensorMath.sum(this, dim, 1f); }

    /**
     * The mean over dimension {@code dim}, which is removed (PyTorch's {@code x.mean(dim)}); a
     * dimension of size 0 gives NaN, as in PyTorch. Backward:
     * {@code g.expandDim(dim, n).scale(1f / n)} with {@code n = size(dim)}.
     *
     * @throws IndexOutOfBoundsException unless 0 &lt;= dim &lt; dim()
     */
    public Tensor mean(int dim) {
        if (dim < 0 || dim >= shape.length) return TensorMath.sum(this, dim, 1f);   // throws, naming the shape
        return TensorMath.sum(this, dim, 1f / shape[dim]);
    }

    /**
     * The sum of every element, accumulated in double on the host from partial sums the device
     * computes (PyTorch's {@code x.sum().item()}); 0 for an empty tensor.
     */
    public double sumAll() { return TensorMath.sumAll(this); }

    /**
     * A new tensor with dimension {@code dim} (0 to dim(), inclusive) inserted, holding
     * {@code size} copies of this tensor along it (PyTorch's
     * {@code x.unsqueeze(dim).expand(..., size, ...)}, materialised). It is the backward of
     * {@link #sum(int)}; its own backward is {@code g.sum(dim)}.
     *
     * @throws IndexOutOfBoundsException unless 0 &lt;= dim &lt;= dim()
     * @throws IllegalArgumentException  if size is negative or the result would be too large
     */
    public Tensor expandDim(int dim, int size) { return TensorMath.expandDim(this, dim, size); }

    /**
     * A new tensor with dimensions {@code dim0} and {@code dim1} swapped (PyTorch's
     * {@code x.transpose(dim0, dim1).contiguous()}), e.g. (T, B, F) to (B, T, F). Backward:
     * {@code g.transpose(dim0, dim1)}. It runs one block copy per index of the smaller swapped
     * dimension (times the sizes of the dimensions before and between them), so it is cheap
     * when the dimensions after the swapped ones are wide.
     *
     * @throws IndexOutOfBoundsException unless both are in [0, dim())
     */
    public Tensor transpose(int dim0, int dim1) { return TensorMath.transpose(this, dim0, dim1); }

    /** Sets every element to {@code value}. */
    public void fill(float value) { backend().fill(buffer(), 0, numel, value); }

    /** Frees the buffer; idempotent. For a view, only the view becomes unusable. */
    @Override
    public void close() {
        if (base != null) {
            viewClosed = true;
            return;
        }
        reclaim.closedByOwner = true;
        cleanable.clean();
    }

    @Override
    public String toString() { return "Tensor" + Arrays.toString(shape) + "@" + device.name() + (isClosed() ? " (closed)" : ""); }
}
