package dev.rnn4j.backend;

import dev.rnn4j.DeviceOutOfMemoryException;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Base of the backends whose device memory is a Java heap float array (reference, cpu): the
 * buffers, their live count, the argument checks every primitive runs before it touches memory,
 * the memory primitives (allocate, upload, download, copy, copy2d, fill) and the ops whose plain
 * loop both run (dropoutMask, embeddingBackward), and the SRU ops' operand arrays. Subclasses add
 * the arithmetic.
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

    /** The heap array behind an optional buffer; null (absent) stays null. */
    protected final float[] optArr(DeviceBuffer b) { return b == null ? null : arr(b); }

    /**
     * The heap arrays of an SRU op's operands, which the heap backends' SRU loops index directly:
     * null where an optional operand is absent (c0, maskH, weightC, dcLast, dWeightC), where x and
     * dx are not used, and for the operands of the other direction's op.
     */
    protected record SruArrays(float[] u, float[] x, float[] bias, float[] c0, float[] mask, float[] weightC, float[] c,
                               float[] h, float[] cLast, float[] dh, float[] dcLast, float[] du, float[] dx,
                               float[] dBias, float[] dc0, float[] dWeightC) {}

    /** The arrays of a forward SRU op; null when it has no state (nothing to do). */
    protected final SruArrays sruArrays(Op.SruForward op) {
        if (sruEmpty(op.shape())) return null;
        return new SruArrays(arr(op.u()), optArr(op.xRead()), arr(op.bias()), optArr(op.c0()), optArr(op.maskH()),
                optArr(op.options().weightC()), arr(op.c()), arr(op.h()), arr(op.cLast()),
                null, null, null, null, null, null, null);
    }

    /** The arrays of a backward SRU op; null when it has no state (nothing to do). */
    protected final SruArrays sruArrays(Op.SruBackward op) {
        if (sruEmpty(op.shape())) return null;
        return new SruArrays(arr(op.u()), optArr(op.xRead()), arr(op.bias()), optArr(op.c0()), optArr(op.maskH()),
                optArr(op.options().weightC()), arr(op.c()), null, null, arr(op.dh()), optArr(op.dcLast()), arr(op.du()),
                optArr(op.dxWritten()), arr(op.dBias()), arr(op.dc0()), optArr(op.dWeightCWritten()));
    }

    /** Whether an SRU op has nothing to do; rejects a K the heap loops do not have (3 or 4 only). */
    private static boolean sruEmpty(Op.SruShape s) {
        if (s.empty()) return true;
        if (s.k() != 3 && s.k() != 4) throw new IllegalArgumentException("SRU k must be 3 or 4, got " + s.k());
        return false;
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

    // Ops whose plain loop both heap backends run as it is (the reference's specification, the cpu's kernel).

    @Override
    public void dropoutMask(Op.DropoutMask op) {
        float[] O = arr(op.out());
        int o = idx(op.outOff());
        float scale = 1f / (1f - op.p());
        for (int i = 0; i < op.n(); i++) O[o + i] = DropoutRng.keep(op.seed(), i, op.p()) ? scale : 0f;
    }

    @Override
    public void embeddingBackward(Op.EmbeddingBackward op) {
        float[] D = arr(op.dOut()), W = arr(op.dWeight());
        for (int i = 0; i < op.n(); i++) {
            int src = idx(op.dOutOff() + (long) i * op.dim()), dst = idx(op.dwOff() + (long) op.ids()[op.idsOff() + i] * op.dim());
            for (int j = 0; j < op.dim(); j++) W[dst + j] += D[src + j];
        }
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
