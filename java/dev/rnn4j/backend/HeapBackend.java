package dev.rnn4j.backend;

import dev.rnn4j.DeviceOutOfMemoryException;

import java.lang.ref.SoftReference;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.function.Function;

/**
 * Base of the backends whose device memory is a Java heap float array (reference, cpu): the
 * buffers, their live count, the argument checks every primitive runs before it touches memory,
 * the memory primitives (allocate, upload, download, copy, copy2d, fill) and the ops whose plain
 * loop both run (dropoutMask, embeddingBackward), and the SRU ops' operand arrays. Subclasses add
 * the arithmetic.
 *
 * <p>Each buffer counts the accesses that may write it: every {@link #arr} (the default, used for
 * outputs and for anything not declared read-only) counts one; {@link #rd} (inputs) does not.
 * {@link #derived} keeps data computed from a buffer's contents (the cpu backend's packed
 * weights) and computes it again after any such access, so a cached copy never outlives a write,
 * whatever op or thread made it.
 */
public abstract class HeapBackend implements Backend {
    private final AtomicLong live = new AtomicLong();
    private volatile boolean closed;

    /** Heap storage. {@code data} becomes null on close so use-after-close fails loudly. */
    private static final class Buffer implements DeviceBuffer {
        private final HeapBackend owner;
        private final long size;
        private float[] data;
        /** Accesses that may have written data (see {@link HeapBackend#arr}); derived data records the count it was made at. */
        private volatile long writes;
        /** The derived data (one entry: a buffer holds one weight matrix); null when none. */
        private Derived derived;

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
            derived = null;
            owner.live.decrementAndGet();
        }

        synchronized float[] data() {
            if (data == null) throw new IllegalStateException("buffer of " + size + " floats is closed");
            return data;
        }
    }

    private static final AtomicLongFieldUpdater<Buffer> WRITES = AtomicLongFieldUpdater.newUpdater(Buffer.class, "writes");

    /** One cached derivation of a buffer's contents: what it was made from (key), at which write count; value null: only noted. */
    private record Derived(Object key, long writes, SoftReference<Object> value) {}

    protected final void checkOpen() {
        if (closed) throw new IllegalStateException(name() + " backend is closed");
    }

    /**
     * The heap array behind a buffer of this backend, counted as a possible write (see
     * {@link #derived}); rejects foreign, closed and null buffers.
     */
    protected final float[] arr(DeviceBuffer b) { return arr(b, "buffer"); }

    /** The accesses to b counted as possible writes so far (see {@link #derived}); for tests. */
    final long writeCount(DeviceBuffer b) { return own(b, "buffer").writes; }

    /** {@link #rd(DeviceBuffer, String)} for an input buffer. */
    protected final float[] rd(DeviceBuffer b) { return rd(b, "buffer"); }

    protected final float[] arr(DeviceBuffer b, String what) {
        Buffer hb = own(b, what);
        WRITES.incrementAndGet(hb);
        return hb.data();
    }

    /** The heap array behind an input buffer the op only reads (no write counted: see {@link #derived}). */
    protected final float[] rd(DeviceBuffer b, String what) { return own(b, what).data(); }

    private Buffer own(DeviceBuffer b, String what) {
        if (b == null) throw new NullPointerException(what + " buffer is null");
        if (!(b instanceof Buffer hb) || hb.owner != this)
            throw new IllegalArgumentException(what + ": buffer belongs to backend " + b.backend().name()
                    + ", not to this " + name() + " backend");
        return hb;
    }

    /**
     * Data computed by {@code make} from buffer b's array, cached on the buffer under {@code key}
     * until the next access that may write b ({@link #arr}), the buffer's close, or the
     * collector's need for memory (softly held). Callers on other threads wait while one computes
     * it, so concurrent forward calls over one model pack its weights once. When not
     * {@code eager}, the first call for a key (or after a write) only notes the buffer's state and
     * returns null: the data is made when a later call finds the buffer unwritten since, so
     * weights that change at every call (training) are not packed for nothing.
     */
    @SuppressWarnings("unchecked")
    protected final <T> T derived(DeviceBuffer b, Object key, boolean eager, Function<float[], T> make) {
        Buffer hb = own(b, "buffer");
        synchronized (hb) {
            float[] data = hb.data();
            long w = hb.writes;
            Derived d = hb.derived;
            boolean same = d != null && d.writes() == w && d.key().equals(key);
            Object v = same && d.value() != null ? d.value().get() : null;
            if (v == null) {
                if (!eager && !same) {
                    hb.derived = new Derived(key, w, null);
                    return null;
                }
                v = make.apply(data);
                hb.derived = new Derived(key, w, new SoftReference<>(v));
            }
            return (T) v;
        }
    }

    /**
     * Argument check run by every primitive before it reads or writes anything: {@code b} is an
     * open buffer of this backend and elements [off, off + count) lie inside it (see
     * {@link BackendChecks} for the exceptions).
     */
    protected final void in(DeviceBuffer b, long off, long count, String what) {
        own(b, what).data();
        BackendChecks.range(what, b.size(), off, count);
    }

    /** As {@link #in}, for a (rows x cols) matrix with leading dimension ld, batch times at a stride. */
    protected final void mat(DeviceBuffer b, long off, long rows, long cols, long ld, long batch, long stride, String what) {
        own(b, what).data();
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
        System.arraycopy(rd(op.src()), idx(op.srcOff()), op.dst(), op.dstOff(), op.n());
    }

    @Override
    public void copy(Op.Copy op) {
        System.arraycopy(rd(op.src()), idx(op.srcOff()), arr(op.dst()), idx(op.dstOff()), idx(op.n()));
    }

    @Override
    public void copy2d(Op.Copy2d op) {
        if (op.rows() == 0 || op.cols() == 0) return;
        float[] s = rd(op.src()), d = arr(op.dst());
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
