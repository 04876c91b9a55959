package dev.rnn4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The cpu backend's own SGEMM on Java heap arrays, written with the Vector API
 * ({@code jdk.incubator.vector}) so that C2 emits the widest FMA the CPU has (512-bit on
 * AVX-512, 256-bit on AVX2): no native BLAS, nothing to install. Only loaded when the JVM runs
 * with {@code --add-modules jdk.incubator.vector} (see {@link GemmKernels}).
 *
 * <p>Three register-blocked kernels, chosen by the operands' layout so that the large weight
 * operand is never copied per call (a recurrent step's W_hh is used in place at every step):
 * <ul>
 * <li><b>NT</b> ({@code transB}, m >= 2: x W^T, the layers' input and recurrent products): A is
 *   packed into panels of 2 vectors of rows ([panel][k][2L], cheap: m x k); each B row, already
 *   contiguous along k, is broadcast one element at a time. Tile: 2L rows x 12 columns, 24
 *   accumulators.
 * <li><b>NN</b> ({@code !transB}: x W, the SRU's U and the backward products): rows of A are
 *   broadcast, B is read as 4 vectors along n, from panels packed once per call when m is large
 *   enough to repay the copy, else in place. Tile: 6 rows x 4L columns, 24 accumulators; the
 *   rows left over run on a 4-row tile (2 to 4 rows), the 6-row one (5) or a 1-row one (1).
 * <li><b>dot</b> ({@code transB}, m == 1: a recurrent step at batch 1): one dot product per B row,
 *   8 rows at a time; memory-bound.
 * </ul>
 * A weight W of x W^T products can also be transposed once into the NN tile's panels
 * ({@link #packTransposed}, cached by the backend until W is written) and multiplied there
 * ({@link #productPacked}, any m): the NT kernel's arithmetic, faster (sequential streams of W
 * instead of broadcasts, and no wasted panel rows at small m).
 * Every output element is one chain of FMAs in k order, started from zero, then
 * {@code alpha * s + beta * c}: the same arithmetic whichever tile, edge kernel or thread
 * computes it, so results do not depend on how the work is split (bitwise equal under any
 * thread count or concurrent callers). The dot kernel sums its lanes in a fixed order
 * (a transposing reduction of its 8 accumulators).
 */
final class VectorGemm implements GemmKernels.Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** NT panel height (rows of A per panel) and tile width (columns). */
    static final int PR = 2 * L, NR = 12;
    /** NN tile: rows and panel width (columns). */
    private static final int MR = 6, PC = 4 * L;
    /** NN packs B when A has at least this many rows (the copy costs k x n, the product m x k x n). */
    private static final int PACK_B_MIN_M = 48;
    /** Work per parallel part, in multiply-adds, below which a product stays on one thread. */
    private static final long MIN_PART_FLOPS = 1L << 18;
    /**
     * The same for the dot kernel (-Drnn4j.cpu.dotPart): it is memory-bound, so a second core
     * adds its own bandwidth even to a small product; 1 x 1024 x 256 (a streaming step at
     * d = 256) splits in two. 2^16 against 2^18: 72 and 87 against 89 and 113 us per 2-layer
     * d = 256 LSTM step (StreamStepBench, 2026-12-02, quiet machine, separate JVMs).
     */
    private static final long DOT_PART_FLOPS = Long.getLong("rnn4j.cpu.dotPart", 1L << 16);

    static int lanes() { return L; }

    @Override
    public String describe() {
        return "Vector API " + S.vectorBitSize() + "-bit (" + L + " floats): NT " + PR + "x" + NR
                + ", NN " + MR + "x" + PC + ", dot 8x1";
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] A, int ao, int lda, float[] B, int bo, int ldb,
                     float beta, float[] C, int co, int ldc) {
        if (k == 0) {
            scaleOnly(m, n, beta, C, co, ldc);
            return;
        }
        if (transB && m == 1) dot(transA, n, k, alpha, A, ao, lda, B, bo, ldb, beta, C, co);
        else if (transB) nt(transA, m, n, k, alpha, A, ao, lda, B, bo, ldb, beta, C, co, ldc);
        else nn(transA, m, n, k, alpha, A, ao, lda, B, bo, ldb, beta, C, co, ldc);
    }

    /** C = beta C (k == 0: the product is empty). */
    private static void scaleOnly(int m, int n, float beta, float[] C, int co, int ldc) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                int c = co + i * ldc + j;
                C[c] = beta == 0f ? 0f : beta * C[c];
            }
    }

    private static int parts(long flopsPerUnit, int units) {
        long per = Math.max(1, MIN_PART_FLOPS / Math.max(1, flopsPerUnit));
        return (int) Math.max(1, per);
    }

    // ---------------------------------------------------------------- NT

    private static void nt(boolean transA, int m, int n, int k, float alpha, float[] A, int ao, int lda,
                           float[] B, int bo, int ldb, float beta, float[] C, int co, int ldc) {
        int panels = (m + PR - 1) / PR;
        float[] P = packA(transA, m, k, A, ao, lda);
        int units = (n + NR - 1) / NR;
        Parallel.forParts(units, parts((long) m * k * NR, units), 1, (u0, u1) -> {
            float[] tmp = new float[PR * NR];
            int j0 = u0 * NR, j1 = Math.min(n, u1 * NR);
            // columns in chunks whose B rows stay in L2 while every panel of A passes over them
            int chunk = Math.max(NR, (96 * 1024 / Math.max(1, k)) / NR * NR);
            for (int jc = j0; jc < j1; jc += chunk) {
                int jce = Math.min(j1, jc + chunk);
                for (int p = 0; p < panels; p++) {
                    int rows = Math.min(PR, m - p * PR);
                    for (int j = jc; j < jce; j += NR) {
                        int cols = Math.min(NR, jce - j);
                        if (cols == NR && rows <= L) nt12h(P, p * k * PR, k, B, bo + j * ldb, ldb, 1, tmp);
                        else if (cols == NR) nt12(P, p * k * PR, k, B, bo + j * ldb, ldb, 1, tmp);
                        else for (int q = 0; q < cols; q++) nt1(P, p * k * PR, k, B, bo + (j + q) * ldb, tmp, q);
                        for (int r = 0; r < rows; r++) {
                            int c = co + (p * PR + r) * ldc + j;
                            for (int q = 0; q < cols; q++) C[c + q] = out(alpha, tmp[q * PR + r], beta, C[c + q]);
                        }
                    }
                }
            }
        });
    }

    /** A (or A^T) packed into panels of PR rows for the NT tiles: A'[i][l] at [(i / PR * k + l) * PR + i % PR], zero rows past m. */
    static float[] packA(boolean transA, int m, int k, float[] A, int ao, int lda) {
        float[] P = new float[Math.multiplyExact((m + PR - 1) / PR * PR, k)];
        for (int i = 0; i < m; i++) {
            int base = (i / PR) * k * PR + i % PR;
            if (transA) for (int l = 0; l < k; l++) P[base + l * PR] = A[ao + l * lda + i];
            else {
                int a = ao + i * lda;
                for (int l = 0; l < k; l++) P[base + l * PR] = A[a + l];
            }
        }
        return P;
    }

    private static float out(float alpha, float s, float beta, float c) {
        return beta == 0f ? alpha * s : alpha * s + beta * c;
    }

    /**
     * 2 vectors of rows x 12 columns: tmp[q*PR + r] = sum_l P[pb + l*PR + r] * B[b + q*js + l*ks].
     * B in place (its rows are the columns: js = ldb, ks = 1) or packed by the recurrence
     * (12 columns side by side along k: js = 1, ks = NR).
     */
    static void nt12(float[] P, int pb, int k, float[] B, int b, int js, int ks, float[] tmp) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
                a8 = a0, a9 = a0, aa = a0, ab = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0,
                c8 = a0, c9 = a0, ca = a0, cb = a0;
        int b1 = b + js, b2 = b1 + js, b3 = b2 + js, b4 = b3 + js, b5 = b4 + js, b6 = b5 + js,
                b7 = b6 + js, b8 = b7 + js, b9 = b8 + js, ba = b9 + js, bb = ba + js;
        for (int l = 0, p = pb, o = 0; l < k; l++, p += PR, o += ks) {
            FloatVector x0 = FloatVector.fromArray(S, P, p), x1 = FloatVector.fromArray(S, P, p + L);
            FloatVector w;
            w = FloatVector.broadcast(S, B[b + o]); a0 = x0.fma(w, a0); c0 = x1.fma(w, c0);
            w = FloatVector.broadcast(S, B[b1 + o]); a1 = x0.fma(w, a1); c1 = x1.fma(w, c1);
            w = FloatVector.broadcast(S, B[b2 + o]); a2 = x0.fma(w, a2); c2 = x1.fma(w, c2);
            w = FloatVector.broadcast(S, B[b3 + o]); a3 = x0.fma(w, a3); c3 = x1.fma(w, c3);
            w = FloatVector.broadcast(S, B[b4 + o]); a4 = x0.fma(w, a4); c4 = x1.fma(w, c4);
            w = FloatVector.broadcast(S, B[b5 + o]); a5 = x0.fma(w, a5); c5 = x1.fma(w, c5);
            w = FloatVector.broadcast(S, B[b6 + o]); a6 = x0.fma(w, a6); c6 = x1.fma(w, c6);
            w = FloatVector.broadcast(S, B[b7 + o]); a7 = x0.fma(w, a7); c7 = x1.fma(w, c7);
            w = FloatVector.broadcast(S, B[b8 + o]); a8 = x0.fma(w, a8); c8 = x1.fma(w, c8);
            w = FloatVector.broadcast(S, B[b9 + o]); a9 = x0.fma(w, a9); c9 = x1.fma(w, c9);
            w = FloatVector.broadcast(S, B[ba + o]); aa = x0.fma(w, aa); ca = x1.fma(w, ca);
            w = FloatVector.broadcast(S, B[bb + o]); ab = x0.fma(w, ab); cb = x1.fma(w, cb);
        }
        a0.intoArray(tmp, 0); c0.intoArray(tmp, L);
        a1.intoArray(tmp, PR); c1.intoArray(tmp, PR + L);
        a2.intoArray(tmp, 2 * PR); c2.intoArray(tmp, 2 * PR + L);
        a3.intoArray(tmp, 3 * PR); c3.intoArray(tmp, 3 * PR + L);
        a4.intoArray(tmp, 4 * PR); c4.intoArray(tmp, 4 * PR + L);
        a5.intoArray(tmp, 5 * PR); c5.intoArray(tmp, 5 * PR + L);
        a6.intoArray(tmp, 6 * PR); c6.intoArray(tmp, 6 * PR + L);
        a7.intoArray(tmp, 7 * PR); c7.intoArray(tmp, 7 * PR + L);
        a8.intoArray(tmp, 8 * PR); c8.intoArray(tmp, 8 * PR + L);
        a9.intoArray(tmp, 9 * PR); c9.intoArray(tmp, 9 * PR + L);
        aa.intoArray(tmp, 10 * PR); ca.intoArray(tmp, 10 * PR + L);
        ab.intoArray(tmp, 11 * PR); cb.intoArray(tmp, 11 * PR + L);
    }

    /** 1 vector of rows x 12 columns, B as in {@link #nt12}: a last panel with at most L rows (m = 35: 32 + 3). */
    static void nt12h(float[] P, int pb, int k, float[] B, int b, int js, int ks, float[] tmp) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
                a8 = a0, a9 = a0, aa = a0, ab = a0;
        int b1 = b + js, b2 = b1 + js, b3 = b2 + js, b4 = b3 + js, b5 = b4 + js, b6 = b5 + js,
                b7 = b6 + js, b8 = b7 + js, b9 = b8 + js, ba = b9 + js, bb = ba + js;
        for (int l = 0, p = pb, o = 0; l < k; l++, p += PR, o += ks) {
            FloatVector x0 = FloatVector.fromArray(S, P, p);
            a0 = x0.fma(FloatVector.broadcast(S, B[b + o]), a0);
            a1 = x0.fma(FloatVector.broadcast(S, B[b1 + o]), a1);
            a2 = x0.fma(FloatVector.broadcast(S, B[b2 + o]), a2);
            a3 = x0.fma(FloatVector.broadcast(S, B[b3 + o]), a3);
            a4 = x0.fma(FloatVector.broadcast(S, B[b4 + o]), a4);
            a5 = x0.fma(FloatVector.broadcast(S, B[b5 + o]), a5);
            a6 = x0.fma(FloatVector.broadcast(S, B[b6 + o]), a6);
            a7 = x0.fma(FloatVector.broadcast(S, B[b7 + o]), a7);
            a8 = x0.fma(FloatVector.broadcast(S, B[b8 + o]), a8);
            a9 = x0.fma(FloatVector.broadcast(S, B[b9 + o]), a9);
            aa = x0.fma(FloatVector.broadcast(S, B[ba + o]), aa);
            ab = x0.fma(FloatVector.broadcast(S, B[bb + o]), ab);
        }
        a0.intoArray(tmp, 0);
        a1.intoArray(tmp, PR);
        a2.intoArray(tmp, 2 * PR);
        a3.intoArray(tmp, 3 * PR);
        a4.intoArray(tmp, 4 * PR);
        a5.intoArray(tmp, 5 * PR);
        a6.intoArray(tmp, 6 * PR);
        a7.intoArray(tmp, 7 * PR);
        a8.intoArray(tmp, 8 * PR);
        a9.intoArray(tmp, 9 * PR);
        aa.intoArray(tmp, 10 * PR);
        ab.intoArray(tmp, 11 * PR);
    }

    /** One column of the NT tile (the edge): tmp[q*PR + r] for one B row. */
    private static void nt1(float[] P, int pb, int k, float[] B, int b, float[] tmp, int q) {
        FloatVector a = FloatVector.zero(S), c = a;
        for (int l = 0, p = pb; l < k; l++, p += PR) {
            FloatVector w = FloatVector.broadcast(S, B[b + l]);
            a = FloatVector.fromArray(S, P, p).fma(w, a);
            c = FloatVector.fromArray(S, P, p + L).fma(w, c);
        }
        a.intoArray(tmp, q * PR);
        c.intoArray(tmp, q * PR + L);
    }

    // ---------------------------------------------------------------- dot (m == 1, transB)

    private static void dot(boolean transA, int n, int k, float alpha, float[] A, int ao, int lda,
                            float[] B, int bo, int ldb, float beta, float[] C, int co) {
        float[] x = new float[k];
        for (int l = 0; l < k; l++) x[l] = A[ao + (transA ? l * lda : l)];
        int units = (n + 7) / 8;
        Parallel.forParts(units, (int) Math.max(1, DOT_PART_FLOPS / (8L * k)), 1, (u0, u1) -> {
            float[] t = new float[8 + 9 * L];   // [0, 8): the 8 sums; [8, 8 + 8L): the accumulators; then scratch
            for (int j = u0 * 8; j < Math.min(n, u1 * 8); j += 8)
                dot8(x, k, B, bo + j * ldb, ldb, Math.min(8, n - j), alpha, beta, C, co + j, t);
        });
    }

    /** Up to 8 dot products of x with rows of B at b (stride ldb) into C[c ..]; rows past {@code rows} repeat row 0, unstored. */
    private static void dot8(float[] x, int k, float[] B, int b, int ldb, int rows, float alpha, float beta,
                             float[] C, int c, float[] t) {
        int kv = k - k % L;
        int r0 = b, r1 = r0 + (rows > 1 ? ldb : 0), r2 = r0 + (rows > 2 ? 2 * ldb : 0),
                r3 = r0 + (rows > 3 ? 3 * ldb : 0), r4 = r0 + (rows > 4 ? 4 * ldb : 0),
                r5 = r0 + (rows > 5 ? 5 * ldb : 0), r6 = r0 + (rows > 6 ? 6 * ldb : 0),
                r7 = r0 + (rows > 7 ? 7 * ldb : 0);
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int l = 0; l < kv; l += L) {
            FloatVector xv = FloatVector.fromArray(S, x, l);
            s0 = FloatVector.fromArray(S, B, r0 + l).fma(xv, s0);
            s1 = FloatVector.fromArray(S, B, r1 + l).fma(xv, s1);
            s2 = FloatVector.fromArray(S, B, r2 + l).fma(xv, s2);
            s3 = FloatVector.fromArray(S, B, r3 + l).fma(xv, s3);
            s4 = FloatVector.fromArray(S, B, r4 + l).fma(xv, s4);
            s5 = FloatVector.fromArray(S, B, r5 + l).fma(xv, s5);
            s6 = FloatVector.fromArray(S, B, r6 + l).fma(xv, s6);
            s7 = FloatVector.fromArray(S, B, r7 + l).fma(xv, s7);
        }
        // the accumulators go to t through memory, not as arguments (see storeRows)
        s0.intoArray(t, 8); s1.intoArray(t, 8 + L); s2.intoArray(t, 8 + 2 * L); s3.intoArray(t, 8 + 3 * L);
        s4.intoArray(t, 8 + 4 * L); s5.intoArray(t, 8 + 5 * L); s6.intoArray(t, 8 + 6 * L); s7.intoArray(t, 8 + 7 * L);
        laneSums(t);
        // the last k % L columns in scalar code (masked loads would double the loop's code)
        for (int r = 0; r < rows; r++) {
            float s = t[r];
            for (int l = kv, br = b + r * ldb; l < k; l++) s = Math.fma(x[l], B[br + l], s);
            C[c + r] = out(alpha, s, beta, C[c + r]);
        }
    }

    /*
     * The transposing lane sum of dot8 (L = 8 or 16). Level lv pairs lanes that differ in bit
     * h = L >> (lv + 1): pairing a with b keeps a's partial sums in the lanes with bit h clear and b's in
     * those with it set, each the sum of the two lanes that differ in h. After three levels every
     * lane holds one row's partial sum; with 16 lanes one more adds a row's two lanes. Every step
     * is a lanewise add of fixed lanes: the order is the same compiled or interpreted, on every
     * call. Separate constants, not arrays: C2 only intrinsifies shuffles and masks it can see
     * are constants of a known species.
     */
    private static final VectorShuffle<Float> SW0 = swap(0), SW1 = swap(1), SW2 = swap(2), SW3 = swap(3);
    private static final VectorMask<Float> UP0 = upper(0), UP1 = upper(1), UP2 = upper(2);
    /** The lane holding row r's sum at the end: bit L/2 is r's bit 0, L/4 its bit 1, L/8 its bit 2. */
    private static final int[] LANE_OF_ROW = laneOfRow();

    private static VectorShuffle<Float> swap(int lv) {
        int h = Math.max(1, L >> (lv + 1));
        return VectorShuffle.fromOp(S, i -> i ^ h);
    }

    private static VectorMask<Float> upper(int lv) {
        int h = Math.max(1, L >> (lv + 1));
        boolean[] bits = new boolean[L];
        for (int i = 0; i < L; i++) bits[i] = (i & h) != 0;
        return VectorMask.fromArray(S, bits, 0);
    }

    private static int[] laneOfRow() {
        int[] lane = new int[8];
        if (L < 8) return lane;
        for (int r = 0; r < 8; r++)
            lane[r] = ((r & 1) != 0 ? L / 2 : 0) + ((r & 2) != 0 ? L / 4 : 0) + ((r & 4) != 0 ? L / 8 : 0);
        return lane;
    }

    /** t[r] = the lane sum of the accumulator of row r, stored at t[8 + r * L], r < 8. */
    private static void laneSums(float[] t) {
        if (L == 8 || L == 16) {
            FloatVector s0 = FloatVector.fromArray(S, t, 8), s1 = FloatVector.fromArray(S, t, 8 + L),
                    s2 = FloatVector.fromArray(S, t, 8 + 2 * L), s3 = FloatVector.fromArray(S, t, 8 + 3 * L),
                    s4 = FloatVector.fromArray(S, t, 8 + 4 * L), s5 = FloatVector.fromArray(S, t, 8 + 5 * L),
                    s6 = FloatVector.fromArray(S, t, 8 + 6 * L), s7 = FloatVector.fromArray(S, t, 8 + 7 * L);
            // level 0: pairs (0,1) (2,3) (4,5) (6,7) on bit L/2; level 1 on bit L/4; level 2 on bit L/8
            FloatVector v01 = s0.blend(s1, UP0).add(s1.blend(s0, UP0).rearrange(SW0));
            FloatVector v23 = s2.blend(s3, UP0).add(s3.blend(s2, UP0).rearrange(SW0));
            FloatVector v45 = s4.blend(s5, UP0).add(s5.blend(s4, UP0).rearrange(SW0));
            FloatVector v67 = s6.blend(s7, UP0).add(s7.blend(s6, UP0).rearrange(SW0));
            FloatVector v03 = v01.blend(v23, UP1).add(v23.blend(v01, UP1).rearrange(SW1));
            FloatVector v47 = v45.blend(v67, UP1).add(v67.blend(v45, UP1).rearrange(SW1));
            FloatVector v = v03.blend(v47, UP2).add(v47.blend(v03, UP2).rearrange(SW2));
            if (L == 16) v = v.add(v.rearrange(SW3));
            v.intoArray(t, 8 + 8 * L);
            for (int r = 0; r < 8; r++) t[r] = t[8 + 8 * L + LANE_OF_ROW[r]];
        } else {
            for (int r = 0; r < 8; r++) {   // in lane order
                float s = 0f;
                for (int i = 0; i < L; i++) s += t[8 + r * L + i];
                t[r] = s;
            }
        }
    }

    // ---------------------------------------------------------------- NN

    private static void nn(boolean transA, int m, int n, int k, float alpha, float[] A, int ao, int lda,
                           float[] B, int bo, int ldb, float beta, float[] C, int co, int ldc) {
        float[] Ar = A;
        int ar = ao, ldar = lda;
        if (transA) {
            // rows of A' contiguous: A'[i][l] = A[l*lda + i]
            Ar = new float[Math.multiplyExact(m, k)];
            for (int l = 0; l < k; l++) {
                int a = ao + l * lda;
                for (int i = 0; i < m; i++) Ar[i * k + l] = A[a + i];
            }
            ar = 0;
            ldar = k;
        }
        boolean pack = m >= PACK_B_MIN_M;
        int panels = (n + PC - 1) / PC;
        float[] Bp = B;
        if (pack) {
            Bp = new float[Math.multiplyExact(panels * PC, k)];
            for (int l = 0; l < k; l++) {
                int src = bo + l * ldb;
                for (int pj = 0; pj < panels; pj++) {
                    int j = pj * PC, w = Math.min(PC, n - j);
                    System.arraycopy(B, src + j, Bp, (pj * k + l) * PC, w);
                }
            }
        }
        panels(m, n, k, alpha, Ar, ar, ldar, Bp, bo, ldb, pack, beta, C, co, ldc);
    }

    /**
     * W (n x k at wo, row stride ldw) transposed into the NN kernel's packed panels of B = W^T:
     * [n / 4L][k][4L], zero columns past n. With it, x W^T runs on the NN tiles
     * ({@link #productPacked}): each output one chain of FMAs in k order from zero, then
     * {@code alpha * s + beta * c}, the NT kernel's arithmetic bit for bit; a few sequential
     * streams instead of 12 rows of W broadcast one element at a time.
     */
    static float[] packTransposed(float[] W, int wo, int ldw, int n, int k) {
        float[] P = new float[Math.multiplyExact(Math.multiplyExact((n + PC - 1) / PC, k), PC)];
        transposeInto(W, wo, ldw, n, k, PC, P);
        return P;
    }

    /**
     * W (n x k at wo, row stride ldw) transposed into column panels of {@code width} columns:
     * P[(p * k + l) * width + q] = W[(p * width + q) * ldw + l], zero for columns past n (P may
     * hold an earlier call's data). The NN tile's panels ({@link #packTransposed}) and the
     * recurrence's 12-column NT panels ({@link VectorRecurrence#pack}).
     */
    static void transposeInto(float[] W, int wo, int ldw, int n, int k, int width, float[] P) {
        int panels = (n + width - 1) / width;
        Parallel.forParts(panels, (int) Math.max(1, (1 << 16) / Math.max(1L, (long) k * width)), 1, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int j0 = p * width, cols = Math.min(width, n - j0), d = p * k * width;
                if (cols < width) Arrays.fill(P, d, d + k * width, 0f);
                // blocks of 16 columns of W x the panel's rows: their cache lines and the block's
                // output stay in L1
                for (int l0 = 0; l0 < k; l0 += 16) {
                    int l1 = Math.min(k, l0 + 16);
                    for (int q = 0; q < cols; q++)
                        for (int l = l0, w = wo + (j0 + q) * ldw + l0, o = d + l0 * width + q; l < l1; l++, w++, o += width)
                            P[o] = W[w];
                }
            }
        });
    }

    /** C (m x n) = alpha A W^T + beta C for A (m x k, row-major), W packed by {@link #packTransposed}. */
    static void productPacked(int m, int n, int k, float alpha, float[] A, int ao, int lda, float[] P,
                              float beta, float[] C, int co, int ldc) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            scaleOnly(m, n, beta, C, co, ldc);
            return;
        }
        panels(m, n, k, alpha, A, ao, lda, P, 0, 0, true, beta, C, co, ldc);
    }

    /** The NN tiles over B's column panels: packed ([panel][k][PC], zero-padded) or in place (row stride ldb). */
    private static void panels(int m, int n, int k, float alpha, float[] AR, int arOff, int ldA, float[] BP, int bo, int ldb,
                               boolean pack, float beta, float[] C, int co, int ldc) {
        int panels = (n + PC - 1) / PC;
        Parallel.forParts(panels, parts((long) m * k * PC, panels), 1, (p0, p1) -> {
            float[] t = new float[MR * PC];   // a tile's accumulators on their way to C
            for (int pj = p0; pj < p1; pj++) {
                int j = pj * PC, w = Math.min(PC, n - j);
                int bb = pack ? pj * k * PC : bo + j, sb = pack ? PC : ldb;
                if (w == PC || pack) {
                    int i = 0;
                    for (; i + MR <= m; i += MR) nn6(AR, arOff + i * ldA, ldA, MR, k, BP, bb, sb, alpha, beta, C, co + i * ldc + j, ldc, w, t);
                    // the rows left over: 5 on a 6-row tile, 2 to 4 on a 4-row one (rows past the
                    // last read row 0 again and are not stored), 1 on the 1-row tile; each row's
                    // arithmetic is the same on any tile, so results do not depend on m
                    int rest = m - i;
                    if (rest == MR - 1) nn6(AR, arOff + i * ldA, ldA, rest, k, BP, bb, sb, alpha, beta, C, co + i * ldc + j, ldc, w, t);
                    else if (rest >= 2) nn4(AR, arOff + i * ldA, ldA, rest, k, BP, bb, sb, alpha, beta, C, co + i * ldc + j, ldc, w, t);
                    else if (rest == 1) nn1(AR, arOff + i * ldA, k, BP, bb, sb, alpha, beta, C, co + i * ldc + j, w, t);
                } else {
                    // the last, partial panel read in place: one vector at a time, masked
                    for (int jv = 0; jv < w; jv += L) {
                        VectorMask<Float> mask = S.indexInRange(jv, w);
                        for (int i = 0; i < m; i++) {
                            int a = arOff + i * ldA;
                            FloatVector s = FloatVector.zero(S);
                            for (int l = 0, b = bb + jv; l < k; l++, b += sb)
                                s = FloatVector.fromArray(S, BP, b, mask).fma(FloatVector.broadcast(S, AR[a + l]), s);
                            s.intoArray(t, 0);
                            storeRows(t, 1, alpha, beta, C, co + i * ldc + j + jv, ldc, Math.min(L, w - jv));
                        }
                    }
                }
            }
        });
    }

    /**
     * C rows = alpha t + beta C over the first {@code w} columns, from a tile's accumulators stored
     * in t (row r at r * PC). The kernels hand their accumulators over through an array, never as
     * vector arguments: a vector passed to a call C2 does not inline is boxed, and when the call
     * sits after the k loop C2 may box the loop's accumulators on every iteration (the kernel then
     * ran 5 to 10 times slower for the rest of the JVM's life, depending on how it was compiled).
     */
    private static void storeRows(float[] t, int rows, float alpha, float beta, float[] C, int c, int ldc, int w) {
        for (int r = 0; r < rows; r++) {
            for (int jv = 0; jv < w; jv += L) {
                int cc = c + r * ldc + jv, valid = w - jv;
                FloatVector v = FloatVector.fromArray(S, t, r * PC + jv).mul(alpha);
                if (valid >= L) {
                    if (beta != 0f) v = v.add(FloatVector.fromArray(S, C, cc).mul(beta));
                    v.intoArray(C, cc);
                } else {
                    VectorMask<Float> m = S.indexInRange(0, valid);
                    if (beta != 0f) v = v.add(FloatVector.fromArray(S, C, cc, m).mul(beta));
                    v.intoArray(C, cc, m);
                }
            }
        }
    }

    /** 6 rows x 4 vectors: rows of A at a (stride lda; the first {@code rows} stored, rows past them read row 0), B rows of 4L at b (stride sb). */
    private static void nn6(float[] A, int a, int lda, int rows, int k, float[] B, int b, int sb, float alpha, float beta,
                            float[] C, int c, int ldc, int w, float[] t) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00,
                c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        int a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = rows == MR ? a4 + lda : a;
        for (int l = 0, p = b; l < k; l++, p += sb) {
            FloatVector b0 = FloatVector.fromArray(S, B, p), b1 = FloatVector.fromArray(S, B, p + L),
                    b2 = FloatVector.fromArray(S, B, p + 2 * L), b3 = FloatVector.fromArray(S, B, p + 3 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, A[a + l]); c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, A[a1 + l]); c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(S, A[a2 + l]); c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22); c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(S, A[a3 + l]); c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32); c33 = b3.fma(x, c33);
            x = FloatVector.broadcast(S, A[a4 + l]); c40 = b0.fma(x, c40); c41 = b1.fma(x, c41); c42 = b2.fma(x, c42); c43 = b3.fma(x, c43);
            x = FloatVector.broadcast(S, A[a5 + l]); c50 = b0.fma(x, c50); c51 = b1.fma(x, c51); c52 = b2.fma(x, c52); c53 = b3.fma(x, c53);
        }
        c00.intoArray(t, 0); c01.intoArray(t, L); c02.intoArray(t, 2 * L); c03.intoArray(t, 3 * L);
        c10.intoArray(t, PC); c11.intoArray(t, PC + L); c12.intoArray(t, PC + 2 * L); c13.intoArray(t, PC + 3 * L);
        c20.intoArray(t, 2 * PC); c21.intoArray(t, 2 * PC + L); c22.intoArray(t, 2 * PC + 2 * L); c23.intoArray(t, 2 * PC + 3 * L);
        c30.intoArray(t, 3 * PC); c31.intoArray(t, 3 * PC + L); c32.intoArray(t, 3 * PC + 2 * L); c33.intoArray(t, 3 * PC + 3 * L);
        c40.intoArray(t, 4 * PC); c41.intoArray(t, 4 * PC + L); c42.intoArray(t, 4 * PC + 2 * L); c43.intoArray(t, 4 * PC + 3 * L);
        c50.intoArray(t, 5 * PC); c51.intoArray(t, 5 * PC + L); c52.intoArray(t, 5 * PC + 2 * L); c53.intoArray(t, 5 * PC + 3 * L);
        storeRows(t, rows, alpha, beta, C, c, ldc, w);
    }

    /** 4 rows x 4 vectors, for 2 to 4 rows (rows past {@code rows} read row 0 and are not stored). */
    private static void nn4(float[] A, int a, int lda, int rows, int k, float[] B, int b, int sb, float alpha, float beta,
                            float[] C, int c, int ldc, int w, float[] t) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int a1 = a + lda, a2 = rows > 2 ? a1 + lda : a, a3 = rows > 3 ? a1 + 2 * lda : a;
        for (int l = 0, p = b; l < k; l++, p += sb) {
            FloatVector b0 = FloatVector.fromArray(S, B, p), b1 = FloatVector.fromArray(S, B, p + L),
                    b2 = FloatVector.fromArray(S, B, p + 2 * L), b3 = FloatVector.fromArray(S, B, p + 3 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, A[a + l]); c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, A[a1 + l]); c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(S, A[a2 + l]); c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22); c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(S, A[a3 + l]); c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32); c33 = b3.fma(x, c33);
        }
        c00.intoArray(t, 0); c01.intoArray(t, L); c02.intoArray(t, 2 * L); c03.intoArray(t, 3 * L);
        c10.intoArray(t, PC); c11.intoArray(t, PC + L); c12.intoArray(t, PC + 2 * L); c13.intoArray(t, PC + 3 * L);
        c20.intoArray(t, 2 * PC); c21.intoArray(t, 2 * PC + L); c22.intoArray(t, 2 * PC + 2 * L); c23.intoArray(t, 2 * PC + 3 * L);
        c30.intoArray(t, 3 * PC); c31.intoArray(t, 3 * PC + L); c32.intoArray(t, 3 * PC + 2 * L); c33.intoArray(t, 3 * PC + 3 * L);
        storeRows(t, rows, alpha, beta, C, c, ldc, w);
    }

    /** 1 row x 4 vectors (the rows left over from the 6-row tiles, and m == 1). */
    private static void nn1(float[] A, int a, int k, float[] B, int b, int sb, float alpha, float beta,
                            float[] C, int c, int w, float[] t) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        for (int l = 0, p = b; l < k; l++, p += sb) {
            FloatVector x = FloatVector.broadcast(S, A[a + l]);
            s0 = FloatVector.fromArray(S, B, p).fma(x, s0);
            s1 = FloatVector.fromArray(S, B, p + L).fma(x, s1);
            s2 = FloatVector.fromArray(S, B, p + 2 * L).fma(x, s2);
            s3 = FloatVector.fromArray(S, B, p + 3 * L).fma(x, s3);
        }
        s0.intoArray(t, 0); s1.intoArray(t, L); s2.intoArray(t, 2 * L); s3.intoArray(t, 3 * L);
        storeRows(t, 1, alpha, beta, C, c, 0, w);
    }
}
