package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.HeapBackend;
import dev.rnn4j.backend.BackendChecks;
import dev.rnn4j.backend.DeviceOutOfMemoryException;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.DropoutRng;

import java.util.Arrays;

/**
 * The fast CPU backend: float32 on Java heap arrays, GEMM by the backend's own kernels
 * ({@link Kernels}: Vector API, AVX-512 or AVX2, else plain Java; nothing native to install),
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

    private final Kernels.Choice kernels;

    CpuBackend(Kernels.Choice kernels) { this.kernels = kernels; }

    @Override public String name() { return "cpu"; }

    @Override
    public String description() {
        return "Java on the host CPU, " + Parallel.THREADS + " threads (one shared pool), GEMM by " + kernels.describe();
    }

    // ---------------------------------------------------------------- GEMM

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
        int colsA = transA ? m : k, colsB = transB ? k : n;
        boolean plain = lda < Math.max(1, colsA) || ldb < Math.max(1, colsB) || ldc < Math.max(1, n);
        Kernels.Gemm g = kernels.gemm();
        for (int p = 0; p < batch; p++) {
            long ap = aOff + p * strideA, bp = bOff + p * strideB, cp = cOff + p * strideC;
            if (plain) javaGemm(transA, transB, m, n, k, alpha, A, ap, lda, B, bp, ldb, beta, C, cp, ldc);
            else g.gemm(transA, transB, m, n, k, alpha, A, idx(ap), lda, B, idx(bp), ldb, beta, C, idx(cp), ldc);
        }
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
    public void axpy(long n, float alpha, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff) {
        checkOpen();
        in(x, xOff, n, "axpy x");
        in(y, yOff, n, "axpy y");
        float[] X = arr(x), Y = arr(y);
        int xo = idx(xOff), yo = idx(yOff), len = idx(n);
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            // rounded once, as the reference does, so that axpy is bit for bit the reference's
            for (int i = from; i < to; i++) Y[yo + i] = (float) (Y[yo + i] + (double) alpha * X[xo + i]);
        });
    }

    @Override
    public void scale(long n, float alpha, DeviceBuffer x, long xOff) {
        checkOpen();
        in(x, xOff, n, "scale x");
        float[] X = arr(x);
        int o = idx(xOff), len = idx(n);
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) X[o + i] *= alpha;
        });
    }

    @Override
    public void mul(long n, DeviceBuffer a, long aOff, DeviceBuffer b, long bOff, DeviceBuffer out, long outOff) {
        checkOpen();
        in(a, aOff, n, "mul a");
        in(b, bOff, n, "mul b");
        in(out, outOff, n, "mul out");
        float[] A = arr(a), B = arr(b), O = arr(out);
        int ao = idx(aOff), bo = idx(bOff), oo = idx(outOff), len = idx(n);
        Parallel.forRange(len, MIN_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) O[oo + i] = A[ao + i] * B[bo + i];
        });
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
        Parallel.forRange(rows, Math.max(1, MIN_CHUNK / Math.max(1, cols)), (from, to) -> {
            for (int r = from; r < to; r++) {
                int base = r * cols;
                for (int j = 0; j < cols; j++) O[oo + base + j] = X[xo + base + j] * M[mo + j];
            }
        });
    }

    @Override
    public void addRowVector(int rows, int cols, DeviceBuffer bias, long biasOff, DeviceBuffer c, long cOff, int ldc) {
        checkOpen();
        mat(c, cOff, rows, cols, ldc, 1, 0, "addRowVector c");
        in(bias, biasOff, rows == 0 ? 0 : cols, "addRowVector bias");
        if (rows == 0 || cols == 0) return;
        float[] Bi = arr(bias), C = arr(c);
        int bo = idx(biasOff);
        Parallel.forRange(rows, Math.max(1, MIN_CHUNK / Math.max(1, cols)), (from, to) -> {
            for (int r = from; r < to; r++) {
                int row = idx(cOff + (long) r * ldc);
                for (int j = 0; j < cols; j++) C[row + j] += Bi[bo + j];
            }
        });
    }

    @Override
    public void sumRows(int rows, int cols, DeviceBuffer a, long aOff, int lda, float beta, DeviceBuffer out, long outOff) {
        checkOpen();
        mat(a, aOff, rows, cols, lda, 1, 0, "sumRows a");
        in(out, outOff, cols, "sumRows out");
        if (cols == 0) return;
        float[] A = arr(a), O = arr(out);
        int oo = idx(outOff);
        // Column ranges per thread; each thread walks the rows and adds whole row segments.
        Parallel.forRange(cols, Math.max(16, MIN_CHUNK / Math.max(1, rows)), (from, to) -> {
            float[] acc = new float[to - from];
            for (int r = 0; r < rows; r++) {
                int row = idx(aOff + (long) r * lda) + from;
                for (int j = 0; j < acc.length; j++) acc[j] += A[row + j];
            }
            for (int j = 0; j < acc.length; j++)
                O[oo + from + j] = beta == 0f ? acc[j] : acc[j] + beta * O[oo + from + j];
        });
    }

    @Override
    public double sumSquares(long n, DeviceBuffer x, long off) {
        checkOpen();
        in(x, off, n, "sumSquares x");
        float[] X = arr(x);
        int o = idx(off), len = idx(n);
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
    public void rnnPointwiseForward(Activation act, int n, DeviceBuffer pre, long preOff, DeviceBuffer h, long hOff) {
        checkOpen();
        BackendChecks.notNull(act, "rnnPointwiseForward act");
        in(pre, preOff, n, "rnnPointwiseForward pre");
        in(h, hOff, n, "rnnPointwiseForward h");
        float[] P = arr(pre), H = arr(h);
        int po = idx(preOff), ho = idx(hOff);
        Parallel.forRange(n, MIN_CHUNK, (from, to) -> {
            float[] t = new float[Math.min(1024, to - from)];
            for (int i = from; i < to; i += t.length) {
                int len = Math.min(t.length, to - i);
                System.arraycopy(P, po + i, t, 0, len);
                switch (act) {
                    case TANH -> FastMath.tanhInPlace(t, 0, len);
                    case RELU -> { for (int j = 0; j < len; j++) t[j] = t[j] > 0 ? t[j] : 0f; }
                    default -> { }
                }
                System.arraycopy(t, 0, H, ho + i, len);
            }
        });
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
        Parallel.forRange(n, MIN_CHUNK, (from, to) -> {
            switch (act) {
                case TANH -> { for (int i = from; i < to; i++) { float y = H[ho + i]; DP[dpo + i] = DH[dho + i] * (1f - y * y); } }
                case RELU -> { for (int i = from; i < to; i++) DP[dpo + i] = H[ho + i] > 0 ? DH[dho + i] : 0f * DH[dho + i]; }
                default -> { for (int i = from; i < to; i++) DP[dpo + i] = DH[dho + i]; }
            }
        });
    }

    // ---------------------------------------------------------------- LSTM

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
        int n = Math.multiplyExact(batch, hidden);
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] s = scratch(6, Math.min(hidden, to - from));
            rowPieces(hidden, from, to, (b, j0, j1) -> lstmForwardRow(s, G, go + b * 4 * hidden + j0, hidden,
                    CP, cpo + b * hidden + j0, C, co + b * hidden + j0, H, ho + b * hidden + j0, j1 - j0));
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
        int n = Math.multiplyExact(batch, hidden);
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] s = scratch(12, Math.min(hidden, to - from));
            rowPieces(hidden, from, to, (b, j0, j1) -> {
                int e = b * hidden + j0, w = j1 - j0;
                float[] i = s[0], f = s[1], g = s[2], o = s[3], cp = s[4], tc = s[5], dhv = s[6], dc = s[7];
                float[] di = s[8], df = s[9], dgg = s[10], dO = s[11];
                int gi = go + 4 * b * hidden + j0, di0 = dgo + 4 * b * hidden + j0;
                System.arraycopy(G, gi, i, 0, w);
                System.arraycopy(G, gi + hidden, f, 0, w);
                System.arraycopy(G, gi + 2 * hidden, g, 0, w);
                System.arraycopy(G, gi + 3 * hidden, o, 0, w);
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
                System.arraycopy(df, 0, DG, di0 + hidden, w);
                System.arraycopy(dgg, 0, DG, di0 + 2 * hidden, w);
                System.arraycopy(dO, 0, DG, di0 + 3 * hidden, w);
                System.arraycopy(dc, 0, DCP, dcpo + e, w);
            });
        });
    }

    // ---------------------------------------------------------------- GRU

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
        int n = Math.multiplyExact(batch, hidden);
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] sc = scratch(8, Math.min(hidden, to - from));
            rowPieces(hidden, from, to, (b, j0, j1) -> {
                int e = b * hidden + j0, w = j1 - j0, xr = gxo + 3 * b * hidden + j0, hr = gho + 3 * b * hidden + j0;
                int sr = so + 4 * b * hidden + j0;
                float[] r = sc[0], z = sc[1], nv = sc[2], ghn = sc[3], hr2 = sc[4], hz = sc[5], xn = sc[6], hp = sc[7];
                System.arraycopy(GX, xr, r, 0, w);
                System.arraycopy(GX, xr + hidden, z, 0, w);
                System.arraycopy(GX, xr + 2 * hidden, xn, 0, w);
                System.arraycopy(GH, hr, hr2, 0, w);
                System.arraycopy(GH, hr + hidden, hz, 0, w);
                System.arraycopy(GH, hr + 2 * hidden, ghn, 0, w);
                System.arraycopy(HP, hpo + e, hp, 0, w);
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
                System.arraycopy(z, 0, S, sr + hidden, w);
                System.arraycopy(nv, 0, S, sr + 2 * hidden, w);
                System.arraycopy(ghn, 0, S, sr + 3 * hidden, w);
            });
        });
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
        int n = Math.multiplyExact(batch, hidden);
        Parallel.forRange(n, MIN_CHUNK / 4, (from, to) -> {
            float[][] sc = scratch(10, Math.min(hidden, to - from));
            rowPieces(hidden, from, to, (b, j0, j1) -> {
                int e = b * hidden + j0, w = j1 - j0, sr = so + 4 * b * hidden + j0;
                int xr = dgxo + 3 * b * hidden + j0, hr = dgho + 3 * b * hidden + j0;
                float[] r = sc[0], z = sc[1], nv = sc[2], ghn = sc[3], hp = sc[4], d = sc[5];
                float[] dr = sc[6], dz = sc[7], dn = sc[8], dnr = sc[9];
                System.arraycopy(S, sr, r, 0, w);
                System.arraycopy(S, sr + hidden, z, 0, w);
                System.arraycopy(S, sr + 2 * hidden, nv, 0, w);
                System.arraycopy(S, sr + 3 * hidden, ghn, 0, w);
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
                System.arraycopy(dz, 0, DGX, xr + hidden, w);
                System.arraycopy(dn, 0, DGX, xr + 2 * hidden, w);
                System.arraycopy(dr, 0, DGH, hr, w);
                System.arraycopy(dz, 0, DGH, hr + hidden, w);
                System.arraycopy(dnr, 0, DGH, hr + 2 * hidden, w);
                System.arraycopy(hp, 0, DHP, dhpo + e, w);
            });
        });
    }

    // ---------------------------------------------------------------- SRU v1

    @Override
    public void sruForward(int seqLen, int batch, int hidden, int dirs, int k, Activation act,
                           DeviceBuffer u, long uOff, DeviceBuffer x, long xOff, DeviceBuffer bias, long biasOff,
                           DeviceBuffer c0, long c0Off, DeviceBuffer maskH, long maskOff,
                           DeviceBuffer h, long hOff, DeviceBuffer c, long cOff, DeviceBuffer cLast, long cLastOff) {
        checkOpen();
        String call = "sruForward";
        BackendChecks.sru(call, seqLen, batch, hidden, dirs, k);
        BackendChecks.notNull(act, call + " act");
        long cols0 = BackendChecks.product(call, dirs, hidden), state = BackendChecks.product(call, batch, cols0);
        long seq = BackendChecks.product(call, seqLen, state);
        in(u, uOff, BackendChecks.product(call, seq, k), call + " u");
        if (k == 3) in(x, xOff, seq, call + " x");
        in(bias, biasOff, 2 * cols0, call + " bias");
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
        int uo = idx(uOff), xo = k == 3 ? idx(xOff) : 0, bo = idx(biasOff), c0o = c0 == null ? 0 : idx(c0Off);
        int mo = M == null ? 0 : idx(maskOff), ho = idx(hOff), co = idx(cOff), clo = idx(cLastOff);
        idx((long) seqLen * batch * ncols * k);
        // Parallel over columns; each part walks time for its columns, in both directions' order.
        Parallel.forRange(ncols, 64, (from, to) -> {
            for (int dir = 0; dir < dirs; dir++) {
                int lo = Math.max(from, dir * hidden), hi = Math.min(to, (dir + 1) * hidden);
                if (lo >= hi) continue;
                sruForwardColumns(seqLen, batch, ncols, k, act, dir == 1, lo, hi, U, uo, X, xo, BI, bo, C0, c0o, M, mo,
                        H, ho, C, co, CL, clo);
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
                                          float[] M, int mo, float[] H, int ho, float[] C, int co, float[] CL, int clo) {
        int w = hi - lo;
        float[][] cur = columnRows(B, ncols, lo, w, C0, c0o, 0f);
        float[][] mask = M == null ? null : columnRows(B, ncols, lo, w, M, mo, 1f);
        float[] bf = Arrays.copyOfRange(BI, bo + lo, bo + hi), br = Arrays.copyOfRange(BI, bo + ncols + lo, bo + ncols + hi);
        float[] u0 = new float[w], f = new float[w], r = new float[w], xh = new float[w], g = new float[w];
        for (int s = 0; s < T; s++) {
            int t = reverse ? T - 1 - s : s;
            for (int b = 0; b < B; b++) {
                int e = (t * B + b) * ncols + lo;      // first element of this (t, b) row's column range
                int ub = uo + e * k;
                float[] cb = cur[b];
                for (int j = 0; j < w; j++) {
                    int uj = ub + j * k;
                    u0[j] = U[uj];
                    f[j] = U[uj + 1];
                    r[j] = U[uj + 2];
                }
                if (k == 3) System.arraycopy(X, xo + e, xh, 0, w);
                else for (int j = 0; j < w; j++) xh[j] = U[ub + j * k + 3];
                FastMath.sigmoidPlus(f, bf, w);
                FastMath.sigmoidPlus(r, br, w);
                for (int j = 0; j < w; j++) cb[j] = f[j] * cb[j] + (1f - f[j]) * u0[j];
                System.arraycopy(cb, 0, C, co + e, w);
                activation(act, cb, g, w);
                if (mask != null) {
                    float[] mb = mask[b];
                    for (int j = 0; j < w; j++) g[j] *= mb[j];
                }
                for (int j = 0; j < w; j++) g[j] = r[j] * g[j] + (1f - r[j]) * xh[j];
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
        long cols0 = BackendChecks.product(call, dirs, hidden), state = BackendChecks.product(call, batch, cols0);
        long seq = BackendChecks.product(call, seqLen, state), seqK = BackendChecks.product(call, seq, k);
        in(u, uOff, seqK, call + " u");
        if (k == 3) in(x, xOff, seq, call + " x");
        in(bias, biasOff, 2 * cols0, call + " bias");
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
        Sru a = new Sru(seqLen, batch, ncols, k, act, U, idx(uOff), X, k == 3 ? idx(xOff) : 0, BI, idx(biasOff),
                C0, C0 == null ? 0 : idx(c0Off), M, M == null ? 0 : idx(maskOff), C, idx(cOff), DH, idx(dhOff),
                DCL, DCL == null ? 0 : idx(dcLastOff), DU, idx(duOff), DX, DX == null ? 0 : idx(dxOff),
                DB, idx(dBiasOff), DC0, idx(dc0Off));
        idx((long) seqLen * batch * ncols * k);
        Parallel.forRange(ncols, 64, (from, to) -> {
            for (int dir = 0; dir < dirs; dir++) {
                int lo = Math.max(from, dir * hidden), hi = Math.min(to, (dir + 1) * hidden);
                if (lo < hi) a.backwardColumns(dir == 1, lo, hi);
            }
        });
    }

    /** The arrays and offsets of one SRU backward call. */
    private record Sru(int T, int B, int ncols, int k, Activation act, float[] U, int uo, float[] X, int xo,
                       float[] BI, int bo, float[] C0, int c0o, float[] M, int mo, float[] C, int co,
                       float[] DH, int dho, float[] DCL, int dclo, float[] DU, int duo, float[] DX, int dxo,
                       float[] DB, int dbo, float[] DC0, int dc0o) {

        void backwardColumns(boolean reverse, int lo, int hi) {
            int w = hi - lo;
            float[][] gc = columnRows(B, ncols, lo, w, DCL, dclo, 0f);
            float[][] init = columnRows(B, ncols, lo, w, C0, c0o, 0f);
            float[][] mask = columnRows(B, ncols, lo, w, M, mo, 1f);
            float[][] dbf = new float[B][w], dbr = new float[B][w];
            float[] bf = Arrays.copyOfRange(BI, bo + lo, bo + hi), br = Arrays.copyOfRange(BI, bo + ncols + lo, bo + ncols + hi);
            float[] u0 = new float[w], f = new float[w], r = new float[w], xh = new float[w], g = new float[w], ga = new float[w];
            float[] cur = new float[w], cPrev = new float[w], gh = new float[w];
            float[] dU0 = new float[w], dF = new float[w], dR = new float[w], dX = new float[w];
            for (int s = T - 1; s >= 0; s--) {
                int t = reverse ? T - 1 - s : s;
                int tp = reverse ? t + 1 : t - 1;       // the step forward visited before t
                for (int b = 0; b < B; b++) {
                    int e = (t * B + b) * ncols + lo, ep = (tp * B + b) * ncols + lo;
                    int ub = uo + e * k, db = duo + e * k;
                    for (int j = 0; j < w; j++) {
                        int uj = ub + j * k;
                        u0[j] = U[uj];
                        f[j] = U[uj + 1];
                        r[j] = U[uj + 2];
                    }
                    if (k == 3) System.arraycopy(X, xo + e, xh, 0, w);
                    else for (int j = 0; j < w; j++) xh[j] = U[ub + j * k + 3];
                    if (s == 0) System.arraycopy(init[b], 0, cPrev, 0, w);
                    else System.arraycopy(C, co + ep, cPrev, 0, w);
                    System.arraycopy(C, co + e, cur, 0, w);
                    System.arraycopy(DH, dho + e, gh, 0, w);
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
                    float[] gcb = gc[b], mb = mask[b], dbfb = dbf[b], dbrb = dbr[b];
                    for (int j = 0; j < w; j++) {
                        float ghj = gh[j], m = mb[j], rr = r[j], ff = f[j];
                        float drPre = ghj * (g[j] * m - xh[j]) * rr * (1f - rr);
                        float dc = ghj * rr * m * ga[j] + gcb[j];
                        float dfPre = dc * (cPrev[j] - u0[j]) * ff * (1f - ff);
                        dU0[j] = dc * (1f - ff);
                        dF[j] = dfPre;
                        dR[j] = drPre;
                        dX[j] = ghj * (1f - rr);
                        dbfb[j] += dfPre;
                        dbrb[j] += drPre;
                        gcb[j] = dc * ff;
                    }
                    for (int j = 0; j < w; j++) {
                        int dj = db + j * k;
                        DU[dj] = dU0[j];
                        DU[dj + 1] = dF[j];
                        DU[dj + 2] = dR[j];
                    }
                    if (k == 4) for (int j = 0; j < w; j++) DU[db + j * k + 3] = dX[j];
                    else System.arraycopy(dX, 0, DX, dxo + e, w);
                }
            }
            for (int b = 0; b < B; b++) {
                System.arraycopy(gc[b], 0, DC0, dc0o + b * ncols + lo, w);
                System.arraycopy(dbf[b], 0, DB, dbo + b * 2 * ncols + lo, w);
                System.arraycopy(dbr[b], 0, DB, dbo + b * 2 * ncols + ncols + lo, w);
            }
        }
    }

    private static void checkK(int k) {
        if (k != 3 && k != 4) throw new IllegalArgumentException("SRU k must be 3 or 4, got " + k);
    }

    // ---------------------------------------------------------------- language model

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
        for (int i = 0; i < n; i++) {
            long row = (long) ids[idsOff + i] * dim;
            System.arraycopy(W, idx(wOff + row), O, idx(outOff + (long) i * dim), dim);
        }
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
        int lo = idx(lOff), go = G == null ? 0 : idx(dOff);
        double[] loss = new double[rows];
        Parallel.forRange(rows, 2, (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = lo + i * classes;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < classes; j++) max = Math.max(max, L[row + j]);
                double sum = 0;
                for (int j = 0; j < classes; j++) sum += Math.exp(L[row + j] - max);
                double logZ = max + Math.log(sum);
                int t = targets[tOff + i];
                loss[i] = logZ - L[row + t];
                if (G != null) {
                    int grow = go + i * classes;
                    for (int j = 0; j < classes; j++) {
                        double p = Math.exp(L[row + j] - logZ);
                        G[grow + j] = (float) (gradScale * (p - (j == t ? 1.0 : 0.0)));
                    }
                }
            }
        });
        double total = 0;
        for (double v : loss) total += v;
        return total;
    }

}
