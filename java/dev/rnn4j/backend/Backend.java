package dev.rnn4j.backend;

/**
 * The backend SPI: the small set of primitives every layer is written over.
 *
 * <p>All tensors are float32, row-major and addressed as (buffer, element offset). Matrices add
 * a leading dimension ({@code ld}: elements between the starts of consecutive rows). Every
 * primitive writes only its outputs; inputs and outputs of one call never overlap unless the
 * method says so. Callers ({@link dev.rnn4j.Tensor} and the layers) pass valid arguments, but
 * every implementation still checks each call on the host before it touches memory, with
 * {@link BackendChecks}, and rejects it with the exceptions documented there (null: NPE; bad
 * size: IllegalArgumentException; range outside a buffer or array: IndexOutOfBoundsException;
 * closed buffer or backend: IllegalStateException; another backend's buffer:
 * IllegalArgumentException). A call must never crash the JVM, and a rejected call changes
 * nothing. {@link #allocate} throws {@link DeviceOutOfMemoryException} when memory runs out.
 *
 * <p>The reference backend ({@code dev.rnn4j.backend.reference}) is the readable oracle: each
 * method's Javadoc there is the specification the kernels in {@code kernels/} must match.
 *
 * <p>Threading: a backend instance may be used from several threads; each call is atomic
 * with respect to the buffers it touches only if callers do not share output buffers.
 */
public interface Backend extends AutoCloseable {

    /** Short name used on the command line: "reference", "opencl", "cuda". */
    String name();

    /** Human-readable description of the device (for {@code ./rnn4j devices}). */
    String description();

    // ---------------------------------------------------------------- memory

    /** Allocates {@code n} floats, zero-filled. */
    DeviceBuffer allocate(long n);

    /** Number of buffers allocated and not yet closed (for leak checks). */
    long liveBuffers();

    void upload(float[] src, int srcOff, DeviceBuffer dst, long dstOff, int n);

    void download(DeviceBuffer src, long srcOff, float[] dst, int dstOff, int n);

    /** dst[dstOff + i] = src[srcOff + i] for i in [0, n); src and dst may be the same buffer if the ranges do not overlap. */
    void copy(DeviceBuffer src, long srcOff, DeviceBuffer dst, long dstOff, long n);

    /** Copies a rows x cols block: dst[dstOff + r*dstLd + c] = src[srcOff + r*srcLd + c]. */
    void copy2d(int rows, int cols, DeviceBuffer src, long srcOff, int srcLd, DeviceBuffer dst, long dstOff, int dstLd);

    /** x[off + i] = value for i in [0, n). */
    void fill(DeviceBuffer x, long off, long n, float value);

    // ---------------------------------------------------------------- BLAS-like

    /**
     * Strided batched GEMM, row-major: for each batch index p in [0, batch),
     * C_p (m x n) = alpha * op(A_p) * op(B_p) + beta * C_p, where op(A) is A (m x k) or, if
     * transA, A stored as (k x m) and transposed; likewise op(B) is (k x n). A_p starts at
     * aOff + p*strideA, etc. When beta == 0, C is not read (NaNs in C do not propagate).
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k,
              float alpha, DeviceBuffer a, long aOff, int lda,
              DeviceBuffer b, long bOff, int ldb,
              float beta, DeviceBuffer c, long cOff, int ldc,
              int batch, long strideA, long strideB, long strideC);

    /** y[i] += alpha * x[i] for i in [0, n). */
    void axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff);

    /** x[i] *= alpha for i in [0, n). */
    void scale(long n, float alpha, DeviceBuffer x, long xOff);

    /** out[i] = a[i] * b[i]; out may alias a or b exactly (same offset). */
    void mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff);

    /** Broadcast product over rows: out[r*cols + j] = x[r*cols + j] * m[j], r in [0, rows); out may alias x exactly. */
    void mulRows(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer m, long mOff, DeviceBuffer out, long outOff);

    /** c[cOff + r*ldc + j] += bias[biasOff + j] for r in [0, rows), j in [0, cols). */
    void addRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc);

    /** Column sums: out[j] = beta * out[j] + sum_r a[aOff + r*lda + j]. When beta == 0, out is not read. */
    void sumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff);

    /** Sum of squares of x[off .. off+n), accumulated in double. */
    double sumSquares(long n, DeviceBuffer x, long off);

    // ---------------------------------------------------------------- dropout

    /**
     * Dropout mask from the counter-based generator {@link dev.rnn4j.backend.DropoutRng}:
     * out[outOff + i] = DropoutRng.keep(seed, i, p) ? 1/(1-p) : 0 for i in [0, n).
     * Every backend draws the same mask for the same (seed, p). Requires 0 <= p < 1.
     */
    void dropoutMask(long n, float p, long seed, DeviceBuffer out, long outOff);

    // ---------------------------------------------------------------- recurrent pointwise

    /**
     * RNN step: h[i] = act(pre[i]) for the (B x H) block (contiguous, n = B*H); act is TANH or RELU.
     */
    void rnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff);

    /**
     * RNN step backward: dpre[i] = dh[i] * act'(h[i]) where h is the forward output
     * (tanh' = 1 - h^2; relu' = h > 0 ? 1 : 0). dpre may alias dh exactly.
     */
    void rnnPointwiseBackward(Activation act, int n, DeviceBuffer h, long hOff, DeviceBuffer dh, long dhOff,
                              DeviceBuffer dpre, long dpreOff);

    /**
     * LSTM step, gates (B x 4H) in order i, f, g, o holding pre-activations (both biases
     * included). In place, gates become the activations sigmoid(i), sigmoid(f), tanh(g),
     * sigmoid(o); then c = f*cPrev + i*g and h = o*tanh(c), each (B x H).
     */
    void lstmPointwiseForward(int batch, int hidden, DeviceBuffer gates, long gOff,
                              DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer h, long hOff);

    /**
     * LSTM step backward. Inputs: the activated gates (B x 4H) from the forward step, cPrev and c
     * (B x H), dh (gradient w.r.t. h = o*tanh(c), B x H) and dcNext (gradient flowing into c
     * from the later step and from c_n; may be null for zero). Outputs: dGates (B x 4H, gradient
     * w.r.t. the gate pre-activations) and dcPrev (B x H). dcPrev may alias dcNext exactly.
     */
    void lstmPointwiseBackward(int batch, int hidden, DeviceBuffer gates, long gOff,
                               DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff,
                               DeviceBuffer dh, long dhOff, DeviceBuffer dcNext, long dcNextOff,
                               DeviceBuffer dGates, long dgOff, DeviceBuffer dcPrev, long dcPrevOff);

    /**
     * GRU step. gx = W_ih x + b_ih and gh = W_hh h + b_hh, each (B x 3H) in gate order r, z, n.
     * r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z), n = tanh(gx_n + r*gh_n),
     * h = (1-z)*n + z*hPrev. saved (B x 4H) receives r, z, n, gh_n for the backward step.
     */
    void gruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff,
                             DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff,
                             DeviceBuffer saved, long savedOff);

    /**
     * GRU step backward. From saved (r, z, n, gh_n), hPrev and dh (B x H): dgx (B x 3H, gradient
     * w.r.t. gx), dgh (B x 3H, gradient w.r.t. gh; equal to dgx except the n block, which is
     * dgx_n * r) and dhPrevPartial = dh * z (B x H; the caller adds dgh * W_hh).
     */
    void gruPointwiseBackward(int batch, int hidden, DeviceBuffer saved, long savedOff,
                              DeviceBuffer hPrev, long hPrevOff, DeviceBuffer dh, long dhOff,
                              DeviceBuffer dgx, long dgxOff, DeviceBuffer dgh, long dghOff,
                              DeviceBuffer dhPrevPartial, long dhpOff);

    /**
     * SRU v1 recurrence over a whole layer (every direction), one (batch, unit) column at a time.
     * Shapes: u (T, B, D*d*K) = X W with the K columns of each unit interleaved; x (T, B, D*d)
     * the layer input (read only when K == 3, may be null when K == 4); bias (2*D*d) = [forget | highway];
     * c0 (B, D*d) or null for zeros; maskH (B, D*d) dropout mask or null: as in the SRU v1 kernels it scales
     * g(c) only, h = r*(g(c)*mask) + (1-r)*x'. Outputs:
     * h (T, B, D*d), c (T, B, D*d) every step's c (saved for backward), cLast (B, D*d) =
     * [c_{T-1}(dir 0), c_0(dir 1)]. See the conformance README for the equations.
     */
    void sruForward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                    DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                    DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                    DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff);

    /**
     * SRU v1 backward over a whole layer, walking time in reverse for every column.
     * Inputs as in {@link #sruForward} plus c (the saved forward c), dh (T, B, D*d) and dcLast
     * (B, D*d, may be null for zero). Outputs: du (T, B, D*d*K); dx (T, B, D*d) the highway
     * part of the input gradient (written only when K == 3; the caller adds du W^T);
     * dBias (B, 2*D*d) per-batch-row partial bias gradients (the caller sums over rows);
     * dc0 (B, D*d).
     */
    void sruBackward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                     DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                     DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                     DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcLast, long dcLastOff,
                     DeviceBuffer du, long duOff, DeviceBuffer dx, long dxOff,
                     DeviceBuffer dBias, long dBiasOff, DeviceBuffer dc0, long dc0Off);

    // ---------------------------------------------------------------- language-model primitives
    // Optional: a backend that lacks one throws UnsupportedOperationException naming itself;
    // the reference backend implements all of them. Token ids travel as host int arrays (they
    // are small: one per position) and are validated by the caller to lie in [0, rows of weight).

    /** Embedding lookup: out[outOff + i*dim + j] = weight[wOff + ids[idsOff+i]*dim + j] for i in [0, n). */
    default void embeddingForward(int[] ids, int idsOff, int n, int dim, DeviceBuffer weight, long wOff,
                                  DeviceBuffer out, long outOff) {
        throw unsupported("embeddingForward");
    }

    /** Embedding gradient (scatter-add): dWeight[ids[idsOff+i]*dim + j] += dOut[i*dim + j]; repeated ids accumulate. */
    default void embeddingBackward(int[] ids, int idsOff, int n, int dim, DeviceBuffer dOut, long dOutOff,
                                   DeviceBuffer dWeight, long dwOff) {
        throw unsupported("embeddingBackward");
    }

    /**
     * Fused log-softmax and negative log-likelihood over rows of logits (rows x classes):
     * returns sum_i -log(softmax(logits_i)[targets[tOff+i]]) in double. If dLogits is not null it
     * receives gradScale * (softmax(logits_i) - onehot(targets_i)); dLogits may alias logits
     * exactly (same offset).
     */
    default double logSoftmaxNll(int rows, int classes, DeviceBuffer logits, long lOff, int[] targets, int tOff,
                                 float gradScale, DeviceBuffer dLogits, long dOff) {
        throw unsupported("logSoftmaxNll");
    }

    /** The exception an optional primitive throws when this backend does not implement it. */
    default UnsupportedOperationException unsupported(String primitive) {
        return new UnsupportedOperationException("backend " + name() + " does not implement " + primitive);
    }

    /** Releases every resource of the backend. Idempotent. */
    @Override
    void close();
}
