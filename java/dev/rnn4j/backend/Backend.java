package dev.rnn4j.backend;

import dev.rnn4j.DeviceOutOfMemoryException;

/**
 * The backend SPI: the small set of primitives every layer is written over.
 *
 * <p>Every primitive is an {@link Op}: a record that names its operands and checks every size,
 * range and null once, when it is built. A backend allocates buffers and executes ops
 * ({@link #execute}); it checks only what it alone knows (that each buffer is its own and open,
 * and that it is open itself: IllegalArgumentException and IllegalStateException). A call must
 * never crash the JVM, and a rejected call changes nothing. {@link #allocate} throws
 * {@link DeviceOutOfMemoryException} when memory runs out. The positional methods below are
 * shorthands that build the op and run it.
 *
 * <p>The reference backend ({@code dev.rnn4j.backend.reference}) is the readable oracle: each
 * method's Javadoc there is the specification the kernels in {@code kernels/} must match.
 *
 * <p>Threading: a backend instance may be used from several threads; each call is atomic
 * with respect to the buffers it touches only if callers do not share output buffers.
 */
public interface Backend extends Kernels, AutoCloseable {

    /** Short name used on the command line: "reference", "cpu", "opencl", "cuda". */
    String name();

    /** Human-readable description of the device (for {@code ./rnn4j devices}). */
    String description();

    /** Allocates {@code n} floats, zero-filled. */
    DeviceBuffer allocate(long n);

    /** Number of buffers allocated and not yet closed (for leak checks). */
    long liveBuffers();

    /**
     * Executes an op that its constructor has checked, and returns its result (null for
     * {@code Op<Void>}): the backend checks that it is open (and takes what it needs to run
     * safely beside other threads), then {@code op.runOn(this)} calls its kernel. Throws
     * {@link UnsupportedOperationException} naming the backend and the op if {@link #supports}
     * is false for it.
     */
    Object execute(Op<?> op);

    /**
     * Op types a backend executes only where it says so (by overriding {@link #supports}): each
     * is a fused form of ops every backend has, which callers run instead where it is not
     * supported ({@link Op.RecurrentForward}: the per-step gemm and pointwise ops).
     */
    java.util.Set<Class<?>> OPTIONAL_OPS = java.util.Set.of(Op.RecurrentForward.class);

    /** Whether this backend executes ops of this type: every op but the {@link #OPTIONAL_OPS}, unless a backend says otherwise. */
    default boolean supports(Class<? extends Op<?>> opType) { return !OPTIONAL_OPS.contains(opType); }

    /** Runs an op: {@link #execute} with the op's result type. */
    @SuppressWarnings("unchecked")
    default <R> R run(Op<R> op) { return (R) execute(op); }


    // ---------------------------------------------------------------- shorthands: build the op, run it
    /** Runs {@link Op.Upload}. */
    default void upload(float[] src, int srcOff, DeviceBuffer dst, long dstOff, int n) { run(new Op.Upload(src, srcOff, dst, dstOff, n)); }
    /** Runs {@link Op.Download}. */
    default void download(DeviceBuffer src, long srcOff, float[] dst, int dstOff, int n) { run(new Op.Download(src, srcOff, dst, dstOff, n)); }
    /** Runs {@link Op.Copy}. */
    default void copy(DeviceBuffer src, long srcOff, DeviceBuffer dst, long dstOff, long n) { run(new Op.Copy(src, srcOff, dst, dstOff, n)); }
    /** Runs {@link Op.Copy2d}. */
    default void copy2d(int rows, int cols, DeviceBuffer src, long srcOff, int srcLd, DeviceBuffer dst, long dstOff, int dstLd) { run(new Op.Copy2d(rows, cols, src, srcOff, srcLd, dst, dstOff, dstLd)); }
    /** Runs {@link Op.Fill}. */
    default void fill(DeviceBuffer x, long off, long n, float value) { run(new Op.Fill(x, off, n, value)); }
    /** Runs {@link Op.Gemm}. */
    default void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a, long aOff, int lda, DeviceBuffer b, long bOff, int ldb, float beta, DeviceBuffer c, long cOff, int ldc, int batch, long strideA, long strideB, long strideC) { run(new Op.Gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, batch, strideA, strideB, strideC)); }
    /** Runs {@link Op.Axpy}. */
    default void axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff) { run(new Op.Axpy(n, alpha, x, xOff, y, yOff)); }
    /** Runs {@link Op.Scale}. */
    default void scale(long n, float alpha, DeviceBuffer x, long xOff) { run(new Op.Scale(n, alpha, x, xOff)); }
    /** Runs {@link Op.Mul}. */
    default void mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff) { run(new Op.Mul(n, a, aOff, b, bOff, out, outOff)); }
    /** Runs {@link Op.MulRows}. */
    default void mulRows(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer m, long mOff, DeviceBuffer out, long outOff) { run(new Op.MulRows(rows, cols, x, xOff, m, mOff, out, outOff)); }
    /** Runs {@link Op.AddRowVector}. */
    default void addRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc) { run(new Op.AddRowVector(rows, cols, bias, biasOff, c, cOff, ldc)); }
    /** Runs {@link Op.SumRows}. */
    default void sumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff) { run(new Op.SumRows(rows, cols, a, aOff, lda, beta, out, outOff)); }
    /** Runs {@link Op.SumSquares}; returns its result. */
    default double sumSquares(long n, DeviceBuffer x, long off) { return run(new Op.SumSquares(n, x, off)); }
    /** Runs {@link Op.DropoutMask}. */
    default void dropoutMask(long n, float p, long seed, DeviceBuffer out, long outOff) { run(new Op.DropoutMask(n, p, seed, out, outOff)); }
    /** Runs {@link Op.RnnPointwiseForward}. */
    default void rnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff) { run(new Op.RnnPointwiseForward(act, n, pre, preOff, h, hOff)); }
    /** Runs {@link Op.RnnPointwiseBackward}. */
    default void rnnPointwiseBackward(Activation act, int n, DeviceBuffer h, long hOff, DeviceBuffer dh, long dhOff, DeviceBuffer dpre, long dpreOff) { run(new Op.RnnPointwiseBackward(act, n, h, hOff, dh, dhOff, dpre, dpreOff)); }
    /** Runs {@link Op.LstmPointwiseForward}. */
    default void lstmPointwiseForward(int batch, int hidden, DeviceBuffer gates, long gOff, DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer h, long hOff) { run(new Op.LstmPointwiseForward(batch, hidden, gates, gOff, cPrev, cPrevOff, c, cOff, h, hOff)); }
    /** Runs {@link Op.LstmPointwiseBackward}. */
    default void lstmPointwiseBackward(int batch, int hidden, DeviceBuffer gates, long gOff, DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcNext, long dcNextOff, DeviceBuffer dGates, long dgOff, DeviceBuffer dcPrev, long dcPrevOff) { run(new Op.LstmPointwiseBackward(batch, hidden, gates, gOff, cPrev, cPrevOff, c, cOff, dh, dhOff, dcNext, dcNextOff, dGates, dgOff, dcPrev, dcPrevOff)); }
    /** Runs {@link Op.GruPointwiseForward}. */
    default void gruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff, DeviceBuffer biasHh, long biasHhOff, DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff, DeviceBuffer saved, long savedOff) { run(new Op.GruPointwiseForward(batch, hidden, gx, gxOff, gh, ghOff, biasHh, biasHhOff, hPrev, hPrevOff, h, hOff, saved, savedOff)); }
    /** Runs {@link Op.GruPointwiseForward} without a hidden bias. */
    default void gruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff, DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff, DeviceBuffer saved, long savedOff) { gruPointwiseForward(batch, hidden, gx, gxOff, gh, ghOff, null, 0, hPrev, hPrevOff, h, hOff, saved, savedOff); }
    /** Runs {@link Op.GruPointwiseBackward}. */
    default void gruPointwiseBackward(int batch, int hidden, DeviceBuffer saved, long savedOff, DeviceBuffer hPrev, long hPrevOff, DeviceBuffer dh, long dhOff, DeviceBuffer dgx, long dgxOff, DeviceBuffer dgh, long dghOff, DeviceBuffer dhPrevPartial, long dhpOff) { run(new Op.GruPointwiseBackward(batch, hidden, saved, savedOff, hPrev, hPrevOff, dh, dhOff, dgx, dgxOff, dgh, dghOff, dhPrevPartial, dhpOff)); }
    /** Runs {@link Op.EmbeddingForward}. */
    default void embeddingForward(int[] ids, int idsOff, int n, int dim, DeviceBuffer weight, long wOff, DeviceBuffer out, long outOff) { run(new Op.EmbeddingForward(ids, idsOff, n, dim, weight, wOff, out, outOff)); }
    /** Runs {@link Op.EmbeddingBackward}. */
    default void embeddingBackward(int[] ids, int idsOff, int n, int dim, DeviceBuffer dOut, long dOutOff, DeviceBuffer dWeight, long dwOff) { run(new Op.EmbeddingBackward(ids, idsOff, n, dim, dOut, dOutOff, dWeight, dwOff)); }
    /** Runs {@link Op.LogSoftmaxNll}; returns its result. */
    default double logSoftmaxNll(int rows, int classes, DeviceBuffer logits, long lOff, int[] targets, int tOff, float gradScale, DeviceBuffer dLogits, long dOff) { return run(new Op.LogSoftmaxNll(rows, classes, logits, lOff, targets, tOff, gradScale, dLogits, dOff)); }
    /** Releases every resource of the backend. Idempotent. */
    @Override
    void close();
}
