package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.DeviceOutOfMemoryException;
import dev.rnn4j.natives.CudaNative;
import dev.rnn4j.natives.NativeCallException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The CUDA backend: every primitive of {@link Backend} as a kernel of {@code kernels/} compiled
 * by nvcc into librnn4j_cuda.so (the same sources the OpenCL backend builds at run time, launched
 * with the same geometry), GEMM through cuBLAS when it is installed, else the rnn4j_gemm kernel.
 * One GPU, one CUDA stream: work runs in call order; launches return at once and
 * {@link #download}, {@link #sumSquares} and {@link #finish()} wait for the results.
 *
 * <p>Arguments are checked here (the same exceptions as the other backends) and again in C
 * before anything reaches the GPU. Calls may come from several threads: they hold a read lock
 * while they use native handles, and freeing a buffer or closing the backend takes the write
 * lock, so no handle is freed while a call still uses it.
 *
 * <p>Transfers go through the device's pinned slots ({@link CudaNative#staging}), reused by every
 * call: an upload copies the array into a slot and queues the copy on the device's copy stream
 * (ordered with the compute stream both ways) without waiting for it; a download waits only for
 * its own pieces. The language-model primitives take host int arrays (token ids, targets); the
 * library checks them against the table and uploads them in stream order through pinned memory.
 */
public final class CudaBackend implements Backend {
    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());
    private static final long FLOAT = Float.BYTES;
    /** RNN4J_ERR_OUT_OF_MEMORY of rnn4j.h: the device had no memory for an allocation. */
    private static final int OUT_OF_MEMORY = 5;

    private final CudaNative lib;
    private final MemorySegment dev;
    private final int ordinal;
    private final String description;
    private final CudaNative.GemmInfo gemmInfo;
    private final Set<CudaBuffer> live = ConcurrentHashMap.newKeySet();
    /** The device's pinned transfer slots (reused by every upload and download) and their one user at a time. */
    private final CudaNative.Staging staging;
    private final int slotFloats;
    private final ReentrantLock stagingLock = new ReentrantLock();
    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    private volatile boolean closed;

    CudaBackend(CudaNative lib, int ordinal, int count, int flags) {
        this.lib = lib;
        this.ordinal = ordinal;
        this.dev = lib.deviceCreate(ordinal, flags);
        try {
            this.gemmInfo = lib.deviceGemmInfo(dev);
            this.staging = lib.staging(dev);
            this.slotFloats = (int) Math.min(Integer.MAX_VALUE, staging.slotBytes() / FLOAT);
            this.description = "CUDA: " + CudaBackendProvider.describe(lib, ordinal, count, gemmInfo.description());
        } catch (RuntimeException e) {
            lib.deviceDestroy(dev);
            throw e;
        }
    }

    // ------------------------------------------------------------------ identity

    @Override public String name() { return "cuda"; }

    @Override public String description() { return description; }

    /** The CUDA ordinal of the GPU. */
    public int ordinal() { return ordinal; }

    /** Whether GEMM goes through cuBLAS (else the rnn4j_gemm kernel). */
    public boolean usesCublas() { return gemmInfo.usesCublas(); }

    /** How GEMM runs, e.g. "cuBLAS (libcublas.so.13, FP32)". */
    public String gemmPath() { return gemmInfo.description(); }

    // ------------------------------------------------------------------ buffers

    /** Device memory of {@code size} floats owned by this backend. */
    static final class CudaBuffer implements DeviceBuffer {
        private final CudaBackend owner;
        private final long size;
        private volatile MemorySegment handle;

        CudaBuffer(CudaBackend owner, long size, MemorySegment handle) {
            this.owner = owner;
            this.size = size;
            this.handle = handle;
        }

        @Override public long size() { return size; }
        @Override public Backend backend() { return owner; }
        @Override public boolean isClosed() { return handle == null; }

        /** Frees the device memory. Idempotent; after the backend closed, nothing is left to free. */
        @Override
        public void close() {
            if (handle == null) return;
            Lock l = owner.rw.writeLock();
            l.lock();
            try {
                MemorySegment h = handle;
                if (h == null) return;
                handle = null;
                owner.live.remove(this);
                if (!owner.closed) owner.lib.free(h);
            } finally {
                l.unlock();
            }
        }

        /** The native handle; callers hold the backend's read lock. */
        MemorySegment handle() {
            MemorySegment h = handle;
            if (h == null) throw new IllegalStateException("CUDA buffer of " + size + " floats is closed");
            return h;
        }

        /** Called under the write lock when the backend closes. */
        private MemorySegment detach() {
            MemorySegment h = handle;
            handle = null;
            return h;
        }

        @Override public String toString() { return "CudaBuffer[" + size + (handle == null ? ", closed]" : "]"); }
    }

    /** Takes the read lock of an open backend; the caller unlocks. */
    private Lock enter() {
        Lock l = rw.readLock();
        l.lock();
        if (closed) {
            l.unlock();
            throw new IllegalStateException("cuda backend (device " + ordinal + ") is closed");
        }
        return l;
    }

    /** The handle of {@code b}; rejects null, foreign and closed buffers. */
    private MemorySegment buf(DeviceBuffer b, String what) {
        if (b == null) throw new NullPointerException(what + " buffer is null");
        if (!(b instanceof CudaBuffer cb) || cb.owner != this)
            throw new IllegalArgumentException(what + ": buffer belongs to backend " + b.backend().name() + ", not to this cuda backend");
        return cb.handle();
    }

    /** Checks that elements [off, off + count) lie inside the buffer; returns its handle. */
    private MemorySegment range(DeviceBuffer b, long off, long count, String what) {
        MemorySegment h = buf(b, what);
        long size = b.size();
        if (count < 0) throw new IllegalArgumentException(what + ": negative element count " + count);
        if (off < 0 || off > size || count > size - off)
            throw new IndexOutOfBoundsException(what + ": elements [" + off + ", " + (off + count) + ") outside a buffer of " + size);
        return h;
    }

    /** As {@link #range}, NULL for an absent optional buffer. */
    private MemorySegment optional(DeviceBuffer b, long off, long count, String what) {
        return b == null ? MemorySegment.NULL : range(b, off, count, what);
    }

    /** Checks a (rows x cols) matrix, ld apart, batch times stride apart from off; returns the handle. */
    private MemorySegment matrix(DeviceBuffer b, long off, long rows, long cols, long ld, long batch, long stride, String what) {
        MemorySegment h = buf(b, what);
        if (rows < 0 || cols < 0 || batch < 0) throw new IllegalArgumentException(what + ": negative size");
        if (rows == 0 || cols == 0 || batch == 0) return h;
        if (ld < 0 || stride < 0) throw new IllegalArgumentException(what + ": negative leading dimension or stride");
        long last;
        try {
            last = Math.addExact(off, Math.addExact(Math.addExact(Math.multiplyExact(batch - 1, stride),
                    Math.multiplyExact(rows - 1, ld)), cols - 1));
        } catch (ArithmeticException e) {
            throw new IndexOutOfBoundsException(what + ": matrix extent overflows");
        }
        if (off < 0 || last >= b.size())
            throw new IndexOutOfBoundsException(what + ": " + rows + "x" + cols + " (ld " + ld + ", batch " + batch + ", stride "
                    + stride + ") at offset " + off + " reaches element " + last + " of a buffer of " + b.size());
        return h;
    }

    @Override
    public DeviceBuffer allocate(long n) {
        if (n < 0 || n > Long.MAX_VALUE / FLOAT) throw new IllegalArgumentException("cannot allocate " + n + " floats");
        Lock l = enter();
        try {
            MemorySegment h;
            try {
                h = lib.malloc(dev, n * FLOAT);
            } catch (NativeCallException e) {
                if (e.status() != OUT_OF_MEMORY) throw e;
                throw new DeviceOutOfMemoryException(name(), n * FLOAT, e.getMessage(), e);
            }
            try {
                lib.memset(h, 0, 0, n * FLOAT);
            } catch (RuntimeException e) {
                lib.free(h);
                throw e;
            }
            CudaBuffer b = new CudaBuffer(this, n, h);
            live.add(b);
            return b;
        } finally {
            l.unlock();
        }
    }

    @Override public long liveBuffers() { return live.size(); }

    private static void checkArray(float[] a, int off, int n, String what) {
        if (a == null) throw new NullPointerException(what + " array is null");
        if (n < 0 || off < 0 || off > a.length - n)
            throw new IndexOutOfBoundsException(what + ": [" + off + ", " + ((long) off + n) + ") outside an array of " + a.length);
    }

    @Override
    public void upload(float[] src, int srcOff, DeviceBuffer dst, long dstOff, int n) {
        checkArray(src, srcOff, n, "upload source");
        Lock l = enter();
        try {
            MemorySegment d = range(dst, dstOff, n, "upload destination");
            if (n == 0) return;
            // Through the pinned slots, alternately: the host fills one while the other is copied;
            // the copies are queued and this returns without waiting for them.
            stagingLock.lock();
            try {
                int slot = 0;
                for (long done = 0; done < n; done += slotFloats, slot = (slot + 1) % staging.slots()) {
                    int m = (int) Math.min(slotFloats, n - done);
                    lib.stagingWait(dev, slot);
                    MemorySegment.copy(src, (int) (srcOff + done), staging.host(), ValueLayout.JAVA_FLOAT, slot * staging.slotBytes(), m);
                    lib.uploadStaged(d, (dstOff + done) * FLOAT, slot, (long) m * FLOAT);
                }
            } finally {
                stagingLock.unlock();
            }
        } finally {
            l.unlock();
        }
    }

    @Override
    public void download(DeviceBuffer src, long srcOff, float[] dst, int dstOff, int n) {
        checkArray(dst, dstOff, n, "download destination");
        Lock l = enter();
        try {
            MemorySegment s = range(src, srcOff, n, "download source");
            if (n == 0) return;
            // Piece i goes through slot i % slots; the next piece is queued before this one is read.
            stagingLock.lock();
            try {
                int pieces = (int) (((long) n + slotFloats - 1) / slotFloats), slots = staging.slots();
                boolean ahead = slots > 1;   // with one slot, each piece waits for the host to read the last
                queueDownload(s, srcOff, n, 0, 0);
                for (int i = 0; i < pieces; i++) {
                    int slot = i % slots;
                    if (i > 0 && !ahead) queueDownload(s, srcOff, n, i, slot);
                    if (ahead && i + 1 < pieces) queueDownload(s, srcOff, n, i + 1, (i + 1) % slots);
                    long done = (long) i * slotFloats;
                    int m = (int) Math.min(slotFloats, n - done);
                    lib.stagingWait(dev, slot);
                    MemorySegment.copy(staging.host(), ValueLayout.JAVA_FLOAT, slot * staging.slotBytes(), dst, (int) (dstOff + done), m);
                }
            } finally {
                stagingLock.unlock();
            }
        } finally {
            l.unlock();
        }
    }

    /** Queues piece {@code i} of a download of n floats into {@code slot} (whose last piece the host has read). */
    private void queueDownload(MemorySegment s, long srcOff, int n, int i, int slot) {
        long done = (long) i * slotFloats;
        int m = (int) Math.min(slotFloats, n - done);
        lib.downloadStaged(s, (srcOff + done) * FLOAT, slot, (long) m * FLOAT);
    }

    /** Waits until the GPU has finished all queued work (for benchmarks; downloads already wait). */
    public void finish() {
        Lock l = enter();
        try {
            lib.deviceSynchronize(dev);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ memory primitives

    @Override
    public void copy(DeviceBuffer src, long srcOff, DeviceBuffer dst, long dstOff, long n) {
        Lock l = enter();
        try {
            MemorySegment s = range(src, srcOff, n, "copy source"), d = range(dst, dstOff, n, "copy destination");
            lib.launchCopy(dev, n, s, srcOff, d, dstOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void copy2d(int rows, int cols, DeviceBuffer src, long srcOff, int srcLd, DeviceBuffer dst, long dstOff, int dstLd) {
        Lock l = enter();
        try {
            MemorySegment s = matrix(src, srcOff, rows, cols, srcLd, 1, 0, "copy2d source");
            MemorySegment d = matrix(dst, dstOff, rows, cols, dstLd, 1, 0, "copy2d destination");
            lib.launchCopy2d(dev, rows, cols, s, srcOff, srcLd, d, dstOff, dstLd);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void fill(DeviceBuffer x, long off, long n, float value) {
        Lock l = enter();
        try {
            MemorySegment h = range(x, off, n, "fill");
            lib.launchFill(dev, n, value, h, off);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ BLAS-like

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, DeviceBuffer a, long aOff, int lda,
                     DeviceBuffer b, long bOff, int ldb,
                     float beta, DeviceBuffer c, long cOff, int ldc,
                     int batch, long strideA, long strideB, long strideC) {
        if (m < 0 || n < 0 || k < 0 || batch < 0)
            throw new IllegalArgumentException("gemm: negative size m=" + m + " n=" + n + " k=" + k + " batch=" + batch);
        Lock l = enter();
        try {
            boolean empty = m == 0 || n == 0 || batch == 0;
            long aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
            MemorySegment A = matrix(a, aOff, empty ? 0 : aRows, aCols, lda, batch, strideA, "gemm A");
            MemorySegment B = matrix(b, bOff, empty ? 0 : bRows, bCols, ldb, batch, strideB, "gemm B");
            MemorySegment C = matrix(c, cOff, m, n, ldc, batch, strideC, "gemm C");
            if (empty) return;
            lib.gemm(dev, transA, transB, m, n, k, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc,
                    batch, strideA, strideB, strideC);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff) {
        Lock l = enter();
        try {
            MemorySegment X = range(x, xOff, n, "axpy x"), Y = range(y, yOff, n, "axpy y");
            lib.launchAxpy(dev, n, alpha, X, xOff, Y, yOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void scale(long n, float alpha, DeviceBuffer x, long xOff) {
        Lock l = enter();
        try {
            lib.launchScale(dev, n, alpha, range(x, xOff, n, "scale x"), xOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff) {
        Lock l = enter();
        try {
            MemorySegment A = range(a, aOff, n, "mul a"), B = range(b, bOff, n, "mul b"), O = range(out, outOff, n, "mul out");
            lib.launchMul(dev, n, A, aOff, B, bOff, O, outOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void mulRows(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer m, long mOff, DeviceBuffer out, long outOff) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("mulRows: negative size " + rows + "x" + cols);
        long n = (long) rows * cols;
        Lock l = enter();
        try {
            MemorySegment X = range(x, xOff, n, "mulRows x"), M = range(m, mOff, n == 0 ? 0 : cols, "mulRows m");
            MemorySegment O = range(out, outOff, n, "mulRows out");
            lib.launchMulRows(dev, rows, cols, X, xOff, M, mOff, O, outOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void addRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc) {
        Lock l = enter();
        try {
            MemorySegment C = matrix(c, cOff, rows, cols, ldc, 1, 0, "addRowVector c");
            MemorySegment Bi = range(bias, biasOff, rows == 0 ? 0 : cols, "addRowVector bias");
            lib.launchAddRowVector(dev, rows, cols, Bi, biasOff, C, cOff, ldc);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void sumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff) {
        Lock l = enter();
        try {
            MemorySegment A = matrix(a, aOff, rows, cols, lda, 1, 0, "sumRows a");
            MemorySegment O = range(out, outOff, cols, "sumRows out");
            lib.launchSumRows(dev, rows, cols, A, aOff, lda, beta, O, outOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public double sumSquares(long n, DeviceBuffer x, long off) {
        Lock l = enter();
        try {
            return lib.sumSquares(dev, n, range(x, off, n, "sumSquares x"), off);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ dropout

    @Override
    public void dropoutMask(long n, float p, long seed, DeviceBuffer out, long outOff) {
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        if (n > (1L << 32)) throw new IllegalArgumentException("dropout mask of " + n + " elements: at most 2^32 per mask");
        Lock l = enter();
        try {
            lib.launchDropoutMask(dev, n, p, seed, range(out, outOff, n, "dropoutMask out"), outOff);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ recurrent pointwise

    @Override
    public void rnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff) {
        Lock l = enter();
        try {
            MemorySegment P = range(pre, preOff, n, "rnnPointwiseForward pre"), H = range(h, hOff, n, "rnnPointwiseForward h");
            lib.launchRnnPointwiseFwd(dev, act.code, n, P, preOff, H, hOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void rnnPointwiseBackward(Activation act, int n, DeviceBuffer h, long hOff, DeviceBuffer dh, long dhOff,
                                     DeviceBuffer dpre, long dpreOff) {
        Lock l = enter();
        try {
            MemorySegment H = range(h, hOff, n, "rnnPointwiseBackward h"), DH = range(dh, dhOff, n, "rnnPointwiseBackward dh");
            MemorySegment DP = range(dpre, dpreOff, n, "rnnPointwiseBackward dpre");
            lib.launchRnnPointwiseBwd(dev, act.code, n, H, hOff, DH, dhOff, DP, dpreOff);
        } finally {
            l.unlock();
        }
    }

    private static long states(int batch, int hidden, String what) {
        if (batch < 0 || hidden < 0) throw new IllegalArgumentException(what + ": negative size batch=" + batch + " hidden=" + hidden);
        return (long) batch * hidden;
    }

    @Override
    public void lstmPointwiseForward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                     DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer h, long hOff) {
        long n = states(batch, hidden, "lstmPointwiseForward");
        Lock l = enter();
        try {
            MemorySegment G = range(gates, gOff, 4 * n, "lstmPointwiseForward gates");
            MemorySegment CP = range(cPrev, cPrevOff, n, "lstmPointwiseForward cPrev");
            MemorySegment C = range(c, cOff, n, "lstmPointwiseForward c"), H = range(h, hOff, n, "lstmPointwiseForward h");
            lib.launchLstmPointwiseFwd(dev, batch, hidden, G, gOff, CP, cPrevOff, C, cOff, H, hOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void lstmPointwiseBackward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                      DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff,
                                      DeviceBuffer dh, long dhOff, DeviceBuffer dcNext, long dcNextOff,
                                      DeviceBuffer dGates, long dgOff, DeviceBuffer dcPrev, long dcPrevOff) {
        long n = states(batch, hidden, "lstmPointwiseBackward");
        Lock l = enter();
        try {
            MemorySegment G = range(gates, gOff, 4 * n, "lstmPointwiseBackward gates");
            MemorySegment CP = range(cPrev, cPrevOff, n, "lstmPointwiseBackward cPrev");
            MemorySegment C = range(c, cOff, n, "lstmPointwiseBackward c");
            MemorySegment DH = range(dh, dhOff, n, "lstmPointwiseBackward dh");
            MemorySegment DCN = optional(dcNext, dcNextOff, n, "lstmPointwiseBackward dcNext");
            MemorySegment DG = range(dGates, dgOff, 4 * n, "lstmPointwiseBackward dGates");
            MemorySegment DCP = range(dcPrev, dcPrevOff, n, "lstmPointwiseBackward dcPrev");
            lib.launchLstmPointwiseBwd(dev, batch, hidden, G, gOff, CP, cPrevOff, C, cOff, DH, dhOff,
                    DCN, dcNext == null ? 0 : dcNextOff, DG, dgOff, DCP, dcPrevOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void gruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff,
                                    DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff,
                                    DeviceBuffer saved, long savedOff) {
        long n = states(batch, hidden, "gruPointwiseForward");
        Lock l = enter();
        try {
            MemorySegment GX = range(gx, gxOff, 3 * n, "gruPointwiseForward gx");
            MemorySegment GH = range(gh, ghOff, 3 * n, "gruPointwiseForward gh");
            MemorySegment HP = range(hPrev, hPrevOff, n, "gruPointwiseForward hPrev");
            MemorySegment H = range(h, hOff, n, "gruPointwiseForward h");
            MemorySegment S = range(saved, savedOff, 4 * n, "gruPointwiseForward saved");
            lib.launchGruPointwiseFwd(dev, batch, hidden, GX, gxOff, GH, ghOff, HP, hPrevOff, H, hOff, S, savedOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void gruPointwiseBackward(int batch, int hidden, DeviceBuffer saved, long savedOff,
                                     DeviceBuffer hPrev, long hPrevOff, DeviceBuffer dh, long dhOff,
                                     DeviceBuffer dgx, long dgxOff, DeviceBuffer dgh, long dghOff,
                                     DeviceBuffer dhPrevPartial, long dhpOff) {
        long n = states(batch, hidden, "gruPointwiseBackward");
        Lock l = enter();
        try {
            MemorySegment S = range(saved, savedOff, 4 * n, "gruPointwiseBackward saved");
            MemorySegment HP = range(hPrev, hPrevOff, n, "gruPointwiseBackward hPrev");
            MemorySegment DH = range(dh, dhOff, n, "gruPointwiseBackward dh");
            MemorySegment DGX = range(dgx, dgxOff, 3 * n, "gruPointwiseBackward dgx");
            MemorySegment DGH = range(dgh, dghOff, 3 * n, "gruPointwiseBackward dgh");
            MemorySegment DHP = range(dhPrevPartial, dhpOff, n, "gruPointwiseBackward dhPrevPartial");
            lib.launchGruPointwiseBwd(dev, batch, hidden, S, savedOff, HP, hPrevOff, DH, dhOff, DGX, dgxOff, DGH, dghOff,
                    DHP, dhpOff);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ SRU

    private static void checkSru(int seqLen, int batch, int hidden, int dirs, int k, String what) {
        if (k != 3 && k != 4) throw new IllegalArgumentException("SRU k must be 3 or 4, got " + k);
        if (dirs != 1 && dirs != 2) throw new IllegalArgumentException(what + ": dirs must be 1 or 2, got " + dirs);
        if (seqLen < 0 || batch < 0 || hidden < 0)
            throw new IllegalArgumentException(what + ": negative size seqLen=" + seqLen + " batch=" + batch + " hidden=" + hidden);
    }

    @Override
    public void sruForward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                           DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                           DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                           DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff) {
        checkSru(seqLen, batch, hidden, dirs, k, "sruForward");
        long cols = (long) dirs * hidden, state = batch * cols, seq = seqLen * state;
        Lock l = enter();
        try {
            MemorySegment U = range(u, uOff, seq * k, "sruForward u");
            MemorySegment X = k == 3 ? range(x, xOff, seq, "sruForward x") : MemorySegment.NULL;
            MemorySegment BI = range(bias, biasOff, 2 * cols, "sruForward bias");
            MemorySegment C0 = optional(c0, c0Off, state, "sruForward c0");
            MemorySegment M = optional(maskH, maskOff, state, "sruForward maskH");
            MemorySegment H = range(h, hOff, seq, "sruForward h"), C = range(c, cOff, seq, "sruForward c");
            MemorySegment CL = range(cLast, cLastOff, state, "sruForward cLast");
            lib.launchSruFwd(dev, seqLen, batch, hidden, dirs, k, act.code, U, uOff, X, k == 3 ? xOff : 0, BI, biasOff,
                    C0, c0 == null ? 0 : c0Off, M, maskH == null ? 0 : maskOff, H, hOff, C, cOff, CL, cLastOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void sruBackward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                            DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                            DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                            DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcLast, long dcLastOff,
                            DeviceBuffer du, long duOff, DeviceBuffer dx, long dxOff,
                            DeviceBuffer dBias, long dBiasOff, DeviceBuffer dc0, long dc0Off) {
        checkSru(seqLen, batch, hidden, dirs, k, "sruBackward");
        long cols = (long) dirs * hidden, state = batch * cols, seq = seqLen * state;
        Lock l = enter();
        try {
            MemorySegment U = range(u, uOff, seq * k, "sruBackward u");
            MemorySegment X = k == 3 ? range(x, xOff, seq, "sruBackward x") : MemorySegment.NULL;
            MemorySegment BI = range(bias, biasOff, 2 * cols, "sruBackward bias");
            MemorySegment C0 = optional(c0, c0Off, state, "sruBackward c0");
            MemorySegment M = optional(maskH, maskOff, state, "sruBackward maskH");
            MemorySegment C = range(c, cOff, seq, "sruBackward c"), DH = range(dh, dhOff, seq, "sruBackward dh");
            MemorySegment DCL = optional(dcLast, dcLastOff, state, "sruBackward dcLast");
            MemorySegment DU = range(du, duOff, seq * k, "sruBackward du");
            MemorySegment DX = k == 3 ? range(dx, dxOff, seq, "sruBackward dx") : MemorySegment.NULL;
            MemorySegment DB = range(dBias, dBiasOff, 2 * state, "sruBackward dBias");
            MemorySegment DC0 = range(dc0, dc0Off, state, "sruBackward dc0");
            lib.launchSruBwd(dev, seqLen, batch, hidden, dirs, k, act.code, U, uOff, X, k == 3 ? xOff : 0, BI, biasOff,
                    C0, c0 == null ? 0 : c0Off, M, maskH == null ? 0 : maskOff, C, cOff, DH, dhOff,
                    DCL, dcLast == null ? 0 : dcLastOff, DU, duOff, DX, k == 3 ? dxOff : 0, DB, dBiasOff, DC0, dc0Off);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ language-model primitives

    private static void checkInts(int[] a, int off, int n, String what) {
        if (a == null) throw new NullPointerException(what + " array is null");
        if (n < 0 || off < 0 || off > a.length - n)
            throw new IndexOutOfBoundsException(what + ": [" + off + ", " + ((long) off + n) + ") outside an array of " + a.length);
    }

    /** Every ids[off + i] in [0, rows). */
    private static void checkIds(int[] ids, int off, int n, long rows, String what) {
        for (int i = 0; i < n; i++) {
            int id = ids[off + i];
            if (id < 0 || id >= rows)
                throw new IndexOutOfBoundsException(what + ": id " + id + " at position " + i + " outside [0, " + rows + ")");
        }
    }

    /** Whole rows of width dim in the buffer from off on. */
    private static long rowsOf(DeviceBuffer b, long off, int dim) { return dim == 0 ? Long.MAX_VALUE : (b.size() - off) / dim; }

    @Override
    public void embeddingForward(int[] ids, int idsOff, int n, int dim, DeviceBuffer weight, long wOff,
                                 DeviceBuffer out, long outOff) {
        checkInts(ids, idsOff, n, "embeddingForward ids");
        if (dim < 0) throw new IllegalArgumentException("embeddingForward: negative dim " + dim);
        Lock l = enter();
        try {
            MemorySegment W = range(weight, wOff, 0, "embeddingForward weight");
            MemorySegment O = range(out, outOff, (long) n * dim, "embeddingForward out");
            checkIds(ids, idsOff, n, rowsOf(weight, wOff, dim), "embeddingForward");
            if (n == 0 || dim == 0) return;
            lib.embeddingForward(dev, ids, idsOff, n, dim, W, wOff, O, outOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public void embeddingBackward(int[] ids, int idsOff, int n, int dim, DeviceBuffer dOut, long dOutOff,
                                  DeviceBuffer dWeight, long dwOff) {
        checkInts(ids, idsOff, n, "embeddingBackward ids");
        if (dim < 0) throw new IllegalArgumentException("embeddingBackward: negative dim " + dim);
        Lock l = enter();
        try {
            MemorySegment D = range(dOut, dOutOff, (long) n * dim, "embeddingBackward dOut");
            MemorySegment W = range(dWeight, dwOff, 0, "embeddingBackward dWeight");
            checkIds(ids, idsOff, n, rowsOf(dWeight, dwOff, dim), "embeddingBackward");
            if (n == 0 || dim == 0) return;
            lib.embeddingBackward(dev, ids, idsOff, n, dim, D, dOutOff, W, dwOff);
        } finally {
            l.unlock();
        }
    }

    @Override
    public double logSoftmaxNll(int rows, int classes, DeviceBuffer logits, long lOff, int[] targets, int tOff,
                                float gradScale, DeviceBuffer dLogits, long dOff) {
        if (rows < 0 || classes < 0) throw new IllegalArgumentException("logSoftmaxNll: negative size " + rows + "x" + classes);
        checkInts(targets, tOff, rows, "logSoftmaxNll targets");
        long n = (long) rows * classes;
        Lock l = enter();
        try {
            MemorySegment L = range(logits, lOff, n, "logSoftmaxNll logits");
            MemorySegment G = optional(dLogits, dOff, n, "logSoftmaxNll dLogits");
            checkIds(targets, tOff, rows, classes, "logSoftmaxNll targets");
            if (rows == 0) return 0.0;
            return lib.logSoftmaxNll(dev, rows, classes, L, lOff, targets, tOff, gradScale, G, dLogits == null ? 0 : dOff);
        } finally {
            l.unlock();
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /** Frees every buffer still open, then the device (stream, cuBLAS handle, scratch). Idempotent. */
    @Override
    public void close() {
        Lock l = rw.writeLock();
        l.lock();
        try {
            if (closed) return;
            closed = true;
            List<RuntimeException> errors = new ArrayList<>();
            for (CudaBuffer b : List.copyOf(live)) {
                MemorySegment h = b.detach();
                live.remove(b);
                if (h != null) {
                    try {
                        lib.free(h);
                    } catch (RuntimeException e) {
                        errors.add(e);
                    }
                }
            }
            try {
                lib.deviceDestroy(dev);
            } catch (RuntimeException e) {
                errors.add(e);
            }
            if (!errors.isEmpty())
                LOG.log(System.Logger.Level.WARNING, "CUDA: error while closing device " + ordinal + " (" + errors.size()
                        + " error(s), first shown)", errors.get(0));
        } finally {
            l.unlock();
        }
    }

    @Override public String toString() { return "CudaBackend[device " + ordinal + (closed ? ", closed]" : "]"); }
}
