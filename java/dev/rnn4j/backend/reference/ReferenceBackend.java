package dev.rnn4j.backend.reference;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.HeapBackend;
import dev.rnn4j.backend.BackendChecks;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.DeviceOutOfMemoryException;
import dev.rnn4j.backend.DropoutRng;

import java.util.stream.IntStream;

/**
 * The reference backend: every primitive in plain, readable Java over heap float arrays,
 * accumulating in double. It is the oracle the OpenCL and CUDA kernels are tested against, so
 * clarity wins over speed here; each method computes exactly what {@link Backend} documents.
 */
public final class ReferenceBackend extends HeapBackend {
    static final String DESCRIPTION = "plain Java on the host CPU (float32 storage, double accumulation)";

    @Override public String name() { return "reference"; }

    @Override public String description() { return DESCRIPTION; }

    /** Products smaller than this many multiply-adds run on the calling thread only. */
    private static final long GEMM_PARALLEL_MIN = 1L << 18;
    /** Doubles of accumulator per block of output rows (the block shares each row of op(B) while it is cached). */
    private static final int GEMM_BLOCK_DOUBLES = 1 << 14;

    /**
     * {@inheritDoc}
     *
     * <p>Arithmetic: every output element is {@code alpha * s + beta * c} in double, rounded once to
     * float, where s = sum over l = 0, 1, ..., k-1 (in that order) of op(A)[i][l] * op(B)[l][j],
     * accumulated in double. How the work is arranged below never changes that order, so the result is
     * the same bit for bit whatever the number of threads:
     * <ul>
     *   <li>op(B) is read as k rows of n (a transposed copy is made first when transB), so each output
     *       row is built as a sum of scaled rows of op(B), read contiguously;</li>
     *   <li>output rows are computed in blocks that use each row of op(B) for all their rows at once;</li>
     *   <li>for large products the blocks run in parallel on the common fork-join pool.</li>
     * </ul>
     */
    @Override
    public void gemm(Op.Gemm op) {
        boolean empty = op.m() == 0 || op.n() == 0 || op.batch() == 0;
        if (empty) return;
        float[] A = arr(op.a()), B = arr(op.b()), C = arr(op.c());
        if (op.m() <= 0 || op.n() <= 0) return;
        int blockRows = Math.max(1, Math.min(64, GEMM_BLOCK_DOUBLES / op.n()));
        int blocks = (op.m() + blockRows - 1) / blockRows;
        boolean parallel = blocks > 1 && (long) op.m() * op.n() * op.k() >= GEMM_PARALLEL_MIN;
        for (int p = 0; p < op.batch(); p++) {
            int ap = idx(op.aOff() + p * op.strideA()), cp = idx(op.cOff() + p * op.strideC());
            // op(B) as rows: element (l, j) at rowsB[b0 + l*bLd + j].
            float[] rowsB = op.transB() ? transposed(B, idx(op.bOff() + p * op.strideB()), op.ldb(), op.n(), op.k()) : B;
            int b0 = op.transB() ? 0 : idx(op.bOff() + p * op.strideB()), bLd = op.transB() ? op.n() : op.ldb();
            IntStream work = IntStream.range(0, blocks);
            if (parallel) work = work.parallel();
            work.forEach(q -> {
                int i0 = q * blockRows, rows = Math.min(blockRows, op.m() - i0);
                double[] acc = new double[rows * op.n()];
                for (int l = 0; l < op.k(); l++) {
                    int brow = b0 + l * bLd;
                    for (int r = 0; r < rows; r++) {
                        int i = i0 + r;
                        double ail = op.transA() ? A[ap + l * op.lda() + i] : A[ap + i * op.lda() + l];
                        int o = r * op.n();
                        for (int j = 0; j < op.n(); j++) acc[o + j] += ail * rowsB[brow + j];
                    }
                }
                for (int r = 0; r < rows; r++) {
                    int crow = cp + (i0 + r) * op.ldc(), o = r * op.n();
                    for (int j = 0; j < op.n(); j++) {
                        double v = op.alpha() * acc[o + j];
                        if (op.beta() != 0f) v += (double) op.beta() * C[crow + j];
                        C[crow + j] = (float) v;
                    }
                }
            });
        }
    }

    /** The (k x n) transpose of the (n x k) matrix at src[off] with leading dimension ld, in a new array. */
    private static float[] transposed(float[] src, int off, int ld, int n, int k) {
        float[] t = new float[n * k];
        final int tile = 32; // visit in tiles so reads and writes both stay within a few cache lines
        for (int j0 = 0; j0 < n; j0 += tile)
            for (int l0 = 0; l0 < k; l0 += tile)
                for (int j = j0, jEnd = Math.min(n, j0 + tile); j < jEnd; j++)
                    for (int l = l0, lEnd = Math.min(k, l0 + tile); l < lEnd; l++)
                        t[l * n + j] = src[off + j * ld + l];
        return t;
    }

    @Override
    public void axpy(Op.Axpy op) {
        float[] X = arr(op.x()), Y = arr(op.y());
        int xo = idx(op.xOff()), yo = idx(op.yOff());
        for (int i = 0; i < op.n(); i++) Y[yo + i] = (float) (Y[yo + i] + (double) op.alpha() * X[xo + i]);
    }

    @Override
    public void adamStep(Op.AdamStep op) {
        float[] G = arr(op.g()), M = arr(op.m()), V = arr(op.v()), P = arr(op.p());
        int go = idx(op.gOff()), mo = idx(op.mOff()), vo = idx(op.vOff()), po = idx(op.pOff());
        for (int i = 0; i < op.n(); i++) {
            // float throughout, in PyTorch's order: the kernels do the same
            float g = G[go + i];
            float m = op.beta1() * M[mo + i] + (1f - op.beta1()) * g;
            float v = op.beta2() * V[vo + i] + (1f - op.beta2()) * g * g;
            M[mo + i] = m;
            V[vo + i] = v;
            P[po + i] = P[po + i] - op.stepSize() * (m / ((float) Math.sqrt(v) / op.bc2Sqrt() + op.eps()));
        }
    }

    @Override
    public void scale(Op.Scale op) {
        float[] X = arr(op.x());
        int o = idx(op.xOff());
        for (int i = 0; i < op.n(); i++) X[o + i] = X[o + i] * op.alpha();
    }

    @Override
    public void mul(Op.Mul op) {
        float[] A = arr(op.a()), B = arr(op.b()), O = arr(op.out());
        int ao = idx(op.aOff()), bo = idx(op.bOff()), oo = idx(op.outOff());
        for (int i = 0; i < op.n(); i++) O[oo + i] = A[ao + i] * B[bo + i];
    }

    @Override
    public void mulRows(Op.MulRows op) {
        if (op.rows() == 0 || op.cols() == 0) return;
        float[] X = arr(op.x()), M = arr(op.m()), O = arr(op.out());
        int xo = idx(op.xOff()), mo = idx(op.mOff()), oo = idx(op.outOff());
        for (int r = 0; r < op.rows(); r++)
            for (int j = 0; j < op.cols(); j++) {
                int i = r * op.cols() + j;
                O[oo + i] = X[xo + i] * M[mo + j];
            }
    }

    @Override
    public void addRowVector(Op.AddRowVector op) {
        if (op.rows() == 0 || op.cols() == 0) return;
        float[] Bi = arr(op.bias()), C = arr(op.c());
        int bo = idx(op.biasOff());
        for (int r = 0; r < op.rows(); r++)
            for (int j = 0; j < op.cols(); j++) C[idx(op.cOff() + (long) r * op.ldc() + j)] += Bi[bo + j];
    }

    @Override
    public void sumRows(Op.SumRows op) {
        if (op.cols() == 0) return;
        float[] A = arr(op.a()), O = arr(op.out());
        int oo = idx(op.outOff());
        for (int j = 0; j < op.cols(); j++) {
            double s = 0;
            for (int r = 0; r < op.rows(); r++) s += A[idx(op.aOff() + (long) r * op.lda() + j)];
            if (op.beta() != 0f) s += (double) op.beta() * O[oo + j];
            O[oo + j] = (float) s;
        }
    }

    @Override
    public double sumSquares(Op.SumSquares op) {
        float[] X = arr(op.x());
        int o = idx(op.off());
        double s = 0;
        for (int i = 0; i < op.n(); i++) s += (double) X[o + i] * X[o + i];
        return s;
    }

    // ------------------------------------------------------------------ activations

    static double sigmoid(double x) { return 1.0 / (1.0 + Math.exp(-x)); }

    static double act(Activation a, double x) {
        return switch (a) {
            case IDENTITY -> x;
            case TANH -> Math.tanh(x);
            case RELU -> x > 0 ? x : 0.0;
        };
    }

    /** Derivative of the activation at pre-activation x. */
    static double actGrad(Activation a, double x) {
        return switch (a) {
            case IDENTITY -> 1.0;
            case TANH -> { double t = Math.tanh(x); yield 1.0 - t * t; }
            case RELU -> x > 0 ? 1.0 : 0.0;
        };
    }

    // ------------------------------------------------------------------ RNN

    @Override
    public void rnnPointwiseForward(Op.RnnPointwiseForward op) {
        float[] P = arr(op.pre()), H = arr(op.h());
        int po = idx(op.preOff()), ho = idx(op.hOff());
        for (int i = 0; i < op.n(); i++) H[ho + i] = (float) act(op.act(), P[po + i]);
    }

    @Override
    public void rnnPointwiseBackward(Op.RnnPointwiseBackward op) {
        float[] H = arr(op.h()), DH = arr(op.dh()), DP = arr(op.dpre());
        int ho = idx(op.hOff()), dho = idx(op.dhOff()), dpo = idx(op.dpreOff());
        for (int i = 0; i < op.n(); i++) {
            double y = H[ho + i];
            double g = switch (op.act()) {
                case TANH -> 1.0 - y * y;
                case RELU -> y > 0 ? 1.0 : 0.0;
                case IDENTITY -> 1.0;
            };
            DP[dpo + i] = (float) (DH[dho + i] * g);
        }
    }

    // ------------------------------------------------------------------ LSTM

    @Override
    public void lstmPointwiseForward(Op.LstmPointwiseForward op) {
        if (op.batch() == 0 || op.hidden() == 0) return;
        float[] G = arr(op.gates()), CP = arr(op.cPrev()), C = arr(op.c()), H = arr(op.h());
        int go = idx(op.gOff()), cpo = idx(op.cPrevOff()), co = idx(op.cOff()), ho = idx(op.hOff());
        int H4 = 4 * op.hidden();
        for (int b = 0; b < op.batch(); b++) {
            int row = go + b * H4;
            for (int j = 0; j < op.hidden(); j++) {
                double i = sigmoid(G[row + j]);
                double f = sigmoid(G[row + op.hidden() + j]);
                double g = Math.tanh(G[row + 2 * op.hidden() + j]);
                double o = sigmoid(G[row + 3 * op.hidden() + j]);
                G[row + j] = (float) i;
                G[row + op.hidden() + j] = (float) f;
                G[row + 2 * op.hidden() + j] = (float) g;
                G[row + 3 * op.hidden() + j] = (float) o;
                int e = b * op.hidden() + j;
                double cv = f * CP[cpo + e] + i * g;
                C[co + e] = (float) cv;
                H[ho + e] = (float) (o * Math.tanh(cv));
            }
        }
    }

    @Override
    public void lstmPointwiseBackward(Op.LstmPointwiseBackward op) {
        if (op.batch() == 0 || op.hidden() == 0) return;
        float[] G = arr(op.gates()), CP = arr(op.cPrev()), C = arr(op.c()), DH = arr(op.dh()), DG = arr(op.dGates()), DCP = arr(op.dcPrev());
        float[] DCN = op.dcNext() == null ? null : arr(op.dcNext());
        int go = idx(op.gOff()), cpo = idx(op.cPrevOff()), co = idx(op.cOff()), dho = idx(op.dhOff()), dgo = idx(op.dgOff()), dcpo = idx(op.dcPrevOff());
        int dcno = op.dcNext() == null ? 0 : idx(op.dcNextOff());
        int H4 = 4 * op.hidden();
        for (int b = 0; b < op.batch(); b++) {
            int row = go + b * H4, drow = dgo + b * H4;
            for (int j = 0; j < op.hidden(); j++) {
                double i = G[row + j], f = G[row + op.hidden() + j], g = G[row + 2 * op.hidden() + j], o = G[row + 3 * op.hidden() + j];
                int e = b * op.hidden() + j;
                double tc = Math.tanh(C[co + e]);
                double dhv = DH[dho + e];
                double dc = dhv * o * (1.0 - tc * tc) + (DCN == null ? 0.0 : DCN[dcno + e]);
                double dO = dhv * tc;
                double dI = dc * g, dF = dc * CP[cpo + e], dG = dc * i;
                DG[drow + j] = (float) (dI * i * (1.0 - i));
                DG[drow + op.hidden() + j] = (float) (dF * f * (1.0 - f));
                DG[drow + 2 * op.hidden() + j] = (float) (dG * (1.0 - g * g));
                DG[drow + 3 * op.hidden() + j] = (float) (dO * o * (1.0 - o));
                DCP[dcpo + e] = (float) (dc * f);
            }
        }
    }

    // ------------------------------------------------------------------ GRU

    @Override
    public void gruPointwiseForward(Op.GruPointwiseForward op) {
        if (op.batch() == 0 || op.hidden() == 0) return;
        float[] GX = arr(op.gx()), GH = arr(op.gh()), HP = arr(op.hPrev()), H = arr(op.h()), S = arr(op.saved());
        int gxo = idx(op.gxOff()), gho = idx(op.ghOff()), hpo = idx(op.hPrevOff()), ho = idx(op.hOff()), so = idx(op.savedOff());
        int H3 = 3 * op.hidden(), H4 = 4 * op.hidden();
        // gh + b_hh per gate column; zero bias when absent
        double[] bias = new double[H3];
        if (op.biasHh() != null) {
            float[] B = arr(op.biasHh());
            int bo = idx(op.biasHhOff());
            for (int k = 0; k < H3; k++) bias[k] = B[bo + k];
        }
        for (int b = 0; b < op.batch(); b++) {
            int xr = gxo + b * H3, hr = gho + b * H3, sr = so + b * H4;
            for (int j = 0; j < op.hidden(); j++) {
                double r = sigmoid((double) GX[xr + j] + (GH[hr + j] + bias[j]));
                double z = sigmoid((double) GX[xr + op.hidden() + j] + (GH[hr + op.hidden() + j] + bias[op.hidden() + j]));
                double ghn = GH[hr + 2 * op.hidden() + j] + bias[2 * op.hidden() + j];
                double n = Math.tanh(GX[xr + 2 * op.hidden() + j] + r * ghn);
                int e = b * op.hidden() + j;
                H[ho + e] = (float) ((1.0 - z) * n + z * HP[hpo + e]);
                S[sr + j] = (float) r;
                S[sr + op.hidden() + j] = (float) z;
                S[sr + 2 * op.hidden() + j] = (float) n;
                S[sr + 3 * op.hidden() + j] = (float) ghn;
            }
        }
    }

    // ------------------------------------------------------------------ whole recurrence

    @Override public boolean supports(Class<? extends Op<?>> opType) { return true; }

    /** The per-step sequence the op documents, on this backend's gemm and pointwise kernels. */
    @Override
    public void recurrentForward(Op.RecurrentForward op) { op.runPerStep(this); }

    @Override
    public void gruPointwiseBackward(Op.GruPointwiseBackward op) {
        if (op.batch() == 0 || op.hidden() == 0) return;
        float[] S = arr(op.saved()), HP = arr(op.hPrev()), DH = arr(op.dh()), DGX = arr(op.dgx()), DGH = arr(op.dgh()), DHP = arr(op.dhPrevPartial());
        int so = idx(op.savedOff()), hpo = idx(op.hPrevOff()), dho = idx(op.dhOff()), dgxo = idx(op.dgxOff()), dgho = idx(op.dghOff()), dhpo = idx(op.dhpOff());
        int H3 = 3 * op.hidden(), H4 = 4 * op.hidden();
        for (int b = 0; b < op.batch(); b++) {
            int sr = so + b * H4, xr = dgxo + b * H3, hr = dgho + b * H3;
            for (int j = 0; j < op.hidden(); j++) {
                double r = S[sr + j], z = S[sr + op.hidden() + j], n = S[sr + 2 * op.hidden() + j], ghn = S[sr + 3 * op.hidden() + j];
                int e = b * op.hidden() + j;
                double d = DH[dho + e];
                double dn = d * (1.0 - z) * (1.0 - n * n);   // through n = tanh(.)
                double dz = d * (HP[hpo + e] - n) * z * (1.0 - z);
                double dr = dn * ghn * r * (1.0 - r);
                DGX[xr + j] = (float) dr;
                DGX[xr + op.hidden() + j] = (float) dz;
                DGX[xr + 2 * op.hidden() + j] = (float) dn;
                DGH[hr + j] = (float) dr;
                DGH[hr + op.hidden() + j] = (float) dz;
                DGH[hr + 2 * op.hidden() + j] = (float) (dn * r);
                DHP[dhpo + e] = (float) (d * z);
            }
        }
    }

    // ------------------------------------------------------------------ SRU (v1 and 2.x)

    /*
     * Per (batch row b, column col) with f = sigmoid(u1 + wf*cPrev + bf), r = sigmoid(u2 + wr*cPrev + br):
     *   c = f*cPrev + (1-f)*u0
     *   h = r*g(c)*m + (1-r)*x'        (v1 dropout placement)
     *   h = x' + (g(c) - x')*m*r       (2.x, maskOnGate)
     *   h = r*g(c)*m                   (no skip term)
     * with x' = scale*x (K = 3) or u3 (K = 4). At padded steps (t >= lengths[b]) c = cPrev, h = 0.
     */
    @Override
    public void sruForward(Op.SruForward op) {
        SruArrays a = sruArrays(op);
        if (a == null) return;
        Op.SruShape sh = op.shape();
        Op.SruOptions o = op.options();
        int seqLen = sh.seqLen(), batch = sh.batch(), hidden = sh.hidden(), k = sh.k(), ncols = sh.ncols();
        float[] U = a.u(), X = a.x(), BI = a.bias(), C0 = a.c0(), M = a.mask(), WC = a.weightC(), H = a.h(), C = a.c(), CL = a.cLast();
        for (int b = 0; b < batch; b++) {
            int len = o.length(b, seqLen);
            for (int col = 0; col < ncols; col++) {
                boolean reverse = col >= hidden;
                double bf = BI[idx(op.biasOff() + col)], br = BI[idx(op.biasOff() + ncols + col)];
                double wf = WC == null ? 0 : WC[idx(o.weightCOff() + col)], wr = WC == null ? 0 : WC[idx(o.weightCOff() + ncols + col)];
                double mask = M == null ? 1.0 : M[idx(op.maskOff() + (long) b * ncols + col)];
                double cur = C0 == null ? 0.0 : C0[idx(op.c0Off() + (long) b * ncols + col)];
                for (int s = 0; s < seqLen; s++) {
                    int t = reverse ? seqLen - 1 - s : s;
                    long e = ((long) t * batch + b) * ncols + col;    // element of (T, B, D*d)
                    if (t >= len) {                                   // mask_pad: c frozen, h zero
                        C[idx(op.cOff() + e)] = (float) cur;
                        H[idx(op.hOff() + e)] = 0f;
                        continue;
                    }
                    int ub = idx(op.uOff() + e * k);
                    double f = sigmoid(U[ub + 1] + wf * cur + bf);
                    double r = sigmoid(U[ub + 2] + wr * cur + br);
                    cur = f * cur + (1.0 - f) * U[ub];
                    double g = act(op.shape().act(), cur);
                    double h;
                    if (!o.hasSkip()) h = r * g * mask;
                    else {
                        double xh = k == 3 ? o.scale() * (double) X[idx(op.xOff() + e)] : U[ub + 3];
                        h = o.maskOnGate() ? xh + (g - xh) * mask * r : r * g * mask + (1.0 - r) * xh;
                    }
                    C[idx(op.cOff() + e)] = (float) cur;
                    H[idx(op.hOff() + e)] = (float) h;
                }
                CL[idx(op.cLastOff() + (long) b * ncols + col)] = (float) cur;
            }
        }
    }

    @Override
    public void sruBackward(Op.SruBackward op) {
        SruArrays a = sruArrays(op);
        if (a == null) return;
        Op.SruOptions o = op.options();
        int seqLen = op.shape().seqLen(), batch = op.shape().batch(), hidden = op.shape().hidden(), k = op.shape().k();
        int ncols = op.shape().ncols();
        boolean readsX = a.x() != null;
        Activation act = op.shape().act();
        float[] U = a.u(), X = a.x(), BI = a.bias(), C0 = a.c0(), M = a.mask(), WC = a.weightC(), C = a.c();
        float[] DH = a.dh(), DCL = a.dcLast(), DU = a.du(), DX = a.dx(), DB = a.dBias(), DC0 = a.dc0(), DWC = a.dWeightC();
        for (int b = 0; b < batch; b++) {
            int len = o.length(b, seqLen);
            for (int col = 0; col < ncols; col++) {
                boolean reverse = col >= hidden;
                double bf = BI[idx(op.biasOff() + col)], br = BI[idx(op.biasOff() + ncols + col)];
                double wf = WC == null ? 0 : WC[idx(o.weightCOff() + col)], wr = WC == null ? 0 : WC[idx(o.weightCOff() + ncols + col)];
                double mask = M == null ? 1.0 : M[idx(op.maskOff() + (long) b * ncols + col)];
                double init = C0 == null ? 0.0 : C0[idx(op.c0Off() + (long) b * ncols + col)];
                double gc = DCL == null ? 0.0 : DCL[idx(op.dcLastOff() + (long) b * ncols + col)];
                double dbf = 0, dbr = 0, dwf = 0, dwr = 0;
                // Walk the forward order backwards: step s of the forward pass visited time t(s).
                for (int s = seqLen - 1; s >= 0; s--) {
                    int t = reverse ? seqLen - 1 - s : s;
                    long e = ((long) t * batch + b) * ncols + col;
                    int ub = idx(op.uOff() + e * k);
                    if (t >= len) {                 // padded: c_t = c_{t-1}, so gc passes through
                        for (int m = 0; m < k; m++) DU[idx(op.duOff() + e * k + m)] = 0f;
                        if (readsX) DX[idx(op.dxOff() + e)] = 0f;
                        continue;
                    }
                    double cPrev;
                    if (s == 0) cPrev = init;
                    else {
                        int tp = reverse ? t + 1 : t - 1;
                        cPrev = C[idx(op.cOff() + ((long) tp * batch + b) * ncols + col)];
                    }
                    double f = sigmoid(U[ub + 1] + wf * cPrev + bf);
                    double r = sigmoid(U[ub + 2] + wr * cPrev + br);
                    double cur = C[idx(op.cOff() + e)];
                    double g = act(act, cur);
                    double gh = DH[idx(op.dhOff() + e)];
                    double xh = !o.hasSkip() ? 0.0 : k == 3 ? o.scale() * (double) X[idx(op.xOff() + e)] : U[ub + 3];
                    double skipGate = !o.hasSkip() ? 0.0 : o.maskOnGate() ? mask * r : r;   // dh/dx' = 1 - skipGate
                    double dxh = o.hasSkip() ? gh * (1.0 - skipGate) : 0.0;
                    double drPre = gh * (g * mask - (o.maskOnGate() ? xh * mask : xh)) * r * (1.0 - r);
                    double dc = gh * r * mask * actGrad(act, cur) + gc;
                    double dfPre = dc * (cPrev - U[ub]) * f * (1.0 - f);

                    DU[idx(op.duOff() + e * k)] = (float) (dc * (1.0 - f));
                    DU[idx(op.duOff() + e * k + 1)] = (float) dfPre;
                    DU[idx(op.duOff() + e * k + 2)] = (float) drPre;
                    if (k == 4) DU[idx(op.duOff() + e * k + 3)] = (float) dxh;
                    else if (readsX) DX[idx(op.dxOff() + e)] = (float) (o.scale() * dxh);
                    dbf += dfPre;
                    dbr += drPre;
                    dwf += dfPre * cPrev;
                    dwr += drPre * cPrev;
                    gc = dc * f + dfPre * wf + drPre * wr;
                }
                DC0[idx(op.dc0Off() + (long) b * ncols + col)] = (float) gc;
                DB[idx(op.dBiasOff() + (long) b * 2 * ncols + col)] = (float) dbf;
                DB[idx(op.dBiasOff() + (long) b * 2 * ncols + ncols + col)] = (float) dbr;
                if (DWC != null) {
                    DWC[idx(op.dWeightCOff() + (long) b * 2 * ncols + col)] = (float) dwf;
                    DWC[idx(op.dWeightCOff() + (long) b * 2 * ncols + ncols + col)] = (float) dwr;
                }
            }
        }
    }

    // ------------------------------------------------------------------ layer norm

    @Override
    public void layerNormForward(Op.LayerNormForward op) {
        if (op.cols() == 0) return;     // no row has statistics
        float[] X = arr(op.x()), Y = arr(op.y()), S = arr(op.stats());
        float[] G = op.gamma() == null ? null : arr(op.gamma()), BE = op.beta() == null ? null : arr(op.beta());
        int n = op.cols();
        for (int i = 0; i < op.rows(); i++) {
            int row = idx(op.xOff() + (long) i * n), out = idx(op.yOff() + (long) i * n);
            double mean = 0;
            for (int j = 0; j < n; j++) mean += X[row + j];
            mean /= n;
            double var = 0;
            for (int j = 0; j < n; j++) { double dv = X[row + j] - mean; var += dv * dv; }
            var /= n;
            double rstd = 1.0 / Math.sqrt(var + op.eps());
            for (int j = 0; j < n; j++) {
                double v = (X[row + j] - mean) * rstd;
                if (G != null) v *= G[idx(op.gammaOff() + j)];
                if (BE != null) v += BE[idx(op.betaOff() + j)];
                Y[out + j] = (float) v;
            }
            S[idx(op.statsOff() + 2L * i)] = (float) mean;
            S[idx(op.statsOff() + 2L * i + 1)] = (float) rstd;
        }
    }

    /* dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = dy * gamma. */
    @Override
    public void layerNormBackward(Op.LayerNormBackward op) {
        if (op.cols() == 0) return;
        float[] X = arr(op.x()), S = arr(op.stats()), DY = arr(op.dy()), DX = arr(op.dx());
        float[] G = op.gamma() == null ? null : arr(op.gamma());
        int n = op.cols();
        double[] dg = new double[n], db = new double[n], xhat = new double[n], dxh = new double[n];
        for (int i = 0; i < op.rows(); i++) {
            int row = idx(op.xOff() + (long) i * n), dyr = idx(op.dyOff() + (long) i * n), dxr = idx(op.dxOff() + (long) i * n);
            double mean = S[idx(op.statsOff() + 2L * i)], rstd = S[idx(op.statsOff() + 2L * i + 1)];
            double m1 = 0, m2 = 0;
            for (int j = 0; j < n; j++) {
                xhat[j] = (X[row + j] - mean) * rstd;
                double dy = DY[dyr + j];
                dg[j] += dy * xhat[j];
                db[j] += dy;
                dxh[j] = dy * (G == null ? 1.0 : G[idx(op.gammaOff() + j)]);
                m1 += dxh[j];
                m2 += dxh[j] * xhat[j];
            }
            m1 /= n;
            m2 /= n;
            for (int j = 0; j < n; j++) DX[dxr + j] = (float) (rstd * (dxh[j] - m1 - xhat[j] * m2));
        }
        if (op.dGamma() != null) { float[] D = arr(op.dGamma()); for (int j = 0; j < n; j++) D[idx(op.dGammaOff() + j)] = (float) dg[j]; }
        if (op.dBeta() != null) { float[] D = arr(op.dBeta()); for (int j = 0; j < n; j++) D[idx(op.dBetaOff() + j)] = (float) db[j]; }
    }

    // ------------------------------------------------------------------ language model

    @Override
    public void embeddingForward(Op.EmbeddingForward op) {
        float[] W = arr(op.weight()), O = arr(op.out());
        for (int i = 0; i < op.n(); i++)
            System.arraycopy(W, idx(op.wOff() + (long) op.ids()[op.idsOff() + i] * op.dim()), O, idx(op.outOff() + (long) i * op.dim()), op.dim());
    }

    @Override
    public double logSoftmaxNll(Op.LogSoftmaxNll op) {
        float[] L = arr(op.logits());
        float[] G = op.dLogits() == null ? null : arr(op.dLogits());
        double total = 0;
        for (int i = 0; i < op.rows(); i++) {
            int row = idx(op.lOff() + (long) i * op.classes()), t = op.targets()[op.tOff() + i];
            double logZ = logSumExp(L, row, op.classes());
            total += logZ - L[row + t];
            if (G != null) {
                int grow = idx(op.dOff() + (long) i * op.classes());
                for (int j = 0; j < op.classes(); j++) {
                    double p = Math.exp(L[row + j] - logZ);
                    G[grow + j] = (float) (op.gradScale() * (p - (j == t ? 1.0 : 0.0)));
                }
            }
        }
        return total;
    }

    /** log(sum_j exp(x[from + j])) over n values, in double, shifted by their maximum so that exp cannot overflow. */
    private static double logSumExp(float[] x, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) max = Math.max(max, x[from + j]);
        double sum = 0;
        for (int j = 0; j < n; j++) sum += Math.exp(x[from + j] - max);
        return max + Math.log(sum);
    }


}
