package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.backend.OwnedBuffer;
import dev.rnn4j.DeviceOutOfMemoryException;
import dev.rnn4j.natives.CudaNative;
import dev.rnn4j.natives.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
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
 * <p>Most ops need no code here: an op whose record lists exactly the parameters of its table
 * function (rnn4j_cuda_launch_adam_step for {@link Op.AdamStep}, ...) runs through
 * {@link OpBinding}, which passes the record's components in order; the methods below are the
 * ops whose call needs more. The ops' records check their arguments; here only what this backend
 * knows (its own, open buffers), and everything again in C before anything reaches the GPU.
 * Calls may come from several threads: they hold a read lock
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
    static final class CudaBuffer extends OwnedBuffer<CudaBackend> {
        private volatile MemorySegment handle;

        CudaBuffer(CudaBackend owner, long size, MemorySegment handle) {
            super(owner, size);
            this.handle = handle;
        }

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
        if (!(b instanceof CudaBuffer cb) || cb.backend() != this)
            throw new IllegalArgumentException(what + ": buffer belongs to backend " + b.backend().name() + ", not to this cuda backend");
        return cb.handle();
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


    @Override
    public void upload(Op.Upload op) {
        MemorySegment d = buf(op.dst(), "upload destination");
        int n = op.n(), srcOff = op.srcOff();
        long dstOff = op.dstOff();
        if (n == 0) return;
        // Through the pinned slots, alternately: the host fills one while the other is copied;
        // the copies are queued and this returns without waiting for them.
        stagingLock.lock();
        try {
            int slot = 0;
            for (long done = 0; done < n; done += slotFloats, slot = (slot + 1) % staging.slots()) {
                int m = (int) Math.min(slotFloats, n - done);
                lib.stagingWait(dev, slot);
                MemorySegment.copy(op.src(), (int) (srcOff + done), staging.host(), ValueLayout.JAVA_FLOAT, slot * staging.slotBytes(), m);
                lib.uploadStaged(d, (dstOff + done) * FLOAT, slot, (long) m * FLOAT);
            }
        } finally {
            stagingLock.unlock();
        }
    }

    @Override
    public void download(Op.Download op) {
        MemorySegment s = buf(op.src(), "download source");
        int n = op.n(), dstOff = op.dstOff();
        long srcOff = op.srcOff();
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
                MemorySegment.copy(staging.host(), ValueLayout.JAVA_FLOAT, slot * staging.slotBytes(), op.dst(), (int) (dstOff + done), m);
            }
        } finally {
            stagingLock.unlock();
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
    public void copy(Op.Copy op) {
        MemorySegment s = buf(op.src(), "copy source"), d = buf(op.dst(), "copy destination");
        lib.call("rnn4j_cuda_launch_copy", dev, op.n(), s, op.srcOff(), d, op.dstOff());
    }

    @Override
    public void fill(Op.Fill op) {
        MemorySegment h = buf(op.x(), "fill");
        lib.call("rnn4j_cuda_launch_fill", dev, op.n(), op.value(), h, op.off());
    }

    // ------------------------------------------------------------------ BLAS-like

    @Override
    public void gemm(Op.Gemm op) {
        boolean empty = op.m() == 0 || op.n() == 0 || op.batch() == 0;
        long aRows = op.transA() ? op.k() : op.m(), aCols = op.transA() ? op.m() : op.k(), bRows = op.transB() ? op.n() : op.k(), bCols = op.transB() ? op.k() : op.n();
        MemorySegment A = buf(op.a(), "gemm A");
        MemorySegment B = buf(op.b(), "gemm B");
        MemorySegment C = buf(op.c(), "gemm C");
        if (empty) return;
        lib.gemm(dev, op.transA(), op.transB(), op.m(), op.n(), op.k(), op.alpha(), A, op.aOff(), op.lda(), B, op.bOff(), op.ldb(), op.beta(), C, op.cOff(), op.ldc(),
                op.batch(), op.strideA(), op.strideB(), op.strideC());
    }

    @Override
    public double sumSquares(Op.SumSquares op) {
        return lib.sumSquares(dev, op.n(), buf(op.x(), "sumSquares x"), op.off());
    }

    // ------------------------------------------------------------------ dropout

    @Override
    public void dropoutMask(Op.DropoutMask op) {
        if (op.n() > (1L << 32)) throw new IllegalArgumentException("dropout mask of " + op.n() + " elements: at most 2^32 per mask");
        lib.call("rnn4j_cuda_launch_dropout_mask", dev, op.n(), op.p(), op.seed(), buf(op.out(), "dropoutMask out"), op.outOff());
    }

    // ------------------------------------------------------------------ SRU


    /** The handle of an optional operand: NULL when absent. */
    private static MemorySegment opt(DeviceBuffer b, String what, BiFunction<DeviceBuffer, String, MemorySegment> handle) {
        return b == null ? MemorySegment.NULL : handle.apply(b, what);
    }

    /** The offset of an optional operand: 0 when absent (the library then reads none). */
    private static long off(DeviceBuffer b, long off) { return b == null ? 0 : off; }

    @Override
    public void sruForward(Op.SruForward op) {
        try (Arena a = Arena.ofConfined()) {
            lib.call("rnn4j_cuda_launch_sru_fwd", sruForwardArguments(op, dev, a, this::buf));
        }
    }

    @Override
    public void sruBackward(Op.SruBackward op) {
        try (Arena a = Arena.ofConfined()) {
            lib.call("rnn4j_cuda_launch_sru_bwd", sruBackwardArguments(op, dev, a, this::buf));
        }
    }

    /** The arguments of rnn4j_cuda_launch_sru_fwd for {@code op}; {@code handle} resolves each present buffer. */
    static Object[] sruForwardArguments(Op.SruForward op, MemorySegment dev, Arena a, BiFunction<DeviceBuffer, String, MemorySegment> handle) {
        String c = "sruForward ";
        List<Object> args = sruArguments(op, c, dev, a, handle);
        args.addAll(List.of(handle.apply(op.h(), c + "h"), op.hOff(), handle.apply(op.c(), c + "c"), op.cOff(),
                handle.apply(op.cLast(), c + "cLast"), op.cLastOff()));
        return args.toArray();
    }

    /** The arguments of rnn4j_cuda_launch_sru_bwd for {@code op}; {@code handle} resolves each present buffer. */
    static Object[] sruBackwardArguments(Op.SruBackward op, MemorySegment dev, Arena a, BiFunction<DeviceBuffer, String, MemorySegment> handle) {
        String c = "sruBackward ";
        List<Object> args = sruArguments(op, c, dev, a, handle);
        args.addAll(List.of(handle.apply(op.c(), c + "c"), op.cOff(), handle.apply(op.dh(), c + "dh"), op.dhOff(),
                opt(op.dcLast(), c + "dcLast", handle), off(op.dcLast(), op.dcLastOff()), handle.apply(op.du(), c + "du"), op.duOff(),
                opt(op.dxWritten(), c + "dx", handle), off(op.dxWritten(), op.dxOff()), handle.apply(op.dBias(), c + "dBias"), op.dBiasOff(),
                opt(op.dWeightCWritten(), c + "dWeightC", handle), off(op.dWeightCWritten(), op.dWeightCOff()),
                handle.apply(op.dc0(), c + "dc0"), op.dc0Off()));
        return args.toArray();
    }

    /**
     * The arguments both SRU functions start with: the device, the geometry, u, x, bias, c0, mask
     * and the 2.x options (lengths copied into {@code a}); each op appends its own operands.
     */
    private static List<Object> sruArguments(Op.SruOperands op, String c, MemorySegment dev, Arena a,
                                             BiFunction<DeviceBuffer, String, MemorySegment> handle) {
        Op.SruShape s = op.shape();
        Op.SruOptions o = op.options();
        int[] len = o.lengths();
        return new ArrayList<>(List.of(dev, s.seqLen(), s.batch(), s.hidden(), s.dirs(), s.k(), s.act().code,
                handle.apply(op.u(), c + "u"), op.uOff(), opt(op.xRead(), c + "x", handle), off(op.xRead(), op.xOff()),
                handle.apply(op.bias(), c + "bias"), op.biasOff(), opt(op.c0(), c + "c0", handle), off(op.c0(), op.c0Off()),
                opt(op.maskH(), c + "maskH", handle), off(op.maskH(), op.maskOff()),
                opt(o.weightC(), c + "weightC", handle), off(o.weightC(), o.weightCOff()), o.scale(), o.hasSkip(), o.maskOnGate(),
                len == null || len.length == 0 ? MemorySegment.NULL : a.allocateFrom(ValueLayout.JAVA_INT, len)));
    }

    // ------------------------------------------------------------------ language-model primitives




    @Override
    public void embeddingForward(Op.EmbeddingForward op) {
        MemorySegment W = buf(op.weight(), "embeddingForward weight");
        MemorySegment O = buf(op.out(), "embeddingForward out");
        if (op.n() == 0 || op.dim() == 0) return;
        lib.embeddingForward(dev, op.ids(), op.idsOff(), op.n(), op.dim(), W, op.wOff(), O, op.outOff());
    }

    @Override
    public void embeddingBackward(Op.EmbeddingBackward op) {
        MemorySegment D = buf(op.dOut(), "embeddingBackward dOut");
        MemorySegment W = buf(op.dWeight(), "embeddingBackward dWeight");
        if (op.n() == 0 || op.dim() == 0) return;
        lib.embeddingBackward(dev, op.ids(), op.idsOff(), op.n(), op.dim(), D, op.dOutOff(), W, op.dwOff());
    }

    @Override
    public double logSoftmaxNll(Op.LogSoftmaxNll op) {
        long n = (long) op.rows() * op.classes();
        MemorySegment L = buf(op.logits(), "logSoftmaxNll logits");
        MemorySegment G = (op.dLogits() == null ? MemorySegment.NULL : buf(op.dLogits(), "logSoftmaxNll dLogits"));
        if (op.rows() == 0) return 0.0;
        return lib.logSoftmaxNll(dev, op.rows(), op.classes(), L, op.lOff(), op.targets(), op.tOff(), op.gradScale(), G, op.dLogits() == null ? 0 : op.dOff());
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

    /**
     * Runs an op: through its {@link OpBinding} (the table function its record describes) unless
     * this class has a method of its own for it, then through that method.
     */
    @Override
    public Object execute(Op<?> op) {
        Lock l = enter();
        try {
            OpBinding b = binding(op.getClass());
            if (b == null) return op.runOn(this);
            lib.call(b.function(), b.arguments(op, dev, this::buf));
            return null;
        } finally {
            l.unlock();
        }
    }

    /** Per op type: its binding, or empty where this class has its own method or the table has no function for it. */
    private final Map<Class<?>, Optional<OpBinding>> bindings = new ConcurrentHashMap<>();

    private OpBinding binding(Class<?> opType) {
        return bindings.computeIfAbsent(opType, t -> Optional.ofNullable(bindingOf(t, lib.api()))).orElse(null);
    }

    /** How {@code opType} runs against a library with table {@code api}: its binding, or null for its own method (or none). */
    static OpBinding bindingOf(Class<?> opType, Map<String, String> api) {
        for (Method m : CudaBackend.class.getDeclaredMethods())
            if (m.getParameterCount() == 1 && m.getParameterTypes()[0] == opType) return null;
        return OpBinding.of(opType, api);
    }
}
