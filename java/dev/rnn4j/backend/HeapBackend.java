package dev.rnn4j.backend;

import dev.rnn4j.DeviceOutOfMemoryException;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Base of the backends whose device memory is a Java heap float array (reference, cpu): the
 * buffers, their live count, the argument checks every primitive runs before it touches memory,
 * and the memory primitives (allocate, upload, download, copy, copy2d, fill), which are the same
 * for every such backend. Subclasses add the arithmetic.
 */
public abstract class HeapBackend implements Backend {
    private final AtomicLong live = new AtomicLong();
    private volatile boolean closed;

    /** Heap storage. {@code data} becomes null on close so use-after-close fails loudly. */
    private static final class Buffer implements DeviceBuffer {
        private final HeapBackend owner;
        private final long size;
        private float[] data;

        Buffer(HeapBackend owner, int size) {
            this.owner = owner;
            this.size = size;
            this.data = new float[size];
        }

        @Override public long size() { return size; }
        @Override public Backend backend() { return owner; }
        @Override public synchronized boolean isClosed() { return data == null; }

        @Override
        public synchronized void close() {
            if (data == null) return;
            data = null;
            owner.live.decrementAndGet();
        }

        synchronized float[] data() {
            if (data == null) throw new IllegalStateException("buffer of " + size + " floats is closed");
            return data;
        }
    }

    protected final void checkOpen() {
        if (closed) throw new IllegalStateException(name() + " backend is closed");
    }

    /** The heap array behind a buffer of this backend; rejects foreign, closed and null buffers. */
    protected final float[] arr(DeviceBuffer b) { return arr(b, "buffer"); }

    protected final float[] arr(DeviceBuffer b, String what) {
        if (b == null) throw new NullPointerException(what + " buffer is null");
        if (!(b instanceof Buffer hb) || hb.owner != this)
            throw new IllegalArgumentException(what + ": buffer belongs to backend " + b.backend().name()
                    + ", not to this " + name() + " backend");
        return hb.data();
    }

    /**
     * Argument check run by every primitive before it reads or writes anything: {@code b} is an
     * open buffer of this backend and elements [off, off + count) lie inside it (see
     * {@link BackendChecks} for the exceptions).
     */
    protected final void in(DeviceBuffer b, long off, long count, String what) {
        arr(b, what);
        BackendChecks.range(what, b.size(), off, count);
    }

    /** As {@link #in}, for a (rows x cols) matrix with leading dimension ld, batch times at a stride. */
    protected final void mat(DeviceBuffer b, long off, long rows, long cols, long ld, long batch, long stride, String what) {
        arr(b, what);
        BackendChecks.matrix(what, b.size(), off, rows, cols, ld, batch, stride);
    }

    protected static int idx(long off) {
        if (off < 0 || off > Integer.MAX_VALUE) throw new IndexOutOfBoundsException("offset " + off);
        return (int) off;
    }

    @Override
    public final DeviceBuffer allocate(long n) {
        checkOpen();
        if (n < 0 || n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("cannot allocate " + n + " floats");
        Buffer b;
        try {
            b = new Buffer(this, (int) n);
        } catch (OutOfMemoryError e) {
            // The failed array was never allocated: the heap is as it was, and the device usable.
            throw new DeviceOutOfMemoryException(name(), n * 4, n + " floats on the Java heap, max heap "
                    + Runtime.getRuntime().maxMemory() + " bytes", e);
        }
        live.incrementAndGet();
        return b;
    }

    @Override public final long liveBuffers() { return live.get(); }

    @Override
    public void upload(Op.Upload op) {
        System.arraycopy(op.src(), op.srcOff(), arr(op.dst()), idx(op.dstOff()), op.n());
    }

    @Override
    public void download(Op.Download op) {
        System.arraycopy(arr(op.src()), idx(op.srcOff()), op.dst(), op.dstOff(), op.n());
    }

    @Override
    public void copy(Op.Copy op) {
        System.arraycopy(arr(op.src()), idx(op.srcOff()), arr(op.dst()), idx(op.dstOff()), idx(op.n()));
    }

    @Override
    public void copy2d(Op.Copy2d op) {
        if (op.rows() == 0 || op.cols() == 0) return;
        float[] s = arr(op.src()), d = arr(op.dst());
        for (int r = 0; r < op.rows(); r++)
            System.arraycopy(s, idx(op.srcOff() + (long) r * op.srcLd()), d, idx(op.dstOff() + (long) r * op.dstLd()), op.cols());
    }

    @Override
    public void fill(Op.Fill op) {
        int o = idx(op.off());
        Arrays.fill(arr(op.x()), o, idx(o + op.n()), op.value());
    }

    /** Checks that the backend is open and runs the op's kernel (the memory ones are here, the rest in the subclass). */
    @Override
    public final Object execute(Op<?> op) {
        checkOpen();
        return op.runOn(this);
    }

    /** Marks the backend closed; buffers still open keep their memory until closed or collected. Idempotent. */
    @Override
    public void close() { closed = true; }
}
