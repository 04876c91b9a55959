package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.HeapBackend;
import dev.rnn4j.backend.BackendChecks;
import dev.rnn4j.DeviceOutOfMemoryException;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.backend.DropoutRng;

import java.util.Arrays;

/**
 * The fast CPU backend: float32 on Java heap arrays, GEMM by the backend's own kernels
 * ({@link GemmKernels}: Vector API, AVX-512 or AVX2, else plain Java; nothing to install; the packed
 * x W^T products on {@link NativeGemm}'s C kernels where the jar carries librnn4j_cpu.so),
 * everything else in Java loops the JIT compiler vectorises, all split over the cores by
 * {@link Parallel}'s one shared pool. It computes what {@link dev.rnn4j.backend.reference.ReferenceBackend}
 * computes, in float arithmetic instead of double, with the activations of {@link FastMath};
 * the copies, fills, axpy, products, embedding lookups and dropout masks are bit for bit the
 * reference's.
 *
 * <p>Loops are written for the vectoriser: unit-stride inner loops over plain arrays, the
 * activations inlined, no branches other than min/max. The SRU recurrence walks time for a range
 * of columns per thread, keeping the running c of every (batch, column) in a scratch row.
 */
public final class CpuBackend extends HeapBackend {
    /** Below this many elements a pointwise loop stays on one thread. */
    private static final int MIN_CHUNK = 8192;

    private final GemmKernels.Choice kernels;

    CpuBackend(GemmKernels.Choice kernels) { this.kernels = kernels; }

    @Override public String name() { return "cpu"; }

    @Override
    public String description() {
        return "Java on the host CPU, " + Parallel.THREADS + " threads (one shared pool), GEMM by " + kernels.describe();
    }

    // ---------------------------------------------------------------- GEMM

    @Override
    public void gemm(Op.Gemm op) {
        boolean empty = op.m() == 0 || op.n() == 0 || op.batch() == 0;
        if (empty) return;
        float[] A = rd(op.a()), B = rd(op.b()), C = arr(op.c());
        boolean transA = op.transA(), transB = op.transB();
        int m = op.m(), n = op.n(), k = op.k(), lda = op.lda(), ldb = op.ldb(), ldc = op.ldc();
        int colsA = transA ? m : k, colsB = transB ? k : n;
        boolean plain = lda < Math.max(1, colsA) || ldb < Math.max(1, colsB) || ldc < Math.max(1, n);
        GemmKernels.Gemm g = kernels.gemm();
        if (!plain && op.batch() == 1 && packedProduct(op, A, C)) return;
        for (int p = 0; p < op.batch(); p++) {
            long ap = op.aOff() + p * op.strideA(), bp = op.bOff() + p * op.strideB(), cp = op.cOff() + p * op.strideC();
            if (plain) javaGemm(transA, transB, m, n, k, op.alpha(), A, ap, lda, B, bp, ldb, op.beta(), C, cp, ldc);
            else g.gemm(transA, transB, m, n, k, op.alpha(), A, idx(ap), lda, B, idx(bp), ldb, op.beta(), C, idx(cp), ldc);
        }
    }

    /**
     * x W^T on W transposed into the NN kernel's panels, cached on W's buffer
     * ({@link #packedWeights}): the same arithmetic as the NT kernel bit for bit. For one row of
     * x, always (packed in the call if need be): a product of one row streams all of W, which
     * packed reads 1.6 to 1.9 times faster than the dot kernel in place, and a row's result is
     * then the same whatever the batch. For more rows, once W is seen unchanged between calls (a
     * layer's weight in eval mode): the results are the NT kernel's either way. False when it
     * does not apply: the caller runs the kernels.
     */
    private boolean packedProduct(Op.Gemm op, float[] A, float[] C) {
        GemmKernels.PackedB pk = kernels.packed();
        if (pk == null || op.transA() || !op.transB() || op.k() == 0) return false;
        int n = op.n(), k = op.k(), bo = idx(op.bOff());
        // without the vector kernels (native kernels on the plain Java ones) every x W^T is packed
        // at once, so that a product's bits never depend on which kernel ran it
        float[] P = packedWeights(pk, op.b(), bo, op.ldb(), n, k, op.m() == 1 || kernels.recurrent() == null);
        if (P == null) return false;
        pk.productPacked(op.m(), n, k, op.alpha(), A, idx(op.aOff()), op.lda(), P, op.beta(), C, idx(op.cOff()), op.ldc());
        return true;
    }

    /**
     * W (n x k at wo in b, row stride ldw) transposed into the NN kernel's panels, cached on b until it is
     * written (HeapBackend.derived); null where not (yet) made: when not {@code eager}, the first
     * call after a write only notes b's state. Off with {@code -Drnn4j.cpu.packWeights=false}
     * (read at each call, for A/B measurements).
     */
    private float[] packedWeights(GemmKernels.PackedB r, DeviceBuffer b, int wo, int ldw, int n, int k, boolean eager) {
        if ("false".equals(System.getProperty("rnn4j.cpu.packWeights"))) return null;
        return derived(b, new Packed(r.layout(), wo, ldw, n, k), eager, w -> {
            try {
                return r.packTransposed(w, wo, ldw, n, k);
            } catch (OutOfMemoryError | ArithmeticException e) {
                return null;   // no room for the copy (or past an array's size): the kernels read W in place
            }
        });
    }

    /** The plain product, in order, for the shapes the kernels do not take (leading dimensions below the row length: rows overlap). */
    private static void javaGemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                 float[] A, long ap, int lda, float[] B, long bp, int ldb,
                                 float beta, float[] C, long cp, int ldc) {
        for (int i = 0; i < m; i++) {
            int crow = idx(cp + (long) i * ldc);
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int l = 0; l < k; l++) {
                    float av = transA ? A[idx(ap + (long) l * lda + i)] : A[idx(ap + (long) i * lda + l)];
                    float bv = transB ? B[idx(bp + (long) j * ldb + l)] : B[idx(bp + (long) l * ldb + j)];
                    s += av * bv;
                }
                C[crow + j] = beta == 0f ? alpha * s : alpha * s + beta * C[crow + j];
            }
        }
    }

    // ---------------------------------------------------------------- element-wise

    @Override
    public void axpy(Op.Axpy op) {
        float[] X = arr(op.x()), Y = arr(op.y());
        int xo = idx(op.xOff()), yo = idx(op.yOff()), len = idx(op.n());
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            // rounded once, as the reference does, so that axpy is bit for bit the reference's
            for (int i = from; i < to; i++) Y[yo + i] = (float) (Y[yo + i] + (double) op.alpha() * X[xo + i]);
        });
    }

    @Override
    public void adamStep(Op.AdamStep op) {
        float[] G = arr(op.g()), M = arr(op.m()), V = arr(op.v()), P = arr(op.p());
        int go = idx(op.gOff()), mo = idx(op.mOff()), vo = idx(op.vOff()), po = idx(op.pOff()), len = idx(op.n());
        float b1 = op.beta1(), b2 = op.beta2(), step = op.stepSize(), bc2 = op.bc2Sqrt(), eps = op.eps();
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) {   // the reference's float expression, so bit for bit the same
                float g = G[go + i];
                float m = b1 * M[mo + i] + (1f - b1) * g;
                float v = b2 * V[vo + i] + (1f - b2) * g * g;
                M[mo + i] = m;
                V[vo + i] = v;
                P[po + i] = P[po + i] - step * (m / ((float) Math.sqrt(v) / bc2 + eps));
            }
        });
    }

    @Override
    public void scale(Op.Scale op) {
        float[] X = arr(op.x());
        int o = idx(op.xOff()), len = idx(op.n());
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) X[o + i] *= op.alpha();
        });
    }

    @Override
    public void mul(Op.Mul op) {
        float[] A = arr(op.a()), B = arr(op.b()), O = arr(op.out());
        int ao = idx(op.aOff()), bo = idx(op.bOff()), oo = idx(op.outOff()), len = idx(op.n());
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) O[oo + i] = A[ao + i] * B[bo + i];
        });
    }

    @Override
    public void mulRows(Op.MulRows op) {
        long count = (long) op.rows() * op.cols();
        if (count == 0) return;
        float[] X = arr(op.x()), M = arr(op.m()), O = arr(op.out());
        int xo = idx(op.xOff()), mo = idx(op.mOff()), oo = idx(op.outOff());
        Parallel.forRange(op.rows(), Math.max(1, MIN_CHUNK / Math.max(1, op.cols())), (from, to) -> {
            for (int r = from; r < to; r++) {
                int base = r * op.cols();
                for (int j = 0; j < op.cols(); j++) O[oo + base + j] = X[xo + base + j] * M[mo + j];
            }
        });
    }

    @Override
    public void addRowVector(Op.AddRowVector op) {
        if (op.rows() == 0 || op.cols() == 0) return;
        float[] Bi = arr(op.bias()), C = arr(op.c());
        int bo = idx(op.biasOff());
        Parallel.forRange(op.rows(), Math.max(1, MIN_CHUNK / Math.max(1, op.cols())), (from, to) -> {
            for (int r = from; r < to; r++) {
                int row = idx(op.cOff() + (long) r * op.ldc());
                for (int j = 0; j < op.cols(); j++) C[row + j] += Bi[bo + j];
            }
        });
    }

    @Override
    public void sumRows(Op.SumRows op) {
        if (op.cols() == 0) return;
        float[] A = arr(op.a()), O = arr(op.out());
        int oo = idx(op.outOff());
        // Column ranges per thread; each thread walks the rows and adds whole row segments.
        Parallel.forRange(op.cols(), Math.max(16, MIN_CHUNK / Math.max(1, op.rows())), (from, to) -> {
            float[] acc = new float[to - from];
            for (int r = 0; r < op.rows(); r++) {
                int row = idx(op.aOff() + (long) r * op.lda()) + from;
                for (int j = 0; j < acc.length; j++) acc[j] += A[row + j];
            }
            for (int j = 0; j < acc.length; j++)
                O[oo + from + j] = op.beta() == 0f ? acc[j] : acc[j] + op.beta() * O[oo + from + j];
        });
    }

    @Override
    public double sumSquares(Op.SumSquares op) {
        float[] X = arr(op.x());
        int o = idx(op.off()), len = idx(op.n());
        double total = 0;
        // float partial sums of short blocks (vectorised), added up in double
        for (int start = 0; start < len; start += 1024) {
            int end = Math.min(len, start + 1024);
            float s = 0f;
            for (int i = start; i < end; i++) s += X[o + i] * X[o + i];
            total += s;
        }
        return total;
    }

    // ---------------------------------------------------------------- row scratch
    //
    // C2 (JDK 25) vectorises a loop only when it can rule out that a store overlaps a later load
    // of the same array type; with two arrays at different offsets (dst[do + i] = f(src[so + i]))
    // it cannot, and the loop runs scalar (a rational tanh then costs 6 ns instead of 0.8). So
    // every kernel copies the pieces of rows it works on into scratch rows (System.arraycopy),
    // computes with every array indexed by the same i, and copies the results out.

    /** Scratch rows of one parallel part: {@code count} rows of {@code width} floats. */
    private static float[][] scratch(int count, int width) { return new float[count][width]; }

    /**
     * Runs {@code body(b, j0, j1)} for the pieces of rows that the flat range [from, to) of a
     * (batch x hidden) block covers, so that parallel parts can split inside a row (B = 1).
     */
    @FunctionalInterface
    private interface RowPiece {
        void run(int b, int j0, int j1);
    }

    private static void rowPieces(int hidden, int from, int to, RowPiece body) {
        int e = from;
        while (e < to) {
            int b = e / hidden, j0 = e - b * hidden, j1 = Math.min(hidden, j0 + (to - e));
            body.run(b, j0, j1);
            e += j1 - j0;
        }
    }

    // ---------------------------------------------------------------- RNN

    @Override
    public void rnnPointwiseForward(Op.RnnPointwiseForward op) {
        float[] P = arr(op.pre()), H = arr(op.h());
        int po = idx(op.preOff()), ho = idx(op.hOff());
        Parallel.forRange(op.n(), MIN_CHUNK, (from, to) -> {
            float[] t = new float[Math.min(1024, to - from)];
            for (int i = from; i < to; i += t.length) {
                int len = Math.min(t.length, to - i);
                System.arraycopy(P, po + i, t, 0, len);
                switch (op.act()) {
                    case TANH -> FastMath.tanhInPlace(t, 0, len);
                    case RELU -> { for (int j = 0; j < len; j++) t[j] = t[j] > 0 ? t[j] : 0f; }
                    default -> { }
                }
                System.arraycopy(t, 0, H, ho + i, len);
            }
        });
    }

    @Override
    public void rnnPointwiseBackward(Op.RnnPointwiseBackward op) {
        float[] H = arr(op.h()), DH = arr(op.dh()), DP = arr(op.dpre());
        int ho = idx(op.hOff()), dho = idx(op.dhOff()), dpo = idx(op.dpreOff());
        Parallel.forRange(op.n(), MIN_CHUNK, (from, to) -> {
            switch (op.act()) {
                case TANH -> { for (int i = from; i < to; i++) { float y = H[ho + i]; DP[dpo + i] = DH[dho + i] * (1f - y * y); } }
                case RELU -> { for (int i = from; i < to; i++) DP[dpo + i] = H[ho + i] > 0 ? DH[dho + i] : 0f * DH[dho + i]; }
                default -> { for (int i = from; i < to; i++) DP[dpo + i] = DH[dho + i]; }
            }
        });
    }

    // ---------------------------------------------------------------- LSTM

    @Override
    public void lstmPointwiseForward(Op.LstmPointwiseForward op) {
        long ns = (long) op.batch() * op.hidden(), n4 = (long) 4 * ns;
        if (ns == 0) return;
        float[] G = arr(op.gates()), CP = arr(op.cPrev()), C = arr(op.c()), H = arr(op.h());
        int go = idx(op.gOff()), cpo = idx(op.cPrevOff()), co = idx(op.cOff()), ho = idx(op.hOff());
        int n = Math.multiplyExact(op.batch(), op.hidden());
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] s = scratch(6, Math.min(op.hidden(), to - from));
            rowPieces(op.hidden(), from, to, (b, j0, j1) -> lstmForwardRow(s, G, go + b * 4 * op.hidden() + j0, op.hidden(),
                    CP, cpo + b * op.hidden() + j0, C, co + b * op.hidden() + j0, H, ho + b * op.hidden() + j0, j1 - j0));
        });
    }

    /** One piece of a row: gates at gi (+ hidden per gate), cPrev, c and h at their offsets, w elements. */
    private static void lstmForwardRow(float[][] s, float[] G, int gi, int hidden, float[] CP, int cp, float[] C, int c,
                                       float[] H, int h, int w) {
        float[] i = s[0], f = s[1], g = s[2], o = s[3], cv = s[4], hv = s[5];
        System.arraycopy(G, gi, i, 0, w);
        System.arraycopy(G, gi + hidden, f, 0, w);
        System.arraycopy(G, gi + 2 * hidden, g, 0, w);
        System.arraycopy(G, gi + 3 * hidden, o, 0, w);
        System.arraycopy(CP, cp, cv, 0, w);
        FastMath.sigmoidInPlace(i, 0, w);
        FastMath.sigmoidInPlace(f, 0, w);
        FastMath.tanhInPlace(g, 0, w);
        FastMath.sigmoidInPlace(o, 0, w);
        for (int j = 0; j < w; j++) cv[j] = f[j] * cv[j] + i[j] * g[j];
        FastMath.tanhTo(cv, hv, w);
        for (int j = 0; j < w; j++) hv[j] *= o[j];
        System.arraycopy(i, 0, G, gi, w);
        System.arraycopy(f, 0, G, gi + hidden, w);
        System.arraycopy(g, 0, G, gi + 2 * hidden, w);
        System.arraycopy(o, 0, G, gi + 3 * hidden, w);
        System.arraycopy(cv, 0, C, c, w);
        System.arraycopy(hv, 0, H, h, w);
    }

    @Override
    public void lstmPointwiseBackward(Op.LstmPointwiseBackward op) {
        long ns = (long) op.batch() * op.hidden(), n4 = (long) 4 * ns;
        if (ns == 0) return;
        float[] G = arr(op.gates()), CP = arr(op.cPrev()), C = arr(op.c()), DH = arr(op.dh()), DG = arr(op.dGates()), DCP = arr(op.dcPrev());
        float[] DCN = op.dcNext() == null ? null : arr(op.dcNext());
        int go = idx(op.gOff()), cpo = idx(op.cPrevOff()), co = idx(op.cOff()), dho = idx(op.dhOff()), dgo = idx(op.dgOff()), dcpo = idx(op.dcPrevOff());
        int dcno = op.dcNext() == null ? 0 : idx(op.dcNextOff());
        int n = Math.multiplyExact(op.batch(), op.hidden());
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] s = scratch(12, Math.min(op.hidden(), to - from));
            rowPieces(op.hidden(), from, to, (b, j0, j1) -> {
                int e = b * op.hidden() + j0, w = j1 - j0;
                float[] i = s[0], f = s[1], g = s[2], o = s[3], cp = s[4], tc = s[5], dhv = s[6], dc = s[7];
                float[] di = s[8], df = s[9], dgg = s[10], dO = s[11];
                int gi = go + 4 * b * op.hidden() + j0, di0 = dgo + 4 * b * op.hidden() + j0;
                System.arraycopy(G, gi, i, 0, w);
                System.arraycopy(G, gi + op.hidden(), f, 0, w);
                System.arraycopy(G, gi + 2 * op.hidden(), g, 0, w);
                System.arraycopy(G, gi + 3 * op.hidden(), o, 0, w);
                System.arraycopy(CP, cpo + e, cp, 0, w);
                System.arraycopy(C, co + e, tc, 0, w);
                System.arraycopy(DH, dho + e, dhv, 0, w);
                if (DCN != null) System.arraycopy(DCN, dcno + e, dc, 0, w);
                else Arrays.fill(dc, 0, w, 0f);
                FastMath.tanhInPlace(tc, 0, w);
                for (int j = 0; j < w; j++) {
                    float t = tc[j], d = dhv[j], oo = o[j];
                    dc[j] += d * oo * (1f - t * t);
                    dO[j] = d * t * oo * (1f - oo);
                }
                for (int j = 0; j < w; j++) {
                    float d = dc[j], ii = i[j], ff = f[j], gg = g[j];
                    di[j] = d * gg * ii * (1f - ii);
                    df[j] = d * cp[j] * ff * (1f - ff);
                    dgg[j] = d * ii * (1f - gg * gg);
                    dc[j] = d * ff;
                }
                System.arraycopy(di, 0, DG, di0, w);
                System.arraycopy(df, 0, DG, di0 + op.hidden(), w);
                System.arraycopy(dgg, 0, DG, di0 + 2 * op.hidden(), w);
                System.arraycopy(dO, 0, DG, di0 + 3 * op.hidden(), w);
                System.arraycopy(dc, 0, DCP, dcpo + e, w);
            });
        });
    }

    // ---------------------------------------------------------------- GRU

    @Override
    public void gruPointwiseForward(Op.GruPointwiseForward op) {
        long ns = (long) op.batch() * op.hidden();
        long n3 = (long) 3 * ns, n4 = (long) 4 * ns;
        if (ns == 0) return;
        float[] GX = arr(op.gx()), GH = arr(op.gh()), HP = arr(op.hPrev()), H = arr(op.h()), S = arr(op.saved());
        int gxo = idx(op.gxOff()), gho = idx(op.ghOff()), hpo = idx(op.hPrevOff()), ho = idx(op.hOff()), so = idx(op.savedOff());
        float[] BH = op.biasHh() == null ? null : arr(op.biasHh());
        int bho = op.biasHh() == null ? 0 : idx(op.biasHhOff());
        int n = Math.multiplyExact(op.batch(), op.hidden());
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] sc = scratch(8, Math.min(op.hidden(), to - from));
            rowPieces(op.hidden(), from, to, (b, j0, j1) -> {
                int e = b * op.hidden() + j0, w = j1 - j0, xr = gxo + 3 * b * op.hidden() + j0, hr = gho + 3 * b * op.hidden() + j0;
                int sr = so + 4 * b * op.hidden() + j0;
                float[] r = sc[0], z = sc[1], nv = sc[2], ghn = sc[3], hr2 = sc[4], hz = sc[5], xn = sc[6], hp = sc[7];
                System.arraycopy(GX, xr, r, 0, w);
                System.arraycopy(GX, xr + op.hidden(), z, 0, w);
                System.arraycopy(GX, xr + 2 * op.hidden(), xn, 0, w);
                System.arraycopy(GH, hr, hr2, 0, w);
                System.arraycopy(GH, hr + op.hidden(), hz, 0, w);
                System.arraycopy(GH, hr + 2 * op.hidden(), ghn, 0, w);
                System.arraycopy(HP, hpo + e, hp, 0, w);
                if (BH != null) {
                    // gh + b_hh first, so saved gh_n is the biased value the backward step reads
                    int br = bho + j0;
                    for (int j = 0; j < w; j++) {
                        hr2[j] += BH[br + j];
                        hz[j] += BH[br + op.hidden() + j];
                        ghn[j] += BH[br + 2 * op.hidden() + j];
                    }
                }
                for (int j = 0; j < w; j++) {
                    r[j] += hr2[j];
                    z[j] += hz[j];
                }
                FastMath.sigmoidInPlace(r, 0, w);
                FastMath.sigmoidInPlace(z, 0, w);
                for (int j = 0; j < w; j++) nv[j] = xn[j] + r[j] * ghn[j];
                FastMath.tanhInPlace(nv, 0, w);
                for (int j = 0; j < w; j++) hp[j] = (1f - z[j]) * nv[j] + z[j] * hp[j];
                System.arraycopy(hp, 0, H, ho + e, w);
                System.arraycopy(r, 0, S, sr, w);
                System.arraycopy(z, 0, S, sr + op.hidden(), w);
                System.arraycopy(nv, 0, S, sr + 2 * op.hidden(), w);
                System.arraycopy(ghn, 0, S, sr + 3 * op.hidden(), w);
            });
        });
    }

    // ---------------------------------------------------------------- whole recurrence

    /**
     * The system property {@code rnn4j.cpu.recurrence=steps} declares {@link Op.RecurrentForward}
     * unsupported, so that the layers run their per-step ops (read at each call, for A/B
     * measurements in one JVM).
     */
    @Override
    public boolean supports(Class<? extends Op<?>> opType) {
        return opType != Op.RecurrentForward.class || !"steps".equals(System.getProperty("rnn4j.cpu.recurrence"));
    }

    /**
     * W_hh of at most this many floats is packed per call for the steps' products; a larger one
     * is read in place by the NT kernel at every step. Measured (one thread, CPU time, 32-row
     * steps): packed 0.11 against 0.16 ms per step at 1024 x 256, 0.45 against 0.57 at 2048 x 512,
     * but no faster at 3640 x 910 (1.8 to 2.1 against 1.6 to 2.1 ms), where packing costs 3 to 4 ms
     * per call: the step there is bound by streaming 13 MB of W_hh, however laid out.
     */
    private static final long PACK_MAX_FLOATS = 1L << 21;

    /**
     * Steps from which a call packs W_hh ({@link #packedWeights}) even when W_hh was written since
     * the last call (training): packing costs about as much as 10 to 20 steps read in place
     * (2.5 ms against 0.14 to 0.26 ms per step at 3640 x 910 and batch 1, 2 threads), the packed
     * steps are 1.6 to 1.9 times faster there.
     */
    private static final int PACK_STEPS = 32;

    /** What a weight buffer's cached packing was made from: the layout and the matrix's place, row stride and shape. */
    private record Packed(String layout, int offset, int stride, int rows, int cols) {}

    /** {@link #PACK_MAX_FLOATS}, or the system property {@code rnn4j.cpu.packMax} (read at each call, for A/B measurements). */
    private static long packMax() { return Long.getLong("rnn4j.cpu.packMax", PACK_MAX_FLOATS); }

    /**
     * The op's per-step sequence (see {@link Op.RecurrentForward}) on this backend's kernels.
     * With the vector kernels: each step's product by the NT kernel, on W_hh packed once per call
     * ({@link VectorRecurrence}) when W_hh has at most {@link #packMax()} floats and some step at
     * least 2 rows, else in place (at batch 1 the dot kernel); then the LSTM's and GRU's
     * pointwise step on explicit vectors ({@link GemmKernels.Recurrent#lstmPointwise}), the same
     * arithmetic as this backend's pointwise ops. With the native kernels, an LSTM's or GRU's
     * step is instead one fused native step per part of the hidden units ({@link NativeCells}:
     * the same bits; {@code -Drnn4j.cpu.native.steps=false} turns only that off). Without the
     * vector kernels: {@link Op.RecurrentForward#runPerStep}.
     */
    @Override
    public void recurrentForward(Op.RecurrentForward op) {
        GemmKernels.Recurrent r = kernels.recurrent();
        int T = op.steps(), H = op.hidden(), B = op.batch();
        if (r == null || H == 0 || B == 0) {
            op.runPerStep(this);
            return;
        }
        int most = mostRows(op);
        int gh = op.cell().gates() * H;
        float[] W = rd(op.whh(), "whh"), HS = arr(op.h());
        int who = idx(op.whhOff());
        boolean matrix = op.cell().recurrentWeightSize(H) == (long) gh * H;
        GemmKernels.PackedB pk = kernels.packed();   // the Java kernels' NN panels or the native ones
        // with the native kernels, an LSTM's or GRU's step (its product, then its pointwise op on
        // that product) runs as one native step (fuseNative) on W_hh packed by unit blocks; the
        // products' copies are then made only if some product does not fuse (a buffer caches one
        // copy: both would evict each other at every call)
        NativeCells nc = matrix && pk instanceof NativeGemm ng && (op.cell().gates() == 4 || op.cell().gates() == 3)
                && !"false".equals(System.getProperty("rnn4j.cpu.native.steps")) ? ng.cells() : null;
        PendingProduct pending = nc == null ? null : new PendingProduct();
        float[][] prep = nc == null ? stepWeights(op, r, pk, W, most) : null;
        GemmKernels.Gemm g = kernels.gemm();
        GemmKernels.Recurrent.Product plain = new GemmKernels.Recurrent.Product() {
            float[][] w = prep;

            @Override
            public void run(int n, int ph, float beta, float[] O, int oo, int ld) {
                if (w == null) w = stepWeights(op, r, pk, W, most);
                float[] tw = w[0], packed = w[1];
                if (tw != null) pk.productPacked(n, gh, H, 1f, HS, ph, H, tw, beta, O, oo, ld);
                else if (packed != null) r.product(packed, gh, H, HS, ph, H, n, beta, O, oo, ld);
                else g.gemm(false, true, n, gh, H, 1f, HS, ph, H, W, who, H, beta, O, oo, ld);
            }
        };
        // the cell's step: its product on W_hh as prepared above, its pointwise ops on explicit
        // vectors where this backend has them (the LSTM's and the GRU's), else on the ops' own kernels
        op.runPerStep(this, (n, hb, prevH, beta, out, outOff, ld) -> {
            if (pending != null) {
                pending.flush(plain);
                pending.set(n, hb, idx(prevH), beta, out, idx(outOff), ld);
                return;
            }
            plain.run(n, idx(prevH), beta, arr(out), idx(outOff), ld);
        }, pw -> {
            if (pending != null && fuseNative(nc, op, pending, pw)) return;
            if (pending != null) pending.flush(plain);
            if (pw instanceof Op.LstmPointwiseForward l && l.cPrev() == l.c())
                r.lstmPointwise(l.batch(), l.hidden(), arr(l.gates()), idx(l.gOff()), arr(l.c()), idx(l.cPrevOff()),
                        idx(l.cOff()), arr(l.h()), idx(l.hOff()));
            else if (pw instanceof Op.GruPointwiseForward u && u.hPrev() == u.h())
                r.gruPointwise(u.batch(), u.hidden(), arr(u.gx()), idx(u.gxOff()), arr(u.gh()), idx(u.ghOff()),
                        u.biasHh() == null ? null : arr(u.biasHh()), u.biasHh() == null ? 0 : idx(u.biasHhOff()),
                        arr(u.h()), idx(u.hPrevOff()), idx(u.hOff()), arr(u.saved()), idx(u.savedOff()));
            else pw.runOn(this);
        });
        if (pending != null) pending.flush(plain);
    }

    /**
     * The steps' product weights {tw, packed} for a call: W_hh transposed into the packed
     * product's panels (NN or native), cached on its buffer until it is written: packed in this
     * call at batch 1 (as packedProduct) or when the call has enough steps to repay it, else once
     * a later call finds W_hh unchanged (packedWeights); without it the NT panels packed for this
     * call where W_hh is small enough (-Drnn4j.cpu.recurrence.pack=panels: always those), else
     * neither (read in place). A cell whose W_hh is no (G*H, H) matrix makes no product: nothing
     * to prepare.
     */
    private static int mostRows(Op.RecurrentForward op) {
        int most = 0;
        for (int t = 0; t < op.steps(); t++) most = Math.max(most, op.rows(t));
        return most;
    }

    private float[][] stepWeights(Op.RecurrentForward op, GemmKernels.Recurrent r, GemmKernels.PackedB pk, float[] W, int most) {
        int H = op.hidden(), gh = op.cell().gates() * H, who = idx(op.whhOff());
        boolean matrix = op.cell().recurrentWeightSize(H) == (long) gh * H;
        boolean panels = "panels".equals(System.getProperty("rnn4j.cpu.recurrence.pack"));
        float[] tw = panels || !matrix ? null : packedWeights(pk, op.whh(), who, H, gh, H, most == 1 || op.steps() >= PACK_STEPS);
        float[] packed = matrix && tw == null && most >= 2 && (long) gh * H <= packMax() ? r.pack(W, who, gh, H) : null;
        return new float[][] {tw, packed};
    }

    /**
     * A step's recurrent product held back until the next op of the step shows whether it fuses
     * with it ({@link #fuseNative}); any other op first runs it as it is ({@link #flush}).
     */
    private final class PendingProduct {
        boolean set;
        int n, ph, oo, ld;
        float beta;
        DeviceBuffer h, out;

        void set(int n, DeviceBuffer h, int ph, float beta, DeviceBuffer out, int oo, int ld) {
            this.set = true;
            this.n = n;
            this.h = h;
            this.ph = ph;
            this.beta = beta;
            this.out = out;
            this.oo = oo;
            this.ld = ld;
        }

        void flush(GemmKernels.Recurrent.Product p) {
            if (!set) return;
            set = false;
            p.run(n, ph, beta, arr(out), oo, ld);
        }
    }

    /**
     * Runs the held-back product and {@code pw} as one native step where {@code pw} is the LSTM's
     * pointwise op on that product (beta 1 onto the gates) or the GRU's (beta 0 into its gh), with
     * h_{t-1} (and c_{t-1}) in slots apart from what the step writes: W_hh then packed by unit
     * blocks (cached on its buffer as the products' copies are). False where it does not apply.
     */
    private boolean fuseNative(NativeCells nc, Op.RecurrentForward op, PendingProduct p, Op<?> pw) {
        if (!p.set) return false;
        int H = op.hidden(), n = p.n;
        long span = (long) n * H;
        if (pw instanceof Op.LstmPointwiseForward l && l.cPrev() == l.c() && l.h() == p.h && l.gates() == p.out
                && p.beta == 1f && p.ld == 4 * H && l.batch() == n && l.hidden() == H && idx(l.gOff()) == p.oo
                && Math.abs(idx(l.hOff()) - (long) p.ph) >= span && Math.abs(l.cOff() - l.cPrevOff()) >= span) {
            float[] P = cellWeights(nc, op, 4);
            if (P == null) return false;
            p.set = false;
            nc.lstmStep(n, H, P, arr(p.h), p.ph, arr(l.gates()), p.oo, arr(l.c()), idx(l.cPrevOff()), idx(l.cOff()), idx(l.hOff()));
            return true;
        }
        if (pw instanceof Op.GruPointwiseForward u && u.hPrev() == u.h() && u.h() == p.h && u.gh() == p.out && p.beta == 0f
                && p.ld == 3 * H && u.batch() == n && u.hidden() == H && idx(u.ghOff()) == p.oo && idx(u.hPrevOff()) == p.ph
                && Math.abs(idx(u.hOff()) - (long) p.ph) >= span) {
            float[] P = cellWeights(nc, op, 3);
            if (P == null) return false;
            p.set = false;
            nc.gruStep(n, H, P, arr(p.h), p.ph, arr(u.gx()), idx(u.gxOff()), u.biasHh() == null ? null : arr(u.biasHh()),
                    u.biasHh() == null ? 0 : idx(u.biasHhOff()), arr(u.saved()), idx(u.savedOff()), idx(u.hOff()));
            return true;
        }
        return false;
    }

    /** W_hh packed for the fused native steps of a cell of {@code gates} gates, cached on its buffer; null where there is no room. */
    private float[] cellWeights(NativeCells nc, Op.RecurrentForward op, int gates) {
        int H = op.hidden(), who = idx(op.whhOff());
        if (op.cell().gates() != gates) return null;
        return derived(op.whh(), new Packed(NativeCells.layout(gates), who, H, gates * H, H), true, w -> {
            try {
                return nc.pack(w, who, gates, H);
            } catch (OutOfMemoryError | ArithmeticException e) {
                return null;
            }
        });
    }

    @Override
    public void gruPointwiseBackward(Op.GruPointwiseBackward op) {
        long ns = (long) op.batch() * op.hidden();
        long n3 = (long) 3 * ns, n4 = (long) 4 * ns;
        if (ns == 0) return;
        float[] S = arr(op.saved()), HP = arr(op.hPrev()), DH = arr(op.dh()), DGX = arr(op.dgx()), DGH = arr(op.dgh()), DHP = arr(op.dhPrevPartial());
        int so = idx(op.savedOff()), hpo = idx(op.hPrevOff()), dho = idx(op.dhOff()), dgxo = idx(op.dgxOff()), dgho = idx(op.dghOff()), dhpo = idx(op.dhpOff());
        int n = Math.multiplyExact(op.batch(), op.hidden());
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] sc = scratch(10, Math.min(op.hidden(), to - from));
            rowPieces(op.hidden(), from, to, (b, j0, j1) -> {
                int e = b * op.hidden() + j0, w = j1 - j0, sr = so + 4 * b * op.hidden() + j0;
                int xr = dgxo + 3 * b * op.hidden() + j0, hr = dgho + 3 * b * op.hidden() + j0;
                float[] r = sc[0], z = sc[1], nv = sc[2], ghn = sc[3], hp = sc[4], d = sc[5];
                float[] dr = sc[6], dz = sc[7], dn = sc[8], dnr = sc[9];
                System.arraycopy(S, sr, r, 0, w);
                System.arraycopy(S, sr + op.hidden(), z, 0, w);
                System.arraycopy(S, sr + 2 * op.hidden(), nv, 0, w);
                System.arraycopy(S, sr + 3 * op.hidden(), ghn, 0, w);
                System.arraycopy(HP, hpo + e, hp, 0, w);
                System.arraycopy(DH, dho + e, d, 0, w);
                for (int j = 0; j < w; j++) {
                    float dd = d[j], zz = z[j], nn = nv[j], rr = r[j];
                    float dnv = dd * (1f - zz) * (1f - nn * nn);
                    dn[j] = dnv;
                    dz[j] = dd * (hp[j] - nn) * zz * (1f - zz);
                    dr[j] = dnv * ghn[j] * rr * (1f - rr);
                    dnr[j] = dnv * rr;
                    hp[j] = dd * zz;
                }
                System.arraycopy(dr, 0, DGX, xr, w);
                System.arraycopy(dz, 0, DGX, xr + op.hidden(), w);
                System.arraycopy(dn, 0, DGX, xr + 2 * op.hidden(), w);
                System.arraycopy(dr, 0, DGH, hr, w);
                System.arraycopy(dz, 0, DGH, hr + op.hidden(), w);
                System.arraycopy(dnr, 0, DGH, hr + 2 * op.hidden(), w);
                System.arraycopy(hp, 0, DHP, dhpo + e, w);
            });
        });
    }

    // ---------------------------------------------------------------- SRU (v1 and 2.x)

    /** The per-column 2.x extras of one SRU call, resolved to arrays (see Op.SruOptions). */
    private record SruExtras(float[] wf, float[] wr, float scale, boolean skip, boolean maskOnGate, int[] len) {
        static SruExtras of(Op.SruOptions o, float[] WC, int wco, int ncols, int lo, int hi, int T, int B) {
            float[] wf = null, wr = null;
            if (WC != null) {
                wf = Arrays.copyOfRange(WC, wco + lo, wco + hi);
                wr = Arrays.copyOfRange(WC, wco + ncols + lo, wco + ncols + hi);
            }
            int[] len = new int[B];
            for (int b = 0; b < B; b++) len[b] = o.length(b, T);
            return new SruExtras(wf, wr, o.scale(), o.hasSkip(), o.maskOnGate(), len);
        }
    }

    @Override
    public void sruForward(Op.SruForward op) {
        SruArrays a = sruArrays(op);
        if (a == null) return;
        Op.SruShape sh = op.shape();
        int seqLen = sh.seqLen(), batch = sh.batch(), hidden = sh.hidden(), dirs = sh.dirs(), k = sh.k(), ncols = sh.ncols();
        Activation act = sh.act();
        Op.SruOptions o = op.options();
        float[] U = a.u(), X = a.x(), BI = a.bias(), C0 = a.c0(), M = a.mask(), WC = a.weightC(), H = a.h(), C = a.c(), CL = a.cLast();
        int uo = idx(op.uOff()), xo = X != null ? idx(op.xOff()) : 0, bo = idx(op.biasOff()), c0o = op.c0() == null ? 0 : idx(op.c0Off());
        int mo = M == null ? 0 : idx(op.maskOff()), ho = idx(op.hOff()), co = idx(op.cOff()), clo = idx(op.cLastOff());
        int wco = WC == null ? 0 : idx(o.weightCOff());
        idx((long) seqLen * batch * ncols * k);
        // Parallel over columns; each part walks time for its columns, in both directions' order.
        Parallel.forRange(ncols, 64, (from, to) -> {
            for (int dir = 0; dir < dirs; dir++) {
                int lo = Math.max(from, dir * hidden), hi = Math.min(to, (dir + 1) * hidden);
                if (lo >= hi) continue;
                SruExtras ex = SruExtras.of(o, WC, wco, ncols, lo, hi, seqLen, batch);
                sruForwardColumns(seqLen, batch, ncols, k, act, dir == 1, lo, hi, U, uo, X, xo, BI, bo, C0, c0o, M, mo,
                        H, ho, C, co, CL, clo, ex);
            }
        });
    }

    /** Per-(batch row) state rows of [lo, hi) columns: c or c0, the mask, copied out of their (B, ncols) tensors. */
    private static float[][] columnRows(int B, int ncols, int lo, int w, float[] src, int off, float fill) {
        float[][] rows = new float[B][w];
        for (int b = 0; b < B; b++) {
            if (src != null) System.arraycopy(src, off + b * ncols + lo, rows[b], 0, w);
            else if (fill != 0f) Arrays.fill(rows[b], fill);
        }
        return rows;
    }

    /**
     * The SRU forward walk for columns [lo, hi) of one direction. Per (t, b) row the strided U
     * values are first gathered into contiguous scratch rows (the only scalar loop), then each
     * activation runs in a loop of its own over same-indexed rows, so that the JIT vectorises it.
     */
    private static void sruForwardColumns(int T, int B, int ncols, int k, Activation act, boolean reverse, int lo, int hi,
                                          float[] U, int uo, float[] X, int xo, float[] BI, int bo, float[] C0, int c0o,
                                          float[] M, int mo, float[] H, int ho, float[] C, int co, float[] CL, int clo,
                                          SruExtras ex) {
        int w = hi - lo;
        float[][] cur = columnRows(B, ncols, lo, w, C0, c0o, 0f);
        float[][] mask = M == null ? null : columnRows(B, ncols, lo, w, M, mo, 1f);
        float[] bf = Arrays.copyOfRange(BI, bo + lo, bo + hi), br = Arrays.copyOfRange(BI, bo + ncols + lo, bo + ncols + hi);
        float[] u0 = new float[w], f = new float[w], r = new float[w], xh = new float[w], g = new float[w];
        float scale = ex.scale();
        for (int s = 0; s < T; s++) {
            int t = reverse ? T - 1 - s : s;
            for (int b = 0; b < B; b++) {
                int e = (t * B + b) * ncols + lo;      // first element of this (t, b) row's column range
                float[] cb = cur[b];
                if (t >= ex.len()[b]) {                // mask_pad: c frozen, h zero
                    System.arraycopy(cb, 0, C, co + e, w);
                    Arrays.fill(H, ho + e, ho + e + w, 0f);
                    continue;
                }
                int ub = uo + e * k;
                for (int j = 0; j < w; j++) {
                    int uj = ub + j * k;
                    u0[j] = U[uj];
                    f[j] = U[uj + 1];
                    r[j] = U[uj + 2];
                }
                if (ex.wf() != null) {
                    float[] wf = ex.wf(), wr = ex.wr();
                    for (int j = 0; j < w; j++) {
                        f[j] += wf[j] * cb[j];
                        r[j] += wr[j] * cb[j];
                    }
                }
                if (!ex.skip()) Arrays.fill(xh, 0f);
                else if (k == 3) {
                    System.arraycopy(X, xo + e, xh, 0, w);
                    if (scale != 1f) for (int j = 0; j < w; j++) xh[j] *= scale;
                } else for (int j = 0; j < w; j++) xh[j] = U[ub + j * k + 3];
                FastMath.sigmoidPlus(f, bf, w);
                FastMath.sigmoidPlus(r, br, w);
                for (int j = 0; j < w; j++) cb[j] = f[j] * cb[j] + (1f - f[j]) * u0[j];
                System.arraycopy(cb, 0, C, co + e, w);
                activation(act, cb, g, w);
                if (ex.maskOnGate()) {
                    // 2.x: h = x' + (g - x') * m * r
                    if (mask != null) { float[] mb = mask[b]; for (int j = 0; j < w; j++) r[j] *= mb[j]; }
                    for (int j = 0; j < w; j++) g[j] = xh[j] + (g[j] - xh[j]) * r[j];
                } else {
                    if (mask != null) {
                        float[] mb = mask[b];
                        for (int j = 0; j < w; j++) g[j] *= mb[j];
                    }
                    for (int j = 0; j < w; j++) g[j] = r[j] * g[j] + (1f - r[j]) * xh[j];
                }
                System.arraycopy(g, 0, H, ho + e, w);
            }
        }
        for (int b = 0; b < B; b++) System.arraycopy(cur[b], 0, CL, clo + b * ncols + lo, w);
    }

    /** out[i] = act(src[i]) for i in [0, n). */
    private static void activation(Activation act, float[] src, float[] out, int n) {
        switch (act) {
            case TANH -> FastMath.tanhTo(src, out, n);
            case RELU -> { for (int i = 0; i < n; i++) out[i] = src[i] > 0 ? src[i] : 0f; }
            default -> System.arraycopy(src, 0, out, 0, n);
        }
    }

    @Override
    public void sruBackward(Op.SruBackward op) {
        SruArrays arrays = sruArrays(op);
        if (arrays == null) return;
        Op.SruShape sh = op.shape();
        int seqLen = sh.seqLen(), batch = sh.batch(), hidden = sh.hidden(), dirs = sh.dirs(), k = sh.k(), ncols = sh.ncols();
        Activation act = sh.act();
        Op.SruOptions o = op.options();
        float[] U = arrays.u(), X = arrays.x(), BI = arrays.bias(), C0 = arrays.c0(), M = arrays.mask(), WC = arrays.weightC();
        float[] C = arrays.c(), DH = arrays.dh(), DCL = arrays.dcLast(), DU = arrays.du(), DX = arrays.dx(), DB = arrays.dBias();
        float[] DC0 = arrays.dc0(), DWC = arrays.dWeightC();
        int wco = WC == null ? 0 : idx(o.weightCOff()), dwco = WC == null ? 0 : idx(op.dWeightCOff());
        Sru a = new Sru(seqLen, batch, ncols, k, act, U, idx(op.uOff()), X, X != null ? idx(op.xOff()) : 0, BI, idx(op.biasOff()),
                C0, C0 == null ? 0 : idx(op.c0Off()), M, M == null ? 0 : idx(op.maskOff()), C, idx(op.cOff()), DH, idx(op.dhOff()),
                DCL, DCL == null ? 0 : idx(op.dcLastOff()), DU, idx(op.duOff()), DX, DX == null ? 0 : idx(op.dxOff()),
                DB, idx(op.dBiasOff()), DC0, idx(op.dc0Off()), DWC, dwco);
        idx((long) seqLen * batch * ncols * k);
        Parallel.forRange(ncols, 64, (from, to) -> {
            for (int dir = 0; dir < dirs; dir++) {
                int lo = Math.max(from, dir * hidden), hi = Math.min(to, (dir + 1) * hidden);
                if (lo < hi) a.backwardColumns(dir == 1, lo, hi, SruExtras.of(o, WC, wco, ncols, lo, hi, seqLen, batch));
            }
        });
    }

    /** The arrays and offsets of one SRU backward call. */
    private record Sru(int T, int B, int ncols, int k, Activation act, float[] U, int uo, float[] X, int xo,
                       float[] BI, int bo, float[] C0, int c0o, float[] M, int mo, float[] C, int co,
                       float[] DH, int dho, float[] DCL, int dclo, float[] DU, int duo, float[] DX, int dxo,
                       float[] DB, int dbo, float[] DC0, int dc0o, float[] DWC, int dwco) {

        void backwardColumns(boolean reverse, int lo, int hi, SruExtras ex) {
            int w = hi - lo;
            float[][] gc = columnRows(B, ncols, lo, w, DCL, dclo, 0f);
            float[][] init = columnRows(B, ncols, lo, w, C0, c0o, 0f);
            float[][] mask = columnRows(B, ncols, lo, w, M, mo, 1f);
            float[][] dbf = new float[B][w], dbr = new float[B][w], dwf = new float[B][w], dwr = new float[B][w];
            float[] bf = Arrays.copyOfRange(BI, bo + lo, bo + hi), br = Arrays.copyOfRange(BI, bo + ncols + lo, bo + ncols + hi);
            float[] wf = ex.wf() == null ? new float[w] : ex.wf(), wr = ex.wr() == null ? new float[w] : ex.wr();
            float[] u0 = new float[w], f = new float[w], r = new float[w], xh = new float[w], g = new float[w], ga = new float[w];
            float[] cur = new float[w], cPrev = new float[w], gh = new float[w];
            float[] dU0 = new float[w], dF = new float[w], dR = new float[w], dX = new float[w];
            boolean skip = ex.skip(), gateMask = ex.maskOnGate(), peep = ex.wf() != null;
            float scale = ex.scale();
            for (int s = T - 1; s >= 0; s--) {
                int t = reverse ? T - 1 - s : s;
                int tp = reverse ? t + 1 : t - 1;       // the step forward visited before t
                for (int b = 0; b < B; b++) {
                    int e = (t * B + b) * ncols + lo, ep = (tp * B + b) * ncols + lo;
                    int ub = uo + e * k, db = duo + e * k;
                    if (t >= ex.len()[b]) {             // padded: c_t = c_{t-1}, the c gradient passes through
                        Arrays.fill(DU, db, db + w * k, 0f);
                        if (skip && k == 3) Arrays.fill(DX, dxo + e, dxo + e + w, 0f);
                        continue;
                    }
                    for (int j = 0; j < w; j++) {
                        int uj = ub + j * k;
                        u0[j] = U[uj];
                        f[j] = U[uj + 1];
                        r[j] = U[uj + 2];
                    }
                    if (!skip) Arrays.fill(xh, 0f);
                    else if (k == 3) {
                        System.arraycopy(X, xo + e, xh, 0, w);
                        if (scale != 1f) for (int j = 0; j < w; j++) xh[j] *= scale;
                    } else for (int j = 0; j < w; j++) xh[j] = U[ub + j * k + 3];
                    if (s == 0) System.arraycopy(init[b], 0, cPrev, 0, w);
                    else System.arraycopy(C, co + ep, cPrev, 0, w);
                    System.arraycopy(C, co + e, cur, 0, w);
                    System.arraycopy(DH, dho + e, gh, 0, w);
                    if (peep) for (int j = 0; j < w; j++) {
                        f[j] += wf[j] * cPrev[j];
                        r[j] += wr[j] * cPrev[j];
                    }
                    FastMath.sigmoidPlus(f, bf, w);
                    FastMath.sigmoidPlus(r, br, w);
                    // g = act(c), ga = act'(c)
                    switch (act) {
                        case TANH -> {
                            FastMath.tanhTo(cur, g, w);
                            for (int j = 0; j < w; j++) ga[j] = 1f - g[j] * g[j];
                        }
                        case RELU -> {
                            for (int j = 0; j < w; j++) {
                                g[j] = cur[j] > 0 ? cur[j] : 0f;
                                ga[j] = cur[j] > 0 ? 1f : 0f;
                            }
                        }
                        default -> {
                            System.arraycopy(cur, 0, g, 0, w);
                            Arrays.fill(ga, 1f);
                        }
                    }
                    float[] gcb = gc[b], mb = mask[b], dbfb = dbf[b], dbrb = dbr[b], dwfb = dwf[b], dwrb = dwr[b];
                    for (int j = 0; j < w; j++) {
                        float ghj = gh[j], m = mb[j], rr = r[j], ff = f[j];
                        float xm = gateMask ? xh[j] * m : xh[j];
                        float drPre = ghj * (g[j] * m - xm) * rr * (1f - rr);
                        float dc = ghj * rr * m * ga[j] + gcb[j];
                        float dfPre = dc * (cPrev[j] - u0[j]) * ff * (1f - ff);
                        dU0[j] = dc * (1f - ff);
                        dF[j] = dfPre;
                        dR[j] = drPre;
                        dX[j] = skip ? ghj * (1f - (gateMask ? rr * m : rr)) : 0f;
                        dbfb[j] += dfPre;
                        dbrb[j] += drPre;
                        dwfb[j] += dfPre * cPrev[j];
                        dwrb[j] += drPre * cPrev[j];
                        gcb[j] = dc * ff + dfPre * wf[j] + drPre * wr[j];
                    }
                    for (int j = 0; j < w; j++) {
                        int dj = db + j * k;
                        DU[dj] = dU0[j];
                        DU[dj + 1] = dF[j];
                        DU[dj + 2] = dR[j];
                    }
                    if (k == 4) for (int j = 0; j < w; j++) DU[db + j * k + 3] = dX[j];
                    else if (skip) {
                        if (scale != 1f) for (int j = 0; j < w; j++) dX[j] *= scale;
                        System.arraycopy(dX, 0, DX, dxo + e, w);
                    }
                }
            }
            for (int b = 0; b < B; b++) {
                System.arraycopy(gc[b], 0, DC0, dc0o + b * ncols + lo, w);
                System.arraycopy(dbf[b], 0, DB, dbo + b * 2 * ncols + lo, w);
                System.arraycopy(dbr[b], 0, DB, dbo + b * 2 * ncols + ncols + lo, w);
                if (DWC != null) {
                    System.arraycopy(dwf[b], 0, DWC, dwco + b * 2 * ncols + lo, w);
                    System.arraycopy(dwr[b], 0, DWC, dwco + b * 2 * ncols + ncols + lo, w);
                }
            }
        }
    }

    // ---------------------------------------------------------------- layer norm

    @Override
    public void layerNormForward(Op.LayerNormForward op) {
        if (op.cols() == 0) return;     // no row has statistics
        float[] X = arr(op.x()), Y = arr(op.y()), S = arr(op.stats());
        float[] G = op.gamma() == null ? null : arr(op.gamma()), BE = op.beta() == null ? null : arr(op.beta());
        int n = op.cols(), xo = idx(op.xOff()), yo = idx(op.yOff()), so = idx(op.statsOff());
        int go = G == null ? 0 : idx(op.gammaOff()), beo = BE == null ? 0 : idx(op.betaOff());
        idx((long) op.rows() * n);
        Parallel.forRange(op.rows(), Math.max(1, 4096 / Math.max(1, n)), (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = xo + i * n, out = yo + i * n;
                float sum = 0;
                for (int j = 0; j < n; j++) sum += X[row + j];
                float mean = sum / n, var = 0;
                for (int j = 0; j < n; j++) { float dv = X[row + j] - mean; var += dv * dv; }
                float rstd = (float) (1.0 / Math.sqrt(var / n + op.eps()));
                for (int j = 0; j < n; j++) {
                    float v = (X[row + j] - mean) * rstd;
                    if (G != null) v *= G[go + j];
                    if (BE != null) v += BE[beo + j];
                    Y[out + j] = v;
                }
                S[so + 2 * i] = mean;
                S[so + 2 * i + 1] = rstd;
            }
        });
    }

    @Override
    public void layerNormBackward(Op.LayerNormBackward op) {
        if (op.cols() == 0) return;
        float[] X = arr(op.x()), S = arr(op.stats()), DY = arr(op.dy()), DX = arr(op.dx());
        float[] G = op.gamma() == null ? null : arr(op.gamma());
        int n = op.cols(), rows = op.rows(), xo = idx(op.xOff()), so = idx(op.statsOff()), dyo = idx(op.dyOff()), dxo = idx(op.dxOff());
        int go = G == null ? 0 : idx(op.gammaOff());
        idx((long) rows * n);
        // Parameter gradients first: dx may alias dy.
        if (op.dGamma() != null || op.dBeta() != null) {
            float[] dg = new float[n], db = new float[n];
            for (int i = 0; i < rows; i++) {
                int row = xo + i * n, dyr = dyo + i * n;
                float mean = S[so + 2 * i], rstd = S[so + 2 * i + 1];
                for (int j = 0; j < n; j++) {
                    float dy = DY[dyr + j];
                    dg[j] += dy * (X[row + j] - mean) * rstd;
                    db[j] += dy;
                }
            }
            if (op.dGamma() != null) System.arraycopy(dg, 0, arr(op.dGamma()), idx(op.dGammaOff()), n);
            if (op.dBeta() != null) System.arraycopy(db, 0, arr(op.dBeta()), idx(op.dBetaOff()), n);
        }
        Parallel.forRange(rows, Math.max(1, 4096 / Math.max(1, n)), (from, to) -> {
            float[] dxh = new float[n], xhat = new float[n];
            for (int i = from; i < to; i++) {
                int row = xo + i * n, dyr = dyo + i * n, dxr = dxo + i * n;
                float mean = S[so + 2 * i], rstd = S[so + 2 * i + 1];
                float m1 = 0, m2 = 0;
                for (int j = 0; j < n; j++) {
                    xhat[j] = (X[row + j] - mean) * rstd;
                    dxh[j] = DY[dyr + j] * (G == null ? 1f : G[go + j]);
                    m1 += dxh[j];
                    m2 += dxh[j] * xhat[j];
                }
                m1 /= n;
                m2 /= n;
                for (int j = 0; j < n; j++) DX[dxr + j] = rstd * (dxh[j] - m1 - xhat[j] * m2);
            }
        });
    }

    // ---------------------------------------------------------------- language model

    @Override
    public void embeddingForward(Op.EmbeddingForward op) {
        float[] W = rd(op.weight()), O = arr(op.out());   // a tied weight keeps its packed copy (derived)
        for (int i = 0; i < op.n(); i++) {
            long row = (long) op.ids()[op.idsOff() + i] * op.dim();
            System.arraycopy(W, idx(op.wOff() + row), O, idx(op.outOff() + (long) i * op.dim()), op.dim());
        }
    }

    @Override
    public double logSoftmaxNll(Op.LogSoftmaxNll op) {
        long count = (long) op.rows() * op.classes();
        float[] L = arr(op.logits());
        float[] G = op.dLogits() == null ? null : arr(op.dLogits());
        int lo = idx(op.lOff()), go = G == null ? 0 : idx(op.dOff());
        double[] loss = new double[op.rows()];
        Parallel.forRange(op.rows(), 2, (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = lo + i * op.classes();
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < op.classes(); j++) max = Math.max(max, L[row + j]);
                double sum = 0;
                for (int j = 0; j < op.classes(); j++) sum += Math.exp(L[row + j] - max);
                double logZ = max + Math.log(sum);
                int t = op.targets()[op.tOff() + i];
                loss[i] = logZ - L[row + t];
                if (G != null) {
                    int grow = go + i * op.classes();
                    for (int j = 0; j < op.classes(); j++) {
                        double p = Math.exp(L[row + j] - logZ);
                        G[grow + j] = (float) (op.gradScale() * (p - (j == t ? 1.0 : 0.0)));
                    }
                }
            }
        });
        double total = 0;
        for (double v : loss) total += v;
        return total;
    }


}
