package dev.rnn4j.backend.reference;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.HeapBackend;
import dev.rnn4j.backend.BackendChecks;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.DeviceOutOfMemoryException;
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
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, DeviceBuffer a, long aOff, int lda,
                     DeviceBuffer b, long bOff, int ldb,
                     float beta, DeviceBuffer c, long cOff, int ldc,
                     int batch, long strideA, long strideB, long strideC) {
        checkOpen();
        BackendChecks.nonNegative("gemm", "m, n, k, batch", m, n, k, batch);
        boolean empty = m == 0 || n == 0 || batch == 0;
        mat(a, aOff, empty ? 0 : transA ? k : m, transA ? m : k, lda, batch, strideA, "gemm A");
        mat(b, bOff, empty ? 0 : transB ? n : k, transB ? k : n, ldb, batch, strideB, "gemm B");
        mat(c, cOff, m, n, ldc, batch, strideC, "gemm C");
        if (empty) return;
        float[] A = arr(a), B = arr(b), C = arr(c);
        if (m <= 0 || n <= 0) return;
        int blockRows = Math.max(1, Math.min(64, GEMM_BLOCK_DOUBLES / n));
        int blocks = (m + blockRows - 1) / blockRows;
        boolean parallel = blocks > 1 && (long) m * n * k >= GEMM_PARALLEL_MIN;
        for (int p = 0; p < batch; p++) {
            int ap = idx(aOff + p * strideA), cp = idx(cOff + p * strideC);
            // op(B) as rows: element (l, j) at rowsB[b0 + l*bLd + j].
            float[] rowsB = transB ? transposed(B, idx(bOff + p * strideB), ldb, n, k) : B;
            int b0 = transB ? 0 : idx(bOff + p * strideB), bLd = transB ? n : ldb;
            IntStream work = IntStream.range(0, blocks);
            if (parallel) work = work.parallel();
            work.forEach(q -> {
                int i0 = q * blockRows, rows = Math.min(blockRows, m - i0);
                double[] acc = new double[rows * n];
                for (int l = 0; l < k; l++) {
                    int brow = b0 + l * bLd;
                    for (int r = 0; r < rows; r++) {
                        int i = i0 + r;
                        double ail = transA ? A[ap + l * lda + i] : A[ap + i * lda + l];
                        int o = r * n;
                        for (int j = 0; j < n; j++) acc[o + j] += ail * rowsB[brow + j];
                    }
                }
                for (int r = 0; r < rows; r++) {
                    int crow = cp + (i0 + r) * ldc, o = r * n;
                    for (int j = 0; j < n; j++) {
                        double v = alpha * acc[o + j];
                        if (beta != 0f) v += (double) beta * C[crow + j];
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
    public void axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff) {
        checkOpen();
        in(x, xOff, n, "axpy x");
        in(y, yOff, n, "axpy y");
        float[] X = arr(x), Y = arr(y);
        int xo = idx(xOff), yo = idx(yOff);
        for (int i = 0; i < n; i++) Y[yo + i] = (float) (Y[yo + i] + (double) alpha * X[xo + i]);
    }

    @Override
    public void scale(long n, float alpha, DeviceBuffer x, long xOff) {
        checkOpen();
        in(x, xOff, n, "scale x");
        float[] X = arr(x);
        int o = idx(xOff);
        for (int i = 0; i < n; i++) X[o + i] = X[o + i] * alpha;
    }

    @Override
    public void mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff) {
        checkOpen();
        in(a, aOff, n, "mul a");
        in(b, bOff, n, "mul b");
        in(out, outOff, n, "mul out");
        float[] A = arr(a), B = arr(b), O = arr(out);
        int ao = idx(aOff), bo = idx(bOff), oo = idx(outOff);
        for (int i = 0; i < n; i++) O[oo + i] = A[ao + i] * B[bo + i];
    }

    @Override
    public void mulRows(int rows, int cols, DeviceBuffer x, long xOff, DeviceBuffer m, long mOff, DeviceBuffer out, long outOff) {
        checkOpen();
        long count = BackendChecks.product("mulRows", rows, cols);
        in(x, xOff, count, "mulRows x");
        in(m, mOff, count == 0 ? 0 : cols, "mulRows m");
        in(out, outOff, count, "mulRows out");
        if (count == 0) return;
        float[] X = arr(x), M = arr(m), O = arr(out);
        int xo = idx(xOff), mo = idx(mOff), oo = idx(outOff);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) {
                int i = r * cols + j;
                O[oo + i] = X[xo + i] * M[mo + j];
            }
    }

    @Override
    public void addRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc) {
        checkOpen();
        mat(c, cOff, rows, cols, ldc, 1, 0, "addRowVector c");
        in(bias, biasOff, rows == 0 ? 0 : cols, "addRowVector bias");
        if (rows == 0 || cols == 0) return;
        float[] Bi = arr(bias), C = arr(c);
        int bo = idx(biasOff);
        for (int r = 0; r < rows; r++) {
            int row = idx(cOff + (long) r * ldc);
            for (int j = 0; j < cols; j++) C[row + j] += Bi[bo + j];
        }
    }

    @Override
    public void sumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff) {
        checkOpen();
        mat(a, aOff, rows, cols, lda, 1, 0, "sumRows a");
        in(out, outOff, cols, "sumRows out");
        if (cols == 0) return;
        float[] A = arr(a), O = arr(out);
        int oo = idx(outOff);
        for (int j = 0; j < cols; j++) {
            double s = 0;
            for (int r = 0; r < rows; r++) s += A[idx(aOff + (long) r * lda + j)];
            if (beta != 0f) s += (double) beta * O[oo + j];
            O[oo + j] = (float) s;
        }
    }

    @Override
    public double sumSquares(long n, DeviceBuffer x, long off) {
        checkOpen();
        in(x, off, n, "sumSquares x");
        float[] X = arr(x);
        int o = idx(off);
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) X[o + i] * X[o + i];
        return s;
    }

    @Override
    public void dropoutMask(long n, float p, long seed, DeviceBuffer out, long outOff) {
        checkOpen();
        BackendChecks.dropoutP(p);
        in(out, outOff, n, "dropoutMask out");
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        float[] O = arr(out);
        int o = idx(outOff);
        float scale = 1f / (1f - p);
        for (int i = 0; i < n; i++) O[o + i] = DropoutRng.keep(seed, i, p) ? scale : 0f;
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
    public void rnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff) {
        checkOpen();
        BackendChecks.notNull(act, "rnnPointwiseForward act");
        in(pre, preOff, n, "rnnPointwiseForward pre");
        in(h, hOff, n, "rnnPointwiseForward h");
        float[] P = arr(pre), H = arr(h);
        int po = idx(preOff), ho = idx(hOff);
        for (int i = 0; i < n; i++) H[ho + i] = (float) act(act, P[po + i]);
    }

    @Override
    public void rnnPointwiseBackward(Activation act, int n, DeviceBuffer h, long hOff, DeviceBuffer dh, long dhOff,
                                     DeviceBuffer dpre, long dpreOff) {
        checkOpen();
        BackendChecks.notNull(act, "rnnPointwiseBackward act");
        in(h, hOff, n, "rnnPointwiseBackward h");
        in(dh, dhOff, n, "rnnPointwiseBackward dh");
        in(dpre, dpreOff, n, "rnnPointwiseBackward dpre");
        float[] H = arr(h), DH = arr(dh), DP = arr(dpre);
        int ho = idx(hOff), dho = idx(dhOff), dpo = idx(dpreOff);
        for (int i = 0; i < n; i++) {
            double y = H[ho + i];
            double g = switch (act) {
                case TANH -> 1.0 - y * y;
                case RELU -> y > 0 ? 1.0 : 0.0;
                case IDENTITY -> 1.0;
            };
            DP[dpo + i] = (float) (DH[dho + i] * g);
        }
    }

    // ------------------------------------------------------------------ LSTM

    @Override
    public void lstmPointwiseForward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                     DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff, DeviceBuffer h, long hOff) {
        checkOpen();
        long ns = BackendChecks.product("lstmPointwiseForward", batch, hidden), n4 = BackendChecks.product("lstmPointwiseForward", 4, ns);
        in(gates, gOff, n4, "lstmPointwiseForward gates");
        in(cPrev, cPrevOff, ns, "lstmPointwiseForward cPrev");
        in(c, cOff, ns, "lstmPointwiseForward c");
        in(h, hOff, ns, "lstmPointwiseForward h");
        if (ns == 0) return;
        float[] G = arr(gates), CP = arr(cPrev), C = arr(c), H = arr(h);
        int go = idx(gOff), cpo = idx(cPrevOff), co = idx(cOff), ho = idx(hOff);
        int H4 = 4 * hidden;
        for (int b = 0; b < batch; b++) {
            int row = go + b * H4;
            for (int j = 0; j < hidden; j++) {
                double i = sigmoid(G[row + j]);
                double f = sigmoid(G[row + hidden + j]);
                double g = Math.tanh(G[row + 2 * hidden + j]);
                double o = sigmoid(G[row + 3 * hidden + j]);
                G[row + j] = (float) i;
                G[row + hidden + j] = (float) f;
                G[row + 2 * hidden + j] = (float) g;
                G[row + 3 * hidden + j] = (float) o;
                int e = b * hidden + j;
                double cv = f * CP[cpo + e] + i * g;
                C[co + e] = (float) cv;
                H[ho + e] = (float) (o * Math.tanh(cv));
            }
        }
    }

    @Override
    public void lstmPointwiseBackward(int batch, int hidden, DeviceBuffer gates, long gOff,
                                      DeviceBuffer cPrev, long cPrevOff, DeviceBuffer c, long cOff,
                                      DeviceBuffer dh, long dhOff, DeviceBuffer dcNext, long dcNextOff,
                                      DeviceBuffer dGates, long dgOff, DeviceBuffer dcPrev, long dcPrevOff) {
        checkOpen();
        long ns = BackendChecks.product("lstmPointwiseBackward", batch, hidden), n4 = BackendChecks.product("lstmPointwiseBackward", 4, ns);
        in(gates, gOff, n4, "lstmPointwiseBackward gates");
        in(cPrev, cPrevOff, ns, "lstmPointwiseBackward cPrev");
        in(c, cOff, ns, "lstmPointwiseBackward c");
        in(dh, dhOff, ns, "lstmPointwiseBackward dh");
        if (dcNext != null) in(dcNext, dcNextOff, ns, "lstmPointwiseBackward dcNext");
        in(dGates, dgOff, n4, "lstmPointwiseBackward dGates");
        in(dcPrev, dcPrevOff, ns, "lstmPointwiseBackward dcPrev");
        if (ns == 0) return;
        float[] G = arr(gates), CP = arr(cPrev), C = arr(c), DH = arr(dh), DG = arr(dGates), DCP = arr(dcPrev);
        float[] DCN = dcNext == null ? null : arr(dcNext);
        int go = idx(gOff), cpo = idx(cPrevOff), co = idx(cOff), dho = idx(dhOff), dgo = idx(dgOff), dcpo = idx(dcPrevOff);
        int dcno = dcNext == null ? 0 : idx(dcNextOff);
        int H4 = 4 * hidden;
        for (int b = 0; b < batch; b++) {
            int row = go + b * H4, drow = dgo + b * H4;
            for (int j = 0; j < hidden; j++) {
                double i = G[row + j], f = G[row + hidden + j], g = G[row + 2 * hidden + j], o = G[row + 3 * hidden + j];
                int e = b * hidden + j;
                double tc = Math.tanh(C[co + e]);
                double dhv = DH[dho + e];
                double dc = dhv * o * (1.0 - tc * tc) + (DCN == null ? 0.0 : DCN[dcno + e]);
                double dO = dhv * tc;
                double dI = dc * g, dF = dc * CP[cpo + e], dG = dc * i;
                DG[drow + j] = (float) (dI * i * (1.0 - i));
                DG[drow + hidden + j] = (float) (dF * f * (1.0 - f));
                DG[drow + 2 * hidden + j] = (float) (dG * (1.0 - g * g));
                DG[drow + 3 * hidden + j] = (float) (dO * o * (1.0 - o));
                DCP[dcpo + e] = (float) (dc * f);
            }
        }
    }

    // ------------------------------------------------------------------ GRU

    @Override
    public void gruPointwiseForward(int batch, int hidden, DeviceBuffer gx, long gxOff, DeviceBuffer gh, long ghOff,
                                    DeviceBuffer hPrev, long hPrevOff, DeviceBuffer h, long hOff,
                                    DeviceBuffer saved, long savedOff) {
        checkOpen();
        long ns = BackendChecks.product("gruPointwiseForward", batch, hidden);
        long n3 = BackendChecks.product("gruPointwiseForward", 3, ns), n4 = BackendChecks.product("gruPointwiseForward", 4, ns);
        in(gx, gxOff, n3, "gruPointwiseForward gx");
        in(gh, ghOff, n3, "gruPointwiseForward gh");
        in(hPrev, hPrevOff, ns, "gruPointwiseForward hPrev");
        in(h, hOff, ns, "gruPointwiseForward h");
        in(saved, savedOff, n4, "gruPointwiseForward saved");
        if (ns == 0) return;
        float[] GX = arr(gx), GH = arr(gh), HP = arr(hPrev), H = arr(h), S = arr(saved);
        int gxo = idx(gxOff), gho = idx(ghOff), hpo = idx(hPrevOff), ho = idx(hOff), so = idx(savedOff);
        int H3 = 3 * hidden, H4 = 4 * hidden;
        for (int b = 0; b < batch; b++) {
            int xr = gxo + b * H3, hr = gho + b * H3, sr = so + b * H4;
            for (int j = 0; j < hidden; j++) {
                double r = sigmoid((double) GX[xr + j] + GH[hr + j]);
                double z = sigmoid((double) GX[xr + hidden + j] + GH[hr + hidden + j]);
                double ghn = GH[hr + 2 * hidden + j];
                double n = Math.tanh(GX[xr + 2 * hidden + j] + r * ghn);
                int e = b * hidden + j;
                H[ho + e] = (float) ((1.0 - z) * n + z * HP[hpo + e]);
                S[sr + j] = (float) r;
                S[sr + hidden + j] = (float) z;
                S[sr + 2 * hidden + j] = (float) n;
                S[sr + 3 * hidden + j] = (float) ghn;
            }
        }
    }

    @Override
    public void gruPointwiseBackward(int batch, int hidden, DeviceBuffer saved, long savedOff,
                                     DeviceBuffer hPrev, long hPrevOff, DeviceBuffer dh, long dhOff,
                                     DeviceBuffer dgx, long dgxOff, DeviceBuffer dgh, long dghOff,
                                     DeviceBuffer dhPrevPartial, long dhpOff) {
        checkOpen();
        long ns = BackendChecks.product("gruPointwiseBackward", batch, hidden);
        long n3 = BackendChecks.product("gruPointwiseBackward", 3, ns), n4 = BackendChecks.product("gruPointwiseBackward", 4, ns);
        in(saved, savedOff, n4, "gruPointwiseBackward saved");
        in(hPrev, hPrevOff, ns, "gruPointwiseBackward hPrev");
        in(dh, dhOff, ns, "gruPointwiseBackward dh");
        in(dgx, dgxOff, n3, "gruPointwiseBackward dgx");
        in(dgh, dghOff, n3, "gruPointwiseBackward dgh");
        in(dhPrevPartial, dhpOff, ns, "gruPointwiseBackward dhPrevPartial");
        if (ns == 0) return;
        float[] S = arr(saved), HP = arr(hPrev), DH = arr(dh), DGX = arr(dgx), DGH = arr(dgh), DHP = arr(dhPrevPartial);
        int so = idx(savedOff), hpo = idx(hPrevOff), dho = idx(dhOff), dgxo = idx(dgxOff), dgho = idx(dghOff), dhpo = idx(dhpOff);
        int H3 = 3 * hidden, H4 = 4 * hidden;
        for (int b = 0; b < batch; b++) {
            int sr = so + b * H4, xr = dgxo + b * H3, hr = dgho + b * H3;
            for (int j = 0; j < hidden; j++) {
                double r = S[sr + j], z = S[sr + hidden + j], n = S[sr + 2 * hidden + j], ghn = S[sr + 3 * hidden + j];
                int e = b * hidden + j;
                double d = DH[dho + e];
                double dn = d * (1.0 - z) * (1.0 - n * n);   // through n = tanh(.)
                double dz = d * (HP[hpo + e] - n) * z * (1.0 - z);
                double dr = dn * ghn * r * (1.0 - r);
                DGX[xr + j] = (float) dr;
                DGX[xr + hidden + j] = (float) dz;
                DGX[xr + 2 * hidden + j] = (float) dn;
                DGH[hr + j] = (float) dr;
                DGH[hr + hidden + j] = (float) dz;
                DGH[hr + 2 * hidden + j] = (float) (dn * r);
                DHP[dhpo + e] = (float) (d * z);
            }
        }
    }

    // ------------------------------------------------------------------ SRU v1

    @Override
    public void sruForward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                           DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                           DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                           DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff) {
        checkOpen();
        String call = "sruForward";
        BackendChecks.sru(call, seqLen, batch, hidden, dirs, k);
        BackendChecks.notNull(act, call + " act");
        long cols = BackendChecks.product(call, dirs, hidden), state = BackendChecks.product(call, batch, cols);
        long seq = BackendChecks.product(call, seqLen, state);
        in(u, uOff, BackendChecks.product(call, seq, k), call + " u");
        if (k == 3) in(x, xOff, seq, call + " x");
        in(bias, biasOff, 2 * cols, call + " bias");
        if (c0 != null) in(c0, c0Off, state, call + " c0");
        if (maskH != null) in(maskH, maskOff, state, call + " maskH");
        in(h, hOff, seq, call + " h");
        in(c, cOff, seq, call + " c");
        in(cLast, cLastOff, state, call + " cLast");
        if (state == 0) return;
        checkK(k);
        float[] U = arr(u), BI = arr(bias), H = arr(h), C = arr(c), CL = arr(cLast);
        float[] X = k == 3 ? arr(x) : null;
        float[] C0 = c0 == null ? null : arr(c0);
        float[] M = maskH == null ? null : arr(maskH);
        int ncols = dirs * hidden;
        for (int b = 0; b < batch; b++) {
            for (int col = 0; col < ncols; col++) {
                boolean reverse = col >= hidden;
                double bf = BI[idx(biasOff + col)], br = BI[idx(biasOff + ncols + col)];
                double mask = M == null ? 1.0 : M[idx(maskOff + (long) b * ncols + col)];
                double cur = C0 == null ? 0.0 : C0[idx(c0Off + (long) b * ncols + col)];
                for (int s = 0; s < seqLen; s++) {
                    int t = reverse ? seqLen - 1 - s : s;
                    long e = ((long) t * batch + b) * ncols + col;    // element of (T, B, D*d)
                    int ub = idx(uOff + e * k);
                    double f = sigmoid(U[ub + 1] + bf);
                    double r = sigmoid(U[ub + 2] + br);
                    cur = f * cur + (1.0 - f) * U[ub];
                    double xh = k == 3 ? X[idx(xOff + e)] : U[ub + 3];
                    C[idx(cOff + e)] = (float) cur;
                    H[idx(hOff + e)] = (float) (r * act(act, cur) * mask + (1.0 - r) * xh);
                }
                CL[idx(cLastOff + (long) b * ncols + col)] = (float) cur;
            }
        }
    }

    @Override
    public void sruBackward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                            DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                            DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                            DeviceBuffer c, long cOff, DeviceBuffer dh, long dhOff, DeviceBuffer dcLast, long dcLastOff,
                            DeviceBuffer du, long duOff, DeviceBuffer dx, long dxOff,
                            DeviceBuffer dBias, long dBiasOff, DeviceBuffer dc0, long dc0Off) {
        checkOpen();
        String call = "sruBackward";
        BackendChecks.sru(call, seqLen, batch, hidden, dirs, k);
        BackendChecks.notNull(act, call + " act");
        long cols = BackendChecks.product(call, dirs, hidden), state = BackendChecks.product(call, batch, cols);
        long seq = BackendChecks.product(call, seqLen, state), seqK = BackendChecks.product(call, seq, k);
        in(u, uOff, seqK, call + " u");
        if (k == 3) in(x, xOff, seq, call + " x");
        in(bias, biasOff, 2 * cols, call + " bias");
        if (c0 != null) in(c0, c0Off, state, call + " c0");
        if (maskH != null) in(maskH, maskOff, state, call + " maskH");
        in(c, cOff, seq, call + " c");
        in(dh, dhOff, seq, call + " dh");
        if (dcLast != null) in(dcLast, dcLastOff, state, call + " dcLast");
        in(du, duOff, seqK, call + " du");
        if (k == 3) in(dx, dxOff, seq, call + " dx");
        in(dBias, dBiasOff, 2 * state, call + " dBias");
        in(dc0, dc0Off, state, call + " dc0");
        if (state == 0) return;
        checkK(k);
        float[] U = arr(u), BI = arr(bias), C = arr(c), DH = arr(dh), DU = arr(du), DB = arr(dBias), DC0 = arr(dc0);
        float[] X = k == 3 ? arr(x) : null, DX = k == 3 ? arr(dx) : null;
        float[] C0 = c0 == null ? null : arr(c0);
        float[] M = maskH == null ? null : arr(maskH);
        float[] DCL = dcLast == null ? null : arr(dcLast);
        int ncols = dirs * hidden;
        for (int b = 0; b < batch; b++) {
            for (int col = 0; col < ncols; col++) {
                boolean reverse = col >= hidden;
                double bf = BI[idx(biasOff + col)], br = BI[idx(biasOff + ncols + col)];
                double mask = M == null ? 1.0 : M[idx(maskOff + (long) b * ncols + col)];
                double init = C0 == null ? 0.0 : C0[idx(c0Off + (long) b * ncols + col)];
                double gc = DCL == null ? 0.0 : DCL[idx(dcLastOff + (long) b * ncols + col)];
                double dbf = 0, dbr = 0;
                // Walk the forward order backwards: step s of the forward pass visited time t(s).
                for (int s = seqLen - 1; s >= 0; s--) {
                    int t = reverse ? seqLen - 1 - s : s;
                    long e = ((long) t * batch + b) * ncols + col;
                    int ub = idx(uOff + e * k);
                    double cPrev;
                    if (s == 0) cPrev = init;
                    else {
                        int tp = reverse ? t + 1 : t - 1;
                        cPrev = C[idx(cOff + ((long) tp * batch + b) * ncols + col)];
                    }
                    double f = sigmoid(U[ub + 1] + bf);
                    double r = sigmoid(U[ub + 2] + br);
                    double cur = C[idx(cOff + e)];
                    double gcur = act(act, cur);
                    double xh = k == 3 ? X[idx(xOff + e)] : U[ub + 3];
                    double gh = DH[idx(dhOff + e)];

                    double dxh = gh * (1.0 - r);                       // highway input
                    double drPre = gh * (gcur * mask - xh) * r * (1.0 - r);
                    double dc = gh * r * mask * actGrad(act, cur) + gc;
                    double dfPre = dc * (cPrev - U[ub]) * f * (1.0 - f);

                    DU[idx(duOff + e * k)] = (float) (dc * (1.0 - f));
                    DU[idx(duOff + e * k + 1)] = (float) dfPre;
                    DU[idx(duOff + e * k + 2)] = (float) drPre;
                    if (k == 4) DU[idx(duOff + e * k + 3)] = (float) dxh;
                    else DX[idx(dxOff + e)] = (float) dxh;
                    dbf += dfPre;
                    dbr += drPre;
                    gc = dc * f;
                }
                DC0[idx(dc0Off + (long) b * ncols + col)] = (float) gc;
                DB[idx(dBiasOff + (long) b * 2 * ncols + col)] = (float) dbf;
                DB[idx(dBiasOff + (long) b * 2 * ncols + ncols + col)] = (float) dbr;
            }
        }
    }

    // ------------------------------------------------------------------ language model

    @Override
    public void embeddingForward(int[] ids, int idsOff, int n, int dim, DeviceBuffer weight, long wOff,
                                 DeviceBuffer out, long outOff) {
        checkOpen();
        BackendChecks.array("embeddingForward ids", ids, idsOff, n);
        if (dim < 0) throw new IllegalArgumentException("embeddingForward: negative dim " + dim);
        in(weight, wOff, 0, "embeddingForward weight");
        in(out, outOff, BackendChecks.product("embeddingForward", n, dim), "embeddingForward out");
        BackendChecks.ids("embeddingForward", ids, idsOff, n, BackendChecks.rowsOf(weight.size(), wOff, dim));
        float[] W = arr(weight), O = arr(out);
        for (int i = 0; i < n; i++)
            System.arraycopy(W, idx(wOff + (long) ids[idsOff + i] * dim), O, idx(outOff + (long) i * dim), dim);
    }

    @Override
    public void embeddingBackward(int[] ids, int idsOff, int n, int dim, DeviceBuffer dOut, long dOutOff,
                                  DeviceBuffer dWeight, long dwOff) {
        checkOpen();
        BackendChecks.array("embeddingBackward ids", ids, idsOff, n);
        if (dim < 0) throw new IllegalArgumentException("embeddingBackward: negative dim " + dim);
        in(dOut, dOutOff, BackendChecks.product("embeddingBackward", n, dim), "embeddingBackward dOut");
        in(dWeight, dwOff, 0, "embeddingBackward dWeight");
        BackendChecks.ids("embeddingBackward", ids, idsOff, n, BackendChecks.rowsOf(dWeight.size(), dwOff, dim));
        float[] D = arr(dOut), W = arr(dWeight);
        for (int i = 0; i < n; i++) {
            int src = idx(dOutOff + (long) i * dim), dst = idx(dwOff + (long) ids[idsOff + i] * dim);
            for (int j = 0; j < dim; j++) W[dst + j] += D[src + j];
        }
    }

    @Override
    public double logSoftmaxNll(int rows, int classes, DeviceBuffer logits, long lOff, int[] targets, int tOff,
                                float gradScale, DeviceBuffer dLogits, long dOff) {
        checkOpen();
        BackendChecks.nonNegative("logSoftmaxNll", "rows, classes", rows, classes);
        BackendChecks.array("logSoftmaxNll targets", targets, tOff, rows);
        long count = BackendChecks.product("logSoftmaxNll", rows, classes);
        in(logits, lOff, count, "logSoftmaxNll logits");
        if (dLogits != null) in(dLogits, dOff, count, "logSoftmaxNll dLogits");
        BackendChecks.ids("logSoftmaxNll targets", targets, tOff, rows, classes);
        float[] L = arr(logits);
        float[] G = dLogits == null ? null : arr(dLogits);
        double total = 0;
        for (int i = 0; i < rows; i++) {
            int row = idx(lOff + (long) i * classes);
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) max = Math.max(max, L[row + j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(L[row + j] - max);
            double logZ = max + Math.log(sum);
            int t = targets[tOff + i];
            total += logZ - L[row + t];
            if (G != null) {
                int grow = idx(dOff + (long) i * classes);
                for (int j = 0; j < classes; j++) {
                    double p = Math.exp(L[row + j] - logZ);
                    G[grow + j] = (float) (gradScale * (p - (j == t ? 1.0 : 0.0)));
                }
            }
        }
        return total;
    }

    private static void checkK(int k) {
        if (k != 3 && k != 4) throw new IllegalArgumentException("SRU k must be 3 or 4, got " + k);
    }

}
