package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.DeviceOutOfMemoryException;
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
        lib.launchCopy(dev, op.n(), s, op.srcOff(), d, op.dstOff());
    }

    @Override
    public void copy2d(Op.Copy2d op) {
        MemorySegment s = buf(op.src(), "copy2d source");
        MemorySegment d = buf(op.dst(), "copy2d destination");
        lib.launchCopy2d(dev, op.rows(), op.cols(), s, op.srcOff(), op.srcLd(), d, op.dstOff(), op.dstLd());
    }

    @Override
    public void fill(Op.Fill op) {
        MemorySegment h = buf(op.x(), "fill");
        lib.launchFill(dev, op.n(), op.value(), h, op.off());
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
    public void adamStep(Op.AdamStep op) {
        MemorySegment G = buf(op.g(), "adamStep g"), M = buf(op.m(), "adamStep m"), V = buf(op.v(), "adamStep v"), P = buf(op.p(), "adamStep p");
        lib.launchAdamStep(dev, op.n(), op.beta1(), op.beta2(), op.stepSize(), op.bc2Sqrt(), op.eps(),
                G, op.gOff(), M, op.mOff(), V, op.vOff(), P, op.pOff());
    }

    @Override
    public void axpy(Op.Axpy op) {
        MemorySegment X = buf(op.x(), "axpy x"), Y = buf(op.y(), "axpy y");
        lib.launchAxpy(dev, op.n(), op.alpha(), X, op.xOff(), Y, op.yOff());
    }

    @Override
    public void scale(Op.Scale op) {
        lib.launchScale(dev, op.n(), op.alpha(), buf(op.x(), "scale x"), op.xOff());
    }

    @Override
    public void mul(Op.Mul op) {
        MemorySegment A = buf(op.a(), "mul a"), B = buf(op.b(), "mul b"), O = buf(op.out(), "mul out");
        lib.launchMul(dev, op.n(), A, op.aOff(), B, op.bOff(), O, op.outOff());
    }

    @Override
    public void mulRows(Op.MulRows op) {
        long n = (long) op.rows() * op.cols();
        MemorySegment X = buf(op.x(), "mulRows x"), M = buf(op.m(), "mulRows m");
        MemorySegment O = buf(op.out(), "mulRows out");
        lib.launchMulRows(dev, op.rows(), op.cols(), X, op.xOff(), M, op.mOff(), O, op.outOff());
    }

    @Override
    public void addRowVector(Op.AddRowVector op) {
        MemorySegment C = buf(op.c(), "addRowVector c");
        MemorySegment Bi = buf(op.bias(), "addRowVector bias");
        lib.launchAddRowVector(dev, op.rows(), op.cols(), Bi, op.biasOff(), C, op.cOff(), op.ldc());
    }

    @Override
    public void sumRows(Op.SumRows op) {
        MemorySegment A = buf(op.a(), "sumRows a");
        MemorySegment O = buf(op.out(), "sumRows out");
        lib.launchSumRows(dev, op.rows(), op.cols(), A, op.aOff(), op.lda(), op.beta(), O, op.outOff());
    }

    @Override
    public double sumSquares(Op.SumSquares op) {
        return lib.sumSquares(dev, op.n(), buf(op.x(), "sumSquares x"), op.off());
    }

    // ------------------------------------------------------------------ dropout

    @Override
    public void dropoutMask(Op.DropoutMask op) {
        if (op.n() > (1L << 32)) throw new IllegalArgumentException("dropout mask of " + op.n() + " elements: at most 2^32 per mask");
        lib.launchDropoutMask(dev, op.n(), op.p(), op.seed(), buf(op.out(), "dropoutMask out"), op.outOff());
    }

    // ------------------------------------------------------------------ recurrent pointwise

    @Override
    public void rnnPointwiseForward(Op.RnnPointwiseForward op) {
        MemorySegment P = buf(op.pre(), "rnnPointwiseForward pre"), H = buf(op.h(), "rnnPointwiseForward h");
        lib.launchRnnPointwiseFwd(dev, op.act().code, op.n(), P, op.preOff(), H, op.hOff());
    }

    @Override
    public void rnnPointwiseBackward(Op.RnnPointwiseBackward op) {
        MemorySegment H = buf(op.h(), "rnnPointwiseBackward h"), DH = buf(op.dh(), "rnnPointwiseBackward dh");
        MemorySegment DP = buf(op.dpre(), "rnnPointwiseBackward dpre");
        lib.launchRnnPointwiseBwd(dev, op.act().code, op.n(), H, op.hOff(), DH, op.dhOff(), DP, op.dpreOff());
    }


    @Override
    public void lstmPointwiseForward(Op.LstmPointwiseForward op) {
        long n = (long) op.batch() * op.hidden();
        MemorySegment G = buf(op.gates(), "lstmPointwiseForward gates");
        MemorySegment CP = buf(op.cPrev(), "lstmPointwiseForward cPrev");
        MemorySegment C = buf(op.c(), "lstmPointwiseForward c"), H = buf(op.h(), "lstmPointwiseForward h");
        lib.launchLstmPointwiseFwd(dev, op.batch(), op.hidden(), G, op.gOff(), CP, op.cPrevOff(), C, op.cOff(), H, op.hOff());
    }

    @Override
    public void lstmPointwiseBackward(Op.LstmPointwiseBackward op) {
        long n = (long) op.batch() * op.hidden();
        MemorySegment G = buf(op.gates(), "lstmPointwiseBackward gates");
        MemorySegment CP = buf(op.cPrev(), "lstmPointwiseBackward cPrev");
        MemorySegment C = buf(op.c(), "lstmPointwiseBackward c");
        MemorySegment DH = buf(op.dh(), "lstmPointwiseBackward dh");
        MemorySegment DCN = (op.dcNext() == null ? MemorySegment.NULL : buf(op.dcNext(), "lstmPointwiseBackward dcNext"));
        MemorySegment DG = buf(op.dGates(), "lstmPointwiseBackward dGates");
        MemorySegment DCP = buf(op.dcPrev(), "lstmPointwiseBackward dcPrev");
        lib.launchLstmPointwiseBwd(dev, op.batch(), op.hidden(), G, op.gOff(), CP, op.cPrevOff(), C, op.cOff(), DH, op.dhOff(),
                DCN, op.dcNext() == null ? 0 : op.dcNextOff(), DG, op.dgOff(), DCP, op.dcPrevOff());
    }

    @Override
    public void gruPointwiseForward(Op.GruPointwiseForward op) {
        long n = (long) op.batch() * op.hidden();
        MemorySegment GX = buf(op.gx(), "gruPointwiseForward gx");
        MemorySegment GH = buf(op.gh(), "gruPointwiseForward gh");
        MemorySegment BH = (op.biasHh() == null ? MemorySegment.NULL : buf(op.biasHh(), "gruPointwiseForward biasHh"));
        MemorySegment HP = buf(op.hPrev(), "gruPointwiseForward hPrev");
        MemorySegment H = buf(op.h(), "gruPointwiseForward h");
        MemorySegment S = buf(op.saved(), "gruPointwiseForward saved");
        lib.launchGruPointwiseFwd(dev, op.batch(), op.hidden(), GX, op.gxOff(), GH, op.ghOff(),
                BH, op.biasHh() == null ? 0 : op.biasHhOff(), HP, op.hPrevOff(), H, op.hOff(), S, op.savedOff());
    }

    @Override
    public void gruPointwiseBackward(Op.GruPointwiseBackward op) {
        long n = (long) op.batch() * op.hidden();
        MemorySegment S = buf(op.saved(), "gruPointwiseBackward saved");
        MemorySegment HP = buf(op.hPrev(), "gruPointwiseBackward hPrev");
        MemorySegment DH = buf(op.dh(), "gruPointwiseBackward dh");
        MemorySegment DGX = buf(op.dgx(), "gruPointwiseBackward dgx");
        MemorySegment DGH = buf(op.dgh(), "gruPointwiseBackward dgh");
        MemorySegment DHP = buf(op.dhPrevPartial(), "gruPointwiseBackward dhPrevPartial");
        lib.launchGruPointwiseBwd(dev, op.batch(), op.hidden(), S, op.savedOff(), HP, op.hPrevOff(), DH, op.dhOff(), DGX, op.dgxOff(), DGH, op.dghOff(),
                DHP, op.dhpOff());
    }

    // ------------------------------------------------------------------ SRU


    private CudaNative.SruOptions sruOptions(Op.SruOptions o, String call) {
        MemorySegment wc = o.weightC() == null ? MemorySegment.NULL : buf(o.weightC(), call + " weightC");
        return new CudaNative.SruOptions(wc, o.weightC() == null ? 0 : o.weightCOff(), o.scale(), o.hasSkip(), o.maskOnGate(), o.lengths());
    }

    @Override
    public void sruForward(Op.SruForward op) {
        int seqLen = op.shape().seqLen(), batch = op.shape().batch(), hidden = op.shape().hidden();
        int dirs = op.shape().dirs(), k = op.shape().k();
        Activation act = op.shape().act();
        boolean readsX = op.options().readsX(k);
        MemorySegment U = buf(op.u(), "sruForward u");
        MemorySegment X = readsX ? buf(op.x(), "sruForward x") : MemorySegment.NULL;
        MemorySegment BI = buf(op.bias(), "sruForward bias");
        MemorySegment C0 = (op.c0() == null ? MemorySegment.NULL : buf(op.c0(), "sruForward c0"));
        MemorySegment M = (op.maskH() == null ? MemorySegment.NULL : buf(op.maskH(), "sruForward maskH"));
        CudaNative.SruOptions o = sruOptions(op.options(), "sruForward");
        MemorySegment H = buf(op.h(), "sruForward h"), C = buf(op.c(), "sruForward c");
        MemorySegment CL = buf(op.cLast(), "sruForward cLast");
        lib.launchSruFwd(dev, seqLen, batch, hidden, dirs, k, act.code, U, op.uOff(), X, readsX ? op.xOff() : 0, BI, op.biasOff(),
                C0, op.c0() == null ? 0 : op.c0Off(), M, op.maskH() == null ? 0 : op.maskOff(), o,
                H, op.hOff(), C, op.cOff(), CL, op.cLastOff());
    }

    @Override
    public void sruBackward(Op.SruBackward op) {
        int seqLen = op.shape().seqLen(), batch = op.shape().batch(), hidden = op.shape().hidden();
        int dirs = op.shape().dirs(), k = op.shape().k();
        Activation act = op.shape().act();
        boolean readsX = op.options().readsX(k), peep = op.options().weightC() != null;
        MemorySegment U = buf(op.u(), "sruBackward u");
        MemorySegment X = readsX ? buf(op.x(), "sruBackward x") : MemorySegment.NULL;
        MemorySegment BI = buf(op.bias(), "sruBackward bias");
        MemorySegment C0 = (op.c0() == null ? MemorySegment.NULL : buf(op.c0(), "sruBackward c0"));
        MemorySegment M = (op.maskH() == null ? MemorySegment.NULL : buf(op.maskH(), "sruBackward maskH"));
        CudaNative.SruOptions o = sruOptions(op.options(), "sruBackward");
        MemorySegment C = buf(op.c(), "sruBackward c"), DH = buf(op.dh(), "sruBackward dh");
        MemorySegment DCL = (op.dcLast() == null ? MemorySegment.NULL : buf(op.dcLast(), "sruBackward dcLast"));
        MemorySegment DU = buf(op.du(), "sruBackward du");
        MemorySegment DX = readsX ? buf(op.dx(), "sruBackward dx") : MemorySegment.NULL;
        MemorySegment DB = buf(op.dBias(), "sruBackward dBias");
        MemorySegment DWC = peep ? buf(op.dWeightC(), "sruBackward dWeightC") : MemorySegment.NULL;
        MemorySegment DC0 = buf(op.dc0(), "sruBackward dc0");
        lib.launchSruBwd(dev, seqLen, batch, hidden, dirs, k, act.code, U, op.uOff(), X, readsX ? op.xOff() : 0, BI, op.biasOff(),
                C0, op.c0() == null ? 0 : op.c0Off(), M, op.maskH() == null ? 0 : op.maskOff(), o, C, op.cOff(), DH, op.dhOff(),
                DCL, op.dcLast() == null ? 0 : op.dcLastOff(), DU, op.duOff(), DX, readsX ? op.dxOff() : 0, DB, op.dBiasOff(),
                DWC, peep ? op.dWeightCOff() : 0, DC0, op.dc0Off());
    }

    // ------------------------------------------------------------------ layer norm

    @Override
    public void layerNormForward(Op.LayerNormForward op) {
        MemorySegment X = buf(op.x(), "layerNormForward x"), Y = buf(op.y(), "layerNormForward y");
        MemorySegment G = op.gamma() == null ? MemorySegment.NULL : buf(op.gamma(), "layerNormForward gamma");
        MemorySegment BE = op.beta() == null ? MemorySegment.NULL : buf(op.beta(), "layerNormForward beta");
        MemorySegment S = buf(op.stats(), "layerNormForward stats");
        lib.launchLayerNormFwd(dev, op.rows(), op.cols(), op.eps(), X, op.xOff(), G, op.gamma() == null ? 0 : op.gammaOff(),
                BE, op.beta() == null ? 0 : op.betaOff(), Y, op.yOff(), S, op.statsOff());
    }

    @Override
    public void layerNormBackward(Op.LayerNormBackward op) {
        MemorySegment X = buf(op.x(), "layerNormBackward x"), S = buf(op.stats(), "layerNormBackward stats");
        MemorySegment G = op.gamma() == null ? MemorySegment.NULL : buf(op.gamma(), "layerNormBackward gamma");
        MemorySegment DY = buf(op.dy(), "layerNormBackward dy"), DX = buf(op.dx(), "layerNormBackward dx");
        MemorySegment DG = op.dGamma() == null ? MemorySegment.NULL : buf(op.dGamma(), "layerNormBackward dGamma");
        MemorySegment DB = op.dBeta() == null ? MemorySegment.NULL : buf(op.dBeta(), "layerNormBackward dBeta");
        lib.launchLayerNormBwd(dev, op.rows(), op.cols(), X, op.xOff(), G, op.gamma() == null ? 0 : op.gammaOff(), S, op.statsOff(),
                DY, op.dyOff(), DX, op.dxOff(), DG, op.dGamma() == null ? 0 : op.dGammaOff(), DB, op.dBeta() == null ? 0 : op.dBetaOff());
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

    @Override
    public Object execute(Op<?> op) {
        Lock l = enter();
        try {
            return op.runOn(this);
        } finally {
            l.unlock();
        }
    }
}
