package dev.rnn4j.backend;

import static dev.rnn4j.backend.BackendChecks.array;
import static dev.rnn4j.backend.BackendChecks.dropoutP;
import static dev.rnn4j.backend.BackendChecks.nonNegative;
import static dev.rnn4j.backend.BackendChecks.notNull;
import static dev.rnn4j.backend.BackendChecks.product;

/**
 * Every backend primitive as a value: one record per op, whose fields name its operands and
 * sizes and whose constructor checks them all once (nulls, sizes, overflow, ranges inside each
 * buffer and host array), so that a backend only executes ops and never re-validates them.
 *
 * <p>Operands are (buffer, element offset) pairs; matrices add a leading dimension. Every op
 * writes only its outputs; inputs and outputs never overlap unless the record says so. The
 * constructor throws the exceptions {@link BackendChecks} documents; a backend adds only what
 * it alone can know (a buffer of another backend: IllegalArgumentException; a closed buffer or
 * backend: IllegalStateException). The reference backend's method for each op is its
 * readable specification.
 *
 * <p>{@code R} is the op's result type ({@link Void} for ops that only write buffers). Adding an
 * op: a record here (fields, checks, its {@code runOn}), its default method in {@link Kernels},
 * its kernels, and for an {@link Elementwise} op one entry of native/include/rnn4j_cuda_ops.h;
 * see docs/ARCHITECTURE.md.
 */
public sealed interface Op<R> {

    /** Runs this op on a backend's kernels (the one dispatch every backend shares). */
    R runOn(Kernels k);

    /** The op's name in messages and reports, e.g. "gemm". */
    default String opName() {
        String s = getClass().getSimpleName();
        return Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    /**
     * An element-wise op: one work-item per element of [0, n), every buffer operand n elements
     * from its offset, and the record's components, n first, exactly its kernel's parameters in
     * order. The kernel is {@code rnn4j_} + the op's name in snake case ({@link OpRecords#kernelName}),
     * so a device backend launches it from the record alone (OpenCL: each component a kernel
     * argument; CUDA: the entry of native/include/rnn4j_cuda_ops.h of the same name).
     */
    interface Elementwise {
        /** The number of elements, and of work-items. */
        long n();
    }

    // ------------------------------------------------------------------------- checks

    /** A required buffer with elements [off, off + count) inside it. */
    private static void in(DeviceBuffer b, long off, long count, String what) {
        notNull(b, what + " buffer");
        BackendChecks.range(what, b.size(), off, count);
    }

    /** An optional buffer (null allowed) with [off, off + count) inside it when present. */
    private static void opt(DeviceBuffer b, long off, long count, String what) {
        if (b != null) BackendChecks.range(what, b.size(), off, count);
    }

    private static void mat(DeviceBuffer b, long off, long rows, long cols, long ld, long batch, long stride, String what) {
        notNull(b, what + " buffer");
        BackendChecks.matrix(what, b.size(), off, rows, cols, ld, batch, stride);
    }

    /** batch*hidden states; 4*batch*hidden (the widest pointwise operand) must not overflow. */
    private static long states(String call, int batch, int hidden) {
        if (batch < 0 || hidden < 0) throw new IllegalArgumentException(call + ": negative size batch=" + batch + " hidden=" + hidden);
        product(call, 4, batch, hidden);
        return (long) batch * hidden;
    }

    // ------------------------------------------------------------------------- memory

    /** dst[dstOff + i] = src[srcOff + i] for i in [0, n): host array to device. */
    record Upload(float[] src, int srcOff, DeviceBuffer dst, long dstOff, int n) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.upload(this); return null; }

        public Upload {
            array("upload source", src, srcOff, n);
            in(dst, dstOff, n, "upload destination");
        }
    }

    /** dst[dstOff + i] = src[srcOff + i] for i in [0, n): device to host array. */
    record Download(DeviceBuffer src, long srcOff, float[] dst, int dstOff, int n) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.download(this); return null; }

        public Download {
            array("download destination", dst, dstOff, n);
            in(src, srcOff, n, "download source");
        }
    }

    /** dst[dstOff + i] = src[srcOff + i] for i in [0, n); src and dst may be one buffer if the ranges do not overlap. */
    record Copy(DeviceBuffer src, long srcOff, DeviceBuffer dst, long dstOff, long n) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.copy(this); return null; }

        public Copy {
            in(src, srcOff, n, "copy source");
            in(dst, dstOff, n, "copy destination");
        }
    }

    /** A rows x cols block: dst[dstOff + r*dstLd + c] = src[srcOff + r*srcLd + c]. */
    record Copy2d(int rows, int cols, DeviceBuffer src, long srcOff, int srcLd, DeviceBuffer dst, long dstOff, int dstLd)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.copy2d(this); return null; }

        public Copy2d {
            mat(src, srcOff, rows, cols, srcLd, 1, 0, "copy2d source");
            mat(dst, dstOff, rows, cols, dstLd, 1, 0, "copy2d destination");
        }
    }

    /** x[off + i] = value for i in [0, n). */
    record Fill(DeviceBuffer x, long off, long n, float value) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.fill(this); return null; }

        public Fill { in(x, off, n, "fill"); }
    }

    // ------------------------------------------------------------------------- BLAS-like

    /**
     * Strided batched GEMM, row-major: for p in [0, batch), C_p (m x n) = alpha * op(A_p) * op(B_p)
     * + beta * C_p, where op(A) is A (m x k) or, if transA, A stored (k x m) and transposed; likewise
     * op(B) is (k x n). A_p starts at aOff + p*strideA, etc. When beta == 0, C is not read.
     */
    record Gemm(boolean transA, boolean transB, int m, int n, int k,
                float alpha, DeviceBuffer a, long aOff, int lda,
                DeviceBuffer b, long bOff, int ldb,
                float beta, DeviceBuffer c, long cOff, int ldc,
                int batch, long strideA, long strideB, long strideC) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.gemm(this); return null; }

        public Gemm {
            nonNegative("gemm", "m, n, k, batch", m, n, k, batch);
            boolean empty = m == 0 || n == 0 || batch == 0;
            mat(a, aOff, empty ? 0 : transA ? k : m, transA ? m : k, lda, batch, strideA, "gemm A");
            mat(b, bOff, empty ? 0 : transB ? n : k, transB ? k : n, ldb, batch, strideB, "gemm B");
            mat(c, cOff, m, n, ldc, batch, strideC, "gemm C");
        }

        /** True when the product is empty (nothing is read or written). */
        public boolean empty() { return m == 0 || n == 0 || batch == 0; }
    }

    /** y[i] += alpha * x[i] for i in [0, n). */
    record Axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff) implements Op<Void>, Elementwise {
        @Override public Void runOn(Kernels k) { k.axpy(this); return null; }

        public Axpy {
            in(x, xOff, n, "axpy x");
            in(y, yOff, n, "axpy y");
        }
    }

    /** x[i] *= alpha for i in [0, n). */
    record Scale(long n, float alpha, DeviceBuffer x, long xOff) implements Op<Void>, Elementwise {
        @Override public Void runOn(Kernels k) { k.scale(this); return null; }

        public Scale { in(x, xOff, n, "scale x"); }
    }

    /** out[i] = a[i] * b[i]; out may alias a or b exactly (same offset). */
    record Mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff) implements Op<Void>, Elementwise {
        @Override public Void runOn(Kernels k) { k.mul(this); return null; }

        public Mul {
            in(a, aOff, n, "mul a");
            in(b, bOff, n, "mul b");
            in(out, outOff, n, "mul out");
        }
    }

    /** out[r*cols + j] = x[r*cols + j] * m[j] for r in [0, rows); out may alias x exactly. */
    record MulRows(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer m, long mOff, DeviceBuffer out, long outOff)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.mulRows(this); return null; }

        public MulRows {
            long count = product("mulRows", rows, cols);
            in(x, xOff, count, "mulRows x");
            in(m, mOff, count == 0 ? 0 : cols, "mulRows m");
            in(out, outOff, count, "mulRows out");
        }
    }

    /** c[cOff + r*ldc + j] += bias[biasOff + j] for r in [0, rows), j in [0, cols). */
    record AddRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.addRowVector(this); return null; }

        public AddRowVector {
            mat(c, cOff, rows, cols, ldc, 1, 0, "addRowVector c");
            in(bias, biasOff, rows == 0 ? 0 : cols, "addRowVector bias");
        }
    }

    /** Column sums: out[j] = beta * out[j] + sum_r a[aOff + r*lda + j]. When beta == 0, out is not read. */
    record SumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.sumRows(this); return null; }

        public SumRows {
            mat(a, aOff, rows, cols, lda, 1, 0, "sumRows a");
            in(out, outOff, cols, "sumRows out");
        }
    }

    /** Sum of squares of x[off .. off+n), accumulated in double. */
    record SumSquares(long n, DeviceBuffer x, long off) implements Op<Double> {
        @Override public Double runOn(Kernels k) { return k.sumSquares(this); }

        public SumSquares { in(x, off, n, "sumSquares x"); }
    }

    /**
     * One Adam step for n elements, in float32 as PyTorch's {@code _single_tensor_adam} computes it
     * (weight decay, if any, is applied by the caller before): for i in [0, n),
     * m[i] = beta1 * m[i] + (1 - beta1) * g[i]; v[i] = beta2 * v[i] + (1 - beta2) * g[i]^2;
     * p[i] -= stepSize * m[i] / (sqrt(v[i]) / bc2Sqrt + eps), with the new m and v. The caller
     * passes stepSize = lr / (1 - beta1^t) and bc2Sqrt = sqrt(1 - beta2^t). g, m, v and p must not overlap.
     */
    record AdamStep(long n, float beta1, float beta2, float stepSize, float bc2Sqrt, float eps,
                    DeviceBuffer g, long gOff, DeviceBuffer m, long mOff, DeviceBuffer v, long vOff,
                    DeviceBuffer p, long pOff) implements Op<Void>, Elementwise {
        @Override public Void runOn(Kernels k) { k.adamStep(this); return null; }

        public AdamStep {
            in(g, gOff, n, "adamStep g");
            in(m, mOff, n, "adamStep m");
            in(v, vOff, n, "adamStep v");
            in(p, pOff, n, "adamStep p");
        }
    }

    // ------------------------------------------------------------------------- dropout

    /**
     * Dropout mask from the counter-based generator {@link DropoutRng}: out[outOff + i] =
     * DropoutRng.keep(seed, i, p) ? 1/(1-p) : 0 for i in [0, n). Requires 0 <= p < 1.
     */
    record DropoutMask(long n, float p, long seed, DeviceBuffer out, long outOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.dropoutMask(this); return null; }

        public DropoutMask {
            dropoutP(p);
            in(out, outOff, n, "dropoutMask out");
        }
    }

    // ------------------------------------------------------------------------- recurrent pointwise

    /** RNN step: h[i] = act(pre[i]) for n = B*H contiguous elements; act is TANH or RELU. */
    record RnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.rnnPointwiseForward(this); return null; }

        public RnnPointwiseForward {
            notNull(act, "rnnPointwiseForward act");
            in(pre, preOff, n, "rnnPointwiseForward pre");
            in(h, hOff, n, "rnnPointwiseForward h");
        }
    }

    /** RNN step backward: dpre[i] = dh[i] * act'(h[i]) from the forward output h; dpre may alias dh exactly. */
    record RnnPointwiseBackward(Activation act, int n, DeviceBuffer h, long hOff, DeviceBuffer dh, long dhOff,
                                DeviceBuffer dpre, long dpreOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.rnnPointwiseBackward(this); return null; }

        public RnnPointwiseBackward {
            notNull(act, "rnnPointwiseBackward act");
            in(h, hOff, n, "rnnPointwiseBackward h");
            in(dh, dhOff, n, "rnnPointwiseBackward dh");
            in(dpre, dpreOff, n, "rnnPointwiseBackward dpre");
        }
    }

    /**
     * LSTM step, gates (B x 4H) in order i, f, g, o holding pre-activations (both biases
     * included). In place, gates become sigmoid(i), sigmoid(f), tanh(g), sigmoid(o); then
     * c = f*cPrev + i*g and h = o*tanh(c), each (B x H).
     */
    record LstmPointwiseForward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer h, long hOff)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.lstmPointwiseForward(this); return null; }

        public LstmPointwiseForward {
            long ns = states("lstmPointwiseForward", batch, hidden);
            in(gates, gOff, 4 * ns, "lstmPointwiseForward gates");
            in(cPrev, cPrevOff, ns, "lstmPointwiseForward cPrev");
            in(c, cOff, ns, "lstmPointwiseForward c");
            in(h, hOff, ns, "lstmPointwiseForward h");
        }
    }

    /**
     * LSTM step backward. Inputs: the activated gates (B x 4H), cPrev and c (B x H), dh (B x H)
     * and dcNext (gradient into c from the later step and c_n; null for zero). Outputs: dGates
     * (B x 4H, w.r.t. the pre-activations) and dcPrev (B x H), which may alias dcNext exactly.
     */
    record LstmPointwiseBackward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                 DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff,
                                 DeviceBuffer dh, long dhOff, DeviceBuffer dcNext, long dcNextOff,
                                 DeviceBuffer dGates, long dgOff, DeviceBuffer dcPrev, long dcPrevOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.lstmPointwiseBackward(this); return null; }

        public LstmPointwiseBackward {
            long ns = states("lstmPointwiseBackward", batch, hidden);
            in(gates, gOff, 4 * ns, "lstmPointwiseBackward gates");
            in(cPrev, cPrevOff, ns, "lstmPointwiseBackward cPrev");
            in(c, cOff, ns, "lstmPointwiseBackward c");
            in(dh, dhOff, ns, "lstmPointwiseBackward dh");
            opt(dcNext, dcNextOff, ns, "lstmPointwiseBackward dcNext");
            in(dGates, dgOff, 4 * ns, "lstmPointwiseBackward dGates");
            in(dcPrev, dcPrevOff, ns, "lstmPointwiseBackward dcPrev");
        }
    }

    /**
     * GRU step. gx = W_ih x + b_ih and gh = W_hh h, each (B x 3H) in gate order r, z, n;
     * biasHh (3H, b_hh; null for none) is added to every row of gh here, so the step needs no
     * separate bias launch. With gh' = gh + biasHh: r = sigmoid(gx_r + gh'_r),
     * z = sigmoid(gx_z + gh'_z), n = tanh(gx_n + r*gh'_n), h = (1-z)*n + z*hPrev. saved (B x 4H)
     * receives r, z, n, gh'_n (the biased value the backward step reads).
     */
    record GruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff,
                               DeviceBuffer biasHh, long biasHhOff,
                               DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff,
                               DeviceBuffer saved, long savedOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.gruPointwiseForward(this); return null; }

        public GruPointwiseForward {
            long ns = states("gruPointwiseForward", batch, hidden);
            in(gx, gxOff, 3 * ns, "gruPointwiseForward gx");
            in(gh, ghOff, 3 * ns, "gruPointwiseForward gh");
            opt(biasHh, biasHhOff, 3L * hidden, "gruPointwiseForward biasHh");
            in(hPrev, hPrevOff, ns, "gruPointwiseForward hPrev");
            in(h, hOff, ns, "gruPointwiseForward h");
            in(saved, savedOff, 4 * ns, "gruPointwiseForward saved");
        }
    }

    /**
     * GRU step backward. From saved (r, z, n, gh_n), hPrev and dh (B x H): dgx (B x 3H), dgh
     * (B x 3H; equal to dgx except the n block, which is dgx_n * r) and dhPrevPartial = dh * z
     * (B x H; the caller adds dgh * W_hh).
     */
    record GruPointwiseBackward(int batch, int hidden, DeviceBuffer saved, long savedOff,
                                DeviceBuffer hPrev, long hPrevOff, DeviceBuffer dh, long dhOff,
                                DeviceBuffer dgx, long dgxOff, DeviceBuffer dgh, long dghOff,
                                DeviceBuffer dhPrevPartial, long dhpOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.gruPointwiseBackward(this); return null; }

        public GruPointwiseBackward {
            long ns = states("gruPointwiseBackward", batch, hidden);
            in(saved, savedOff, 4 * ns, "gruPointwiseBackward saved");
            in(hPrev, hPrevOff, ns, "gruPointwiseBackward hPrev");
            in(dh, dhOff, ns, "gruPointwiseBackward dh");
            in(dgx, dgxOff, 3 * ns, "gruPointwiseBackward dgx");
            in(dgh, dghOff, 3 * ns, "gruPointwiseBackward dgh");
            in(dhPrevPartial, dhpOff, ns, "gruPointwiseBackward dhPrevPartial");
        }
    }

    // ------------------------------------------------------------------------- whole recurrence

    /**
     * The forward recurrence of one layer and direction over all its time steps, as one op, so
     * that a backend can prepare the recurrent weight once per call (the cpu backend packs it
     * into the order its kernel reads) and fuse each step's product with the gate nonlinearities.
     * It computes exactly what the per-step sequence computes, for s in [0, T) with t = s, or
     * t = T-1-s when {@code reverse}, skipping steps with {@code rows[t] == 0}:
     * <pre>
     *   n = rows[t]; r = rows[0] + ... + rows[t-1]           (the step's first row of gx and saved)
     *   prev = reverse ? t+1 : t;  out = reverse ? t : t+1   (h and c slots of batch*hidden each)
     *   cell.forwardStep(step over the first n rows: gx at r, h[prev], h[out], c[prev], c[out], saved at r)
     * </pre>
     * where the {@link Cell} is the whole definition of a step: typically the product
     * h[prev] W_hh^T ({@link Step#product}, added to gx or into a scratch of (n, G*H)) and one
     * pointwise op ({@link Step#run}). gx ((N, G*H), N = the sum of rows) holds X W_ih^T plus the
     * biases outside the nonlinearities; the step may leave its own values there (the RNN's
     * pre-activations, the LSTM's activated gates). W_hh has {@link Cell#recurrentWeightSize}
     * floats (a (G*H, H) matrix, row-major: h has width H). h has T+1 slots (the caller puts h_0,
     * and for a reverse direction with lengths each sequence's initial state, where its first
     * step reads it); c likewise (a cell with a cell state only, else null); saved
     * (N, {@link Cell#savedWidth} * H) receives the values a cell keeps for backward (null where
     * it keeps none); biasHh (G*H) is b_hh where the cell adds it inside its gates
     * ({@link Cell#takesHiddenBias}; null for none). The step reads only slot prev and writes slot
     * out, so the slots of steps not run keep what the caller put there.
     */
    record RecurrentForward(Cell cell, int batch, int hidden, int[] rows, boolean reverse,
                            DeviceBuffer gx, long gxOff, DeviceBuffer whh, long whhOff,
                            DeviceBuffer biasHh, long biasHhOff, DeviceBuffer h, long hOff,
                            DeviceBuffer c, long cOff, DeviceBuffer saved, long savedOff) implements Op<Void> {
        /**
         * A recurrent cell as this op runs it: its gate blocks G, its states and per-step
         * values, and its forward step written with backend ops. The layer's cell class
         * implements it, so that a new cell runs in this op with no change here or in a backend.
         */
        public interface Cell {
            /** Gate blocks G: gx has G*H values per row. */
            int gates();

            /** Whether the cell has a cell state c besides h. */
            default boolean hasCellState() { return false; }

            /** Per-step values kept for backward, per row in units of H (saved is (N, width*H)); 0 for none. */
            default int savedWidth() { return 0; }

            /** Whether the step adds b_hh itself (it sits inside a gate) instead of its being folded into gx. */
            default boolean takesHiddenBias() { return false; }

            /** Whether the step's recurrent product goes into a scratch of (rows, G*H) instead of being added to gx. */
            default boolean productInScratch() { return false; }

            /** The number of floats of W_hh: a (G*H, H) matrix. */
            default long recurrentWeightSize(int hidden) { return (long) gates() * hidden * hidden; }

            /**
             * One forward step over the first {@code s.rows} rows: gate pre-activations at
             * {@code s.g}, h_{t-1} at {@code s.prevH}; writes h_t at {@code s.outH} (and c_t, and
             * the saved values).
             */
            void forwardStep(Step s);
        }

        /**
         * Everything one forward step reads and writes, as element offsets into the buffers, and
         * the two ways it computes: {@link #product} (the recurrent product on W_hh as the
         * runner prepared it) and {@link #run} (a pointwise op). Reused from step to step.
         */
        public abstract static class Step {
            /** Rows taking part in this step, and the width H of c (and of the gates' blocks). */
            public int rows, hidden;
            /** Gate pre-activations of this step ((rows, G*H) at gOff). */
            public DeviceBuffer g; public long gOff;
            /** Hidden-state slots: h_{t-1} at prevH, h_t at outH. */
            public DeviceBuffer h; public long prevH, outH;
            /** Cell-state slots (a cell with a cell state), else null. */
            public DeviceBuffer c; public long prevC, outC;
            /** Values kept for backward at this step, or null. */
            public DeviceBuffer saved; public long savedOff;
            /** b_hh for a cell that adds it inside its gates, or null. */
            public DeviceBuffer biasHh; public long biasHhOff;
            /** The recurrent weight W_hh. */
            public DeviceBuffer whh; public long whhOff;
            /** A (batch, G*H) scratch for the product, where the cell asks for one. */
            public DeviceBuffer scratch;

            /** out[outOff + (rows, G*H)] = h[prevH] W_hh^T + beta * out (beta 0 or 1). */
            public abstract void product(float beta, DeviceBuffer out, long outOff);

            /** Runs one pointwise op of the step. */
            public abstract void run(Op<?> op);
        }

        @Override public Void runOn(Kernels k) { k.recurrentForward(this); return null; }

        public RecurrentForward {
            String call = "recurrentForward";
            notNull(cell, call + " cell");
            notNull(rows, call + " rows");
            rows = rows.clone();
            nonNegative(call, "batch, hidden", batch, hidden);
            long total = 0;
            for (int t = 0; t < rows.length; t++) {
                if (rows[t] < 0 || rows[t] > batch)
                    throw new IllegalArgumentException(call + ": rows[" + t + "] = " + rows[t] + " outside [0, batch = " + batch + "]");
                total += rows[t];
            }
            long gh = product(call, cell.gates(), hidden);
            product(call, 4, total, hidden);
            long slots = product(call, rows.length + 1L, batch, hidden);
            in(gx, gxOff, product(call, total, gh), call + " gx");
            in(whh, whhOff, cell.recurrentWeightSize(hidden), call + " whh");
            in(h, hOff, slots, call + " h");
            if (cell.hasCellState()) in(c, cOff, slots, call + " c");
            else if (c != null) throw new IllegalArgumentException(call + ": c is for a cell with a cell state only");
            if (cell.savedWidth() > 0) in(saved, savedOff, product(call, cell.savedWidth(), total, hidden), call + " saved");
            else if (saved != null) throw new IllegalArgumentException(call + ": saved is for a cell that keeps per-step values only");
            if (cell.takesHiddenBias()) opt(biasHh, biasHhOff, gh, call + " biasHh");
            else if (biasHh != null) throw new IllegalArgumentException(call + ": biasHh is for a cell that adds it inside its gates only (fold it into gx)");
            // the outputs are whole buffers of their own: no output may alias an input or another output
            DeviceBuffer[] outs = {gx, h, c, saved};
            for (int i = 0; i < outs.length; i++) {
                if (outs[i] == null) continue;
                if (outs[i] == whh || outs[i] == biasHh)
                    throw new IllegalArgumentException(call + ": an output buffer is also the weight or bias buffer");
                for (int j = i + 1; j < outs.length; j++)
                    if (outs[i] == outs[j]) throw new IllegalArgumentException(call + ": gx, h, c and saved must be distinct buffers");
            }
        }

        /** Time steps T. */
        public int steps() { return rows.length; }

        /** Rows taking part in step t. */
        public int rows(int t) { return rows[t]; }

        /** A copy of the per-step row counts. */
        @Override public int[] rows() { return rows.clone(); }

        /** First row of step t in gx and saved: the rows of the steps before it. */
        public long rowOffset(int t) {
            long r = 0;
            for (int u = 0; u < t; u++) r += rows[u];
            return r;
        }

        /** Total rows N. */
        public long totalRows() { return rowOffset(rows.length); }

        /** Slot h_{t-1} as step t reads it (slot prev above). */
        public int prevSlot(int t) { return reverse ? t + 1 : t; }

        /** Slot step t writes. */
        public int outSlot(int t) { return reverse ? t : t + 1; }

        /**
         * A step's recurrent product: out[outOff + i*ldOut + j] = sum_l h[hOff + i*hidden + l] *
         * W_hh[j, l] (+ out when beta is 1) for the step's rows i and j in [0, G*H), as
         * {@code gemm(false, true, rows, G*H, hidden, 1, h, hOff, hidden, whh, whhOff, hidden, beta, out, outOff, ldOut)}.
         */
        @FunctionalInterface
        public interface Product {
            void run(int rows, DeviceBuffer h, long hOff, float beta, DeviceBuffer out, long outOff, int ldOut);
        }

        /**
         * Runs the op as the per-step sequence above on a backend's own gemm and pointwise
         * kernels (the specification; the reference backend's implementation).
         */
        public void runPerStep(Backend be) {
            int GH = cell.gates() * hidden;
            runPerStep(be, (n, hb, ho, beta, out, oo, ld) ->
                    be.gemm(new Gemm(false, true, n, GH, hidden, 1f, hb, ho, hidden, whh, whhOff, hidden, beta, out, oo, ld, 1, 0, 0, 0)),
                    op -> op.runOn(be));
        }

        /**
         * The per-step sequence above with each step's product computed by {@code product} (a
         * backend's own kernel on weights it prepared once for the call) and each pointwise op
         * by {@code pointwise} (a backend's kernels).
         */
        public void runPerStep(Backend be, Product product, java.util.function.Consumer<Op<?>> pointwise) {
            int T = steps(), H = hidden, GH = cell.gates() * H;
            long slot = (long) batch * H;
            long savedRow = (long) cell.savedWidth() * H;
            DeviceBuffer gh = cell.productInScratch() && batch > 0 && H > 0 ? be.allocate((long) batch * GH) : null;
            try {
                Step s = new Step() {
                    @Override public void product(float beta, DeviceBuffer out, long outOff) { product.run(rows, h, prevH, beta, out, outOff, GH); }

                    @Override public void run(Op<?> op) { pointwise.accept(op); }
                };
                s.hidden = H;
                s.g = gx;
                s.h = h;
                s.c = c;
                s.saved = saved;
                s.biasHh = biasHh;
                s.biasHhOff = biasHhOff;
                s.whh = whh;
                s.whhOff = whhOff;
                s.scratch = gh;
                for (int i = 0; i < T; i++) {
                    int t = reverse ? T - 1 - i : i, n = rows[t];
                    if (n == 0 || H == 0) continue;
                    long r = rowOffset(t);
                    s.rows = n;
                    s.gOff = gxOff + r * GH;
                    s.prevH = hOff + prevSlot(t) * slot;
                    s.outH = hOff + outSlot(t) * slot;
                    s.prevC = cOff + prevSlot(t) * slot;
                    s.outC = cOff + outSlot(t) * slot;
                    s.savedOff = savedOff + r * savedRow;
                    cell.forwardStep(s);
                }
            } finally {
                if (gh != null) gh.close();
            }
        }
    }

    // ------------------------------------------------------------------------- SRU

    /** The geometry every SRU op shares: T, B, d, D in {1, 2}, K in {3, 4} and the activation g. */
    record SruShape(int seqLen, int batch, int hidden, int dirs, int k, Activation act) {
        /** Checks the geometry for {@code call}; every size the kernels index with must fit a long. */
        void check(String call) {
            BackendChecks.sru(call, seqLen, batch, hidden, dirs, k);
            notNull(act, call + " act");
            product(call, seqLen, batch, dirs, hidden, k);
        }

        /** D*d: the width of h and c. */
        public long cols() { return (long) dirs * hidden; }

        /** B*D*d: one step's states, and the number of recurrence columns. */
        public long state() { return batch * cols(); }

        /** T*B*D*d: every step's states. */
        public long seq() { return seqLen * state(); }

        /** D*d as the int the kernels index columns with. */
        public int ncols() { return dirs * hidden; }

        /** No state at all (B*D*d == 0): the op reads and writes nothing. */
        public boolean empty() { return state() == 0; }
    }

    /**
     * The SRU 2.x extras, shared by {@link SruForward} and {@link SruBackward}; {@link #V1} is the
     * 2017 SRU. weightC (2*D*d, [forget | reset], each [dir 0 | dir 1]) adds the peepholes
     * w_cf*c_{t-1} and w_cr*c_{t-1} to the gate pre-activations (null: zeros); scale multiplies
     * the K == 3 skip input x (sru's scale_x; 1 for v1); hasSkip false drops the skip term
     * (then K must be 3 and x is not read); maskOnGate selects where the dropout mask acts:
     * false (v1) h = r*g(c)*m + (1-r)*x', true (2.x) h = x' + (g(c) - x')*m*r; lengths (B, each
     * in 1..T, or null for all T) gives sru's mask_pad: at t >= lengths[b] c is frozen and h is
     * zero, so the reverse direction starts at lengths[b]-1.
     */
    record SruOptions(DeviceBuffer weightC, long weightCOff, float scale, boolean hasSkip, boolean maskOnGate, int[] lengths) {
        public static final SruOptions V1 = new SruOptions(null, 0, 1f, true, false, null);

        void check(String call, SruShape shape) {
            opt(weightC, weightCOff, 2 * shape.cols(), call + " weightC");
            if (!Float.isFinite(scale)) throw new IllegalArgumentException(call + ": scale must be finite, got " + scale);
            if (!hasSkip && shape.k() != 3)
                throw new IllegalArgumentException(call + ": without the skip term K must be 3, got " + shape.k());
            if (lengths != null) {
                if (lengths.length != shape.batch())
                    throw new IllegalArgumentException(call + ": lengths has " + lengths.length + " entries for batch " + shape.batch());
                for (int b = 0; b < lengths.length; b++)
                    if (lengths[b] < 1 || lengths[b] > shape.seqLen())
                        throw new IllegalArgumentException(call + ": lengths[" + b + "] = " + lengths[b] + " is outside 1.." + shape.seqLen());
            }
        }

        /** Whether x (the layer input) is read: the K == 3 skip term. */
        public boolean readsX(int k) { return hasSkip && k == 3; }

        /** The valid steps of batch row b. */
        public int length(int b, int seqLen) { return lengths == null ? seqLen : lengths[b]; }
    }

    /**
     * What {@link SruForward} and {@link SruBackward} share, which the device backends pass first
     * to both SRU kernels: the geometry, the operands both read and the {@link SruOptions}.
     */
    interface SruOperands {
        SruShape shape();
        DeviceBuffer u();
        long uOff();
        /** x when the op reads it (the K == 3 skip term), else null. */
        DeviceBuffer xRead();
        long xOff();
        DeviceBuffer bias();
        long biasOff();
        DeviceBuffer c0();
        long c0Off();
        DeviceBuffer maskH();
        long maskOff();
        SruOptions options();
    }

    /**
     * What the builders of {@link SruForward} and {@link SruBackward} share: the geometry, the
     * operands both ops read (u, x, bias, c0, maskH, c) and the {@link SruOptions}. {@code B} is the
     * concrete builder, so that every setter returns it.
     */
    abstract class SruBuilder<B extends SruBuilder<B>> {
        final SruShape shape;
        DeviceBuffer u, x, bias, c0, maskH, c, weightC;
        long uOff, xOff, biasOff, c0Off, maskOff, cOff, weightCOff;
        private float scale = 1f;
        private boolean hasSkip = true, maskOnGate;
        private int[] lengths;

        SruBuilder(SruShape shape) { this.shape = shape; }

        @SuppressWarnings("unchecked")
        private B self() { return (B) this; }

        public B u(DeviceBuffer b, long off) { u = b; uOff = off; return self(); }
        public B x(DeviceBuffer b, long off) { x = b; xOff = off; return self(); }
        public B bias(DeviceBuffer b, long off) { bias = b; biasOff = off; return self(); }
        public B c0(DeviceBuffer b, long off) { c0 = b; c0Off = off; return self(); }
        public B maskH(DeviceBuffer b, long off) { maskH = b; maskOff = off; return self(); }
        public B c(DeviceBuffer b, long off) { c = b; cOff = off; return self(); }
        /** The 2.x peephole weights (2*D*d); null for none. */
        public B weightC(DeviceBuffer b, long off) { weightC = b; weightCOff = off; return self(); }
        /** Multiplier of the K == 3 skip input (sru's scale_x). */
        public B scale(float s) { scale = s; return self(); }
        /** Whether h has the skip term (false: sru 2.x has_skip_term=False). */
        public B hasSkip(boolean v) { hasSkip = v; return self(); }
        /** 2.x dropout placement: h = x' + (g(c) - x')*mask*r. */
        public B maskOnGate(boolean v) { maskOnGate = v; return self(); }
        /** Per batch row valid lengths (mask_pad); null for all T. The array is copied. */
        public B lengths(int[] l) { lengths = l == null ? null : l.clone(); return self(); }

        SruOptions options() { return new SruOptions(weightC, weightCOff, scale, hasSkip, maskOnGate, lengths); }
    }

    /**
     * SRU recurrence over a whole layer (every direction), one (batch, unit) column at a time.
     * u (T, B, D*d*K) = X W with the K columns of each unit interleaved; x (T, B, D*d) the layer
     * input (read only for the K == 3 skip term, may be null otherwise); bias (2*D*d) =
     * [forget | highway]; c0 (B, D*d) or null for zeros; maskH (B, D*d) dropout mask or null
     * (where it acts: {@link SruOptions}). Outputs: h (T, B, D*d), c (T, B, D*d) every step's c
     * (kept for backward), cLast (B, D*d) = [c after the last valid step (dir 0), c_0 (dir 1)].
     * The 2.x options (weight_c peepholes, scale, no skip, lengths) are in {@link SruOptions}.
     * Equations: the conformance README. Build one with {@link #builder}.
     */
    record SruForward(SruShape shape, DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                      DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                      DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff,
                      SruOptions options)
            implements Op<Void>, SruOperands {
        @Override public Void runOn(Kernels k) { k.sruForward(this); return null; }

        public SruForward {
            String call = "sruForward";
            notNull(shape, call + " shape");
            shape.check(call);
            if (options == null) options = SruOptions.V1;
            options.check(call, shape);
            long cols = shape.cols(), state = shape.state(), seq = shape.seq();
            in(u, uOff, product(call, seq, shape.k()), call + " u");
            if (options.readsX(shape.k())) in(x, xOff, seq, call + " x");
            in(bias, biasOff, 2 * cols, call + " bias");
            opt(c0, c0Off, state, call + " c0");
            opt(maskH, maskOff, state, call + " maskH");
            in(h, hOff, seq, call + " h");
            in(c, cOff, seq, call + " c");
            in(cLast, cLastOff, state, call + " cLast");
        }

        @Override public DeviceBuffer xRead() { return options.readsX(shape.k()) ? x : null; }

        public static Builder builder(int seqLen, int batch, int hidden, int dirs, int k, Activation act) {
            return new Builder(new SruShape(seqLen, batch, hidden, dirs, k, act));
        }

        /** Names each operand; {@link #build} checks them all. */
        public static final class Builder extends SruBuilder<Builder> {
            private DeviceBuffer h, cLast;
            private long hOff, cLastOff;

            private Builder(SruShape shape) { super(shape); }

            public Builder h(DeviceBuffer b, long off) { h = b; hOff = off; return this; }
            public Builder cLast(DeviceBuffer b, long off) { cLast = b; cLastOff = off; return this; }

            public SruForward build() {
                return new SruForward(shape, u, uOff, x, xOff, bias, biasOff, c0, c0Off, maskH, maskOff,
                        h, hOff, c, cOff, cLast, cLastOff, options());
            }
        }
    }

    /**
     * SRU backward over a whole layer, walking time in reverse for every column. Inputs as in
     * {@link SruForward} plus c (the saved forward c), dh (T, B, D*d) and dcLast (B, D*d, null for
     * zero). Outputs: du (T, B, D*d*K); dx (T, B, D*d) the skip part of the input gradient
     * (written only when x is read; the caller adds du W^T); dBias (B, 2*D*d) per-batch-row
     * partial bias gradients (the caller sums the rows); dWeightC (B, 2*D*d) the same for
     * weightC (required when weightC is given, else not written); dc0 (B, D*d). Padded steps
     * (lengths) get du = 0 and dx = 0 and pass the c gradient through unchanged.
     */
    record SruBackward(SruShape shape, DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                       DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                       DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcLast, long dcLastOff,
                       DeviceBuffer du, long duOff, DeviceBuffer dx, long dxOff,
                       DeviceBuffer dBias, long dBiasOff, DeviceBuffer dc0, long dc0Off,
                       DeviceBuffer dWeightC, long dWeightCOff, SruOptions options) implements Op<Void>, SruOperands {
        @Override public Void runOn(Kernels k) { k.sruBackward(this); return null; }

        public SruBackward {
            String call = "sruBackward";
            notNull(shape, call + " shape");
            shape.check(call);
            if (options == null) options = SruOptions.V1;
            options.check(call, shape);
            long cols = shape.cols(), state = shape.state(), seq = shape.seq(), seqK = product(call, seq, shape.k());
            boolean readsX = options.readsX(shape.k());
            in(u, uOff, seqK, call + " u");
            if (readsX) in(x, xOff, seq, call + " x");
            in(bias, biasOff, 2 * cols, call + " bias");
            opt(c0, c0Off, state, call + " c0");
            opt(maskH, maskOff, state, call + " maskH");
            in(c, cOff, seq, call + " c");
            in(dh, dhOff, seq, call + " dh");
            opt(dcLast, dcLastOff, state, call + " dcLast");
            in(du, duOff, seqK, call + " du");
            if (readsX) in(dx, dxOff, seq, call + " dx");
            in(dBias, dBiasOff, 2 * state, call + " dBias");
            in(dc0, dc0Off, state, call + " dc0");
            if (options.weightC() != null) in(dWeightC, dWeightCOff, 2 * state, call + " dWeightC");
        }

        @Override public DeviceBuffer xRead() { return options.readsX(shape.k()) ? x : null; }

        /** dx when the op writes it (x is read), else null. */
        public DeviceBuffer dxWritten() { return options.readsX(shape.k()) ? dx : null; }

        /** dWeightC when the op writes it (weightC is given), else null. */
        public DeviceBuffer dWeightCWritten() { return options.weightC() != null ? dWeightC : null; }

        public static Builder builder(int seqLen, int batch, int hidden, int dirs, int k, Activation act) {
            return new Builder(new SruShape(seqLen, batch, hidden, dirs, k, act));
        }

        /** Names each operand; {@link #build} checks them all. */
        public static final class Builder extends SruBuilder<Builder> {
            private DeviceBuffer dh, dcLast, du, dx, dBias, dc0, dWeightC;
            private long dhOff, dcLastOff, duOff, dxOff, dBiasOff, dc0Off, dWeightCOff;

            private Builder(SruShape shape) { super(shape); }

            public Builder dh(DeviceBuffer b, long off) { dh = b; dhOff = off; return this; }
            public Builder dcLast(DeviceBuffer b, long off) { dcLast = b; dcLastOff = off; return this; }
            public Builder du(DeviceBuffer b, long off) { du = b; duOff = off; return this; }
            public Builder dx(DeviceBuffer b, long off) { dx = b; dxOff = off; return this; }
            public Builder dBias(DeviceBuffer b, long off) { dBias = b; dBiasOff = off; return this; }
            public Builder dc0(DeviceBuffer b, long off) { dc0 = b; dc0Off = off; return this; }
            /** Per-batch-row partial gradients of weightC (B, 2*D*d). */
            public Builder dWeightC(DeviceBuffer b, long off) { dWeightC = b; dWeightCOff = off; return this; }

            public SruBackward build() {
                return new SruBackward(shape, u, uOff, x, xOff, bias, biasOff, c0, c0Off, maskH, maskOff,
                        c, cOff, dh, dhOff, dcLast, dcLastOff, du, duOff, dx, dxOff, dBias, dBiasOff, dc0, dc0Off,
                        dWeightC, dWeightCOff, options());
            }
        }
    }

    // ------------------------------------------------------------------------- layer norm

    /**
     * Layer normalisation over the last dimension (PyTorch's nn.LayerNorm): for each of rows rows
     * of x (rows x cols), y = (x - mean) / sqrt(var + eps) * gamma + beta with the biased variance;
     * gamma and beta (cols) may be null (ones, zeros). stats (rows x 2) receives [mean, 1/sqrt(var+eps)]
     * per row for the backward op. y may alias x exactly.
     */
    record LayerNormForward(int rows, int cols, float eps, DeviceBuffer x, long xOff, DeviceBuffer gamma, long gammaOff,
                            DeviceBuffer beta, long betaOff, DeviceBuffer y, long yOff, DeviceBuffer stats, long statsOff)
            implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.layerNormForward(this); return null; }

        public LayerNormForward {
            String call = "layerNormForward";
            nonNegative(call, "rows, cols", rows, cols);
            if (!(eps > 0) || !Float.isFinite(eps)) throw new IllegalArgumentException(call + ": eps must be positive and finite, got " + eps);
            long n = product(call, rows, cols);
            in(x, xOff, n, call + " x");
            opt(gamma, gammaOff, cols, call + " gamma");
            opt(beta, betaOff, cols, call + " beta");
            in(y, yOff, n, call + " y");
            in(stats, statsOff, product(call, rows, 2), call + " stats");
        }
    }

    /**
     * Layer normalisation backward, from x, gamma (null: ones), the forward's stats and dy (rows x
     * cols): dx (rows x cols), and when not null dGamma = sum_rows dy*xhat and dBeta = sum_rows dy
     * (cols each, overwritten). dx may alias dy exactly.
     */
    record LayerNormBackward(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer gamma, long gammaOff,
                             DeviceBuffer stats, long statsOff, DeviceBuffer dy, long dyOff, DeviceBuffer dx, long dxOff,
                             DeviceBuffer dGamma, long dGammaOff, DeviceBuffer dBeta, long dBetaOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.layerNormBackward(this); return null; }

        public LayerNormBackward {
            String call = "layerNormBackward";
            nonNegative(call, "rows, cols", rows, cols);
            long n = product(call, rows, cols);
            in(x, xOff, n, call + " x");
            opt(gamma, gammaOff, cols, call + " gamma");
            in(stats, statsOff, product(call, rows, 2), call + " stats");
            in(dy, dyOff, n, call + " dy");
            in(dx, dxOff, n, call + " dx");
            opt(dGamma, dGammaOff, cols, call + " dGamma");
            opt(dBeta, dBetaOff, cols, call + " dBeta");
        }
    }

    // ------------------------------------------------------------------------- language model

    /** Embedding lookup: out[outOff + i*dim + j] = weight[wOff + ids[idsOff+i]*dim + j] for i in [0, n). */
    record EmbeddingForward(int[] ids, int idsOff, int n, int dim, DeviceBuffer weight, long wOff,
                            DeviceBuffer out, long outOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.embeddingForward(this); return null; }

        public EmbeddingForward {
            array("embeddingForward ids", ids, idsOff, n);
            if (dim < 0) throw new IllegalArgumentException("embeddingForward: negative dim " + dim);
            in(weight, wOff, 0, "embeddingForward weight");
            in(out, outOff, product("embeddingForward", n, dim), "embeddingForward out");
            BackendChecks.ids("embeddingForward", ids, idsOff, n, BackendChecks.rowsOf(weight.size(), wOff, dim));
        }
    }

    /** Embedding gradient (scatter-add): dWeight[ids[idsOff+i]*dim + j] += dOut[i*dim + j]; repeated ids accumulate. */
    record EmbeddingBackward(int[] ids, int idsOff, int n, int dim, DeviceBuffer dOut, long dOutOff,
                             DeviceBuffer dWeight, long dwOff) implements Op<Void> {
        @Override public Void runOn(Kernels k) { k.embeddingBackward(this); return null; }

        public EmbeddingBackward {
            array("embeddingBackward ids", ids, idsOff, n);
            if (dim < 0) throw new IllegalArgumentException("embeddingBackward: negative dim " + dim);
            in(dOut, dOutOff, product("embeddingBackward", n, dim), "embeddingBackward dOut");
            in(dWeight, dwOff, 0, "embeddingBackward dWeight");
            BackendChecks.ids("embeddingBackward", ids, idsOff, n, BackendChecks.rowsOf(dWeight.size(), dwOff, dim));
        }
    }

    /**
     * Fused log-softmax and negative log-likelihood over rows of logits (rows x classes): the
     * result is sum_i -log(softmax(logits_i)[targets[tOff+i]]) in double. If dLogits is not null it
     * receives gradScale * (softmax(logits_i) - onehot(targets_i)); dLogits may alias logits exactly.
     */
    record LogSoftmaxNll(int rows, int classes, DeviceBuffer logits, long lOff, int[] targets, int tOff,
                         float gradScale, DeviceBuffer dLogits, long dOff) implements Op<Double> {
        @Override public Double runOn(Kernels k) { return k.logSoftmaxNll(this); }

        public LogSoftmaxNll {
            nonNegative("logSoftmaxNll", "rows, classes", rows, classes);
            array("logSoftmaxNll targets", targets, tOff, rows);
            long count = product("logSoftmaxNll", rows, classes);
            in(logits, lOff, count, "logSoftmaxNll logits");
            opt(dLogits, dOff, count, "logSoftmaxNll dLogits");
            BackendChecks.ids("logSoftmaxNll targets", targets, tOff, rows, classes);
        }
    }
}
