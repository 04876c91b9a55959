package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.Op;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The cpu backend's whole forward recurrence ({@link Op.RecurrentForward}) with the Vector API:
 * W_hh is packed once per call, and every step computes its product h_{t-1} W_hh^T and the
 * cell's gate nonlinearities in one pass over the output tiles. Only loaded with
 * {@code --add-modules jdk.incubator.vector} (see {@link GemmKernels}).
 *
 * <p>Packing: W_hh^T in panels of {@code NV} vectors ({@code NV * L} columns) that run along k
 * (= H) contiguously, [panel][l][NV*L], zero past the last unit. A panel holds, for the LSTM, the
 * i, f, g and o columns of the same L hidden units (one vector each), for the GRU the r, z and n
 * columns of L units, for the Elman RNN 4L consecutive units; so a tile of the product holds
 * every gate pre-activation that its units' step needs, and the step finishes there (activations,
 * c, h, the values backward reads) while the tile is in cache. A step streams the packed panels
 * once (each from L2 for all its row tiles); the rows of h_{t-1} are broadcast. Tiles: LSTM and
 * RNN 6 rows x 4 vectors (24 accumulators), the GRU 8 rows x 3 vectors; 2- and 1-row tiles for
 * the rows left over (batch 1 streams the packed W_hh, contiguous, once per step).
 *
 * <p>Each product element is one chain of FMAs in k order started from zero, then the same float
 * expressions as the per-step kernels ({@link CpuBackend}'s gemm and pointwise ops, with
 * {@link FastMath}'s activations evaluated on vectors), so the result is the per-step path's,
 * and does not depend on how the panels are split over threads. Steps are split over the cores
 * by panels.
 */
final class VectorRecurrence implements GemmKernels.Recurrent {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Work per parallel part, in multiply-adds, below which a step stays on one thread. */
    private static final long MIN_PART_FLOPS = 1L << 17;

    @Override
    public void forward(Op.RecurrentForward op, float[] GX, int gxo, float[] W, int who,
                        float[] BH, int bho, float[] HS, int ho, float[] CS, int co, float[] SV, int so) {
        final Op.RecurrentForward.Cell cell = op.cell();
        final int H = op.hidden(), B = op.batch(), T = op.steps(), G = cell.gates, GH = G * H;
        final boolean gru = cell == Op.RecurrentForward.Cell.GRU, lstm = cell == Op.RecurrentForward.Cell.LSTM;
        final int nv = gru ? 3 : 4, pw = nv * L, units = gru || lstm ? L : 4 * L;
        final int panels = (H + units - 1) / units;
        final float[] P = pack(cell, W, who, H, nv, units, panels);
        final long slot = (long) B * H;
        long[] first = new long[T];
        for (int t = 0, r = 0; t < T; r += op.rows(t), t++) first[t] = r;
        for (int s = 0; s < T; s++) {
            final int t = op.reverse() ? T - 1 - s : s, n = op.rows(t);
            if (n == 0) continue;
            final Step st = new Step(cell, H, n, P, pw,
                    GX, Math.toIntExact(gxo + first[t] * GH), BH, bho,
                    HS, Math.toIntExact(ho + op.prevSlot(t) * slot), Math.toIntExact(ho + op.outSlot(t) * slot),
                    CS, CS == null ? 0 : Math.toIntExact(co + op.prevSlot(t) * slot), CS == null ? 0 : Math.toIntExact(co + op.outSlot(t) * slot),
                    SV, SV == null ? 0 : Math.toIntExact(so + first[t] * 4L * H));
            long flops = (long) n * H * pw;
            Parallel.forParts(panels, (int) Math.max(1, MIN_PART_FLOPS / Math.max(1, flops)), 1, (p0, p1) -> {
                float[] acc = new float[8 * pw];
                for (int p = p0; p < p1; p++) st.panel(p, acc);
            });
        }
    }

    /** W_hh (G*H, H) at who into panels [p][l][nv*L] (see the class comment); split over the cores by panels. */
    private static float[] pack(Op.RecurrentForward.Cell cell, float[] W, int who, int H, int nv, int units, int panels) {
        final int pw = nv * L;
        final boolean gates = cell == Op.RecurrentForward.Cell.LSTM || cell == Op.RecurrentForward.Cell.GRU;
        final float[] P = new float[Math.multiplyExact(Math.multiplyExact(panels, H), pw)];
        Parallel.forParts(panels, (int) Math.max(1, (1 << 16) / Math.max(1L, (long) H * pw)), 1, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int base = p * H * pw;
                for (int q = 0; q < nv; q++)
                    for (int u = 0; u < L; u++) {
                        int unit = gates ? p * L + u : p * units + q * L + u;
                        if (unit >= H) continue;
                        int src = who + (gates ? q * H + unit : unit) * H, dst = base + q * L + u;
                        for (int l = 0; l < H; l++) P[dst + l * pw] = W[src + l];
                    }
            }
        });
        return P;
    }

    /** One time step: what its tiles read and write. */
    private record Step(Op.RecurrentForward.Cell cell, int H, int n, float[] P, int pw,
                        float[] GX, int gx, float[] BH, int bh, float[] HS, int prevH, int outH,
                        float[] CS, int prevC, int outC, float[] SV, int sv) {

        /** Every row tile of panel p: product into acc, then the cell's step for those rows. */
        void panel(int p, float[] acc) {
            int w = p * H * pw, i = 0;
            if (pw == 4 * L) {
                for (; i + 6 <= n; i += 6) {
                    int a = prevH + i * H;
                    t4x6(HS, a, H, H, P, w, acc);
                    finish(p, i, 6, acc);
                }
                for (; i + 2 <= n; i += 2) {
                    t4x2(HS, prevH + i * H, H, H, P, w, acc);
                    finish(p, i, 2, acc);
                }
                if (i < n) {
                    t4x1(HS, prevH + i * H, H, P, w, acc);
                    finish(p, i, 1, acc);
                }
            } else {
                for (; i + 8 <= n; i += 8) {
                    t3x8(HS, prevH + i * H, H, H, P, w, acc);
                    finish(p, i, 8, acc);
                }
                for (; i + 2 <= n; i += 2) {
                    t3x2(HS, prevH + i * H, H, H, P, w, acc);
                    finish(p, i, 2, acc);
                }
                if (i < n) {
                    t3x1(HS, prevH + i * H, H, P, w, acc);
                    finish(p, i, 1, acc);
                }
            }
        }

        private void finish(int p, int i0, int rows, float[] acc) {
            for (int r = 0; r < rows; r++) {
                int b = i0 + r, a = r * pw;
                switch (cell) {
                    case LSTM -> lstm(p * L, b, acc, a);
                    case GRU -> gru(p * L, b, acc, a);
                    case RNN_TANH, RNN_RELU -> {
                        for (int q = 0; q < 4; q++) {
                            int j = p * 4 * L + q * L;
                            if (j < H) rnn(j, b, acc, a + q * L);
                        }
                    }
                }
            }
        }

        /** LSTM units [j, j+L) of row b: gates (pre = product + gx) activated in place in gx, c and h. */
        private void lstm(int j, int b, float[] acc, int a) {
            int m = Math.min(L, H - j);
            VectorMask<Float> k = S.indexInRange(0, m);
            int g = gx + b * 4 * H + j, e = b * H + j;
            FloatVector iv = sigmoid(ld(acc, a, k).add(ld(GX, g, k)));
            FloatVector fv = sigmoid(ld(acc, a + L, k).add(ld(GX, g + H, k)));
            FloatVector gv = tanh(ld(acc, a + 2 * L, k).add(ld(GX, g + 2 * H, k)));
            FloatVector ov = sigmoid(ld(acc, a + 3 * L, k).add(ld(GX, g + 3 * H, k)));
            st(iv, GX, g, k);
            st(fv, GX, g + H, k);
            st(gv, GX, g + 2 * H, k);
            st(ov, GX, g + 3 * H, k);
            FloatVector c = fv.mul(ld(CS, prevC + e, k)).add(iv.mul(gv));
            st(c, CS, outC + e, k);
            st(tanh(c).mul(ov), HS, outH + e, k);
        }

        /** GRU units [j, j+L) of row b: r, z, n, h and the saved r, z, n, gh_n (gh + b_hh). */
        private void gru(int j, int b, float[] acc, int a) {
            int m = Math.min(L, H - j);
            VectorMask<Float> k = S.indexInRange(0, m);
            int x = gx + b * 3 * H + j, e = b * H + j, s = sv + b * 4 * H + j;
            FloatVector hr = ld(acc, a, k), hz = ld(acc, a + L, k), hn = ld(acc, a + 2 * L, k);
            if (BH != null) {
                hr = hr.add(ld(BH, bh + j, k));
                hz = hz.add(ld(BH, bh + H + j, k));
                hn = hn.add(ld(BH, bh + 2 * H + j, k));
            }
            FloatVector r = sigmoid(ld(GX, x, k).add(hr));
            FloatVector z = sigmoid(ld(GX, x + H, k).add(hz));
            FloatVector nv = tanh(ld(GX, x + 2 * H, k).add(r.mul(hn)));
            FloatVector hp = ld(HS, prevH + e, k);
            FloatVector h = z.neg().add(1f).mul(nv).add(z.mul(hp));
            st(h, HS, outH + e, k);
            st(r, SV, s, k);
            st(z, SV, s + H, k);
            st(nv, SV, s + 2 * H, k);
            st(hn, SV, s + 3 * H, k);
        }

        /** Elman units [j, j+L) of row b: pre = product + gx kept in gx, h = act(pre). */
        private void rnn(int j, int b, float[] acc, int a) {
            int m = Math.min(L, H - j);
            VectorMask<Float> k = S.indexInRange(0, m);
            int g = gx + b * H + j;
            FloatVector pre = ld(acc, a, k).add(ld(GX, g, k));
            st(pre, GX, g, k);
            FloatVector h = cell == Op.RecurrentForward.Cell.RNN_TANH ? tanh(pre)
                    : FloatVector.zero(S).blend(pre, pre.compare(VectorOperators.GT, 0f));
            st(h, HS, outH + b * H + j, k);
        }
    }

    private static FloatVector ld(float[] a, int off, VectorMask<Float> m) {
        return m.allTrue() ? FloatVector.fromArray(S, a, off) : FloatVector.fromArray(S, a, off, m);
    }

    private static void st(FloatVector v, float[] a, int off, VectorMask<Float> m) {
        if (m.allTrue()) v.intoArray(a, off);
        else v.intoArray(a, off, m);
    }

    /** {@link FastMath#tanh} on every lane, the same float operations in the same order. */
    static FloatVector tanh(FloatVector x) {
        FloatVector v = x.min(FastMath.CLAMP).max(-FastMath.CLAMP);
        FloatVector s = v.mul(v);
        FloatVector p = s.mul(FastMath.P4).add(FastMath.P3).mul(s).add(FastMath.P2).mul(s).add(FastMath.P1).mul(s).add(FastMath.P0);
        FloatVector q = s.mul(FastMath.Q4).add(FastMath.Q3).mul(s).add(FastMath.Q2).mul(s).add(FastMath.Q1).mul(s).add(FastMath.Q0);
        return v.mul(p).div(q).min(1f).max(-1f);
    }

    /** {@link FastMath#sigmoid} on every lane: 1/2 + tanh(x/2)/2. */
    static FloatVector sigmoid(FloatVector x) { return tanh(x.mul(0.5f)).mul(0.5f).add(0.5f); }

    // ---------------------------------------------------------------- tiles: acc[r*pw + q*L + lane] = sum_l A[a + r*lda + l] * P[w + l*pw + q*L + lane]

    private static void t4x6(float[] A, int a, int lda, int k, float[] P, int w, float[] acc) {
        final int pw = 4 * L;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00,
                c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        int a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        for (int l = 0, p = w; l < k; l++, p += pw) {
            FloatVector b0 = FloatVector.fromArray(S, P, p), b1 = FloatVector.fromArray(S, P, p + L),
                    b2 = FloatVector.fromArray(S, P, p + 2 * L), b3 = FloatVector.fromArray(S, P, p + 3 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, A[a + l]); c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, A[a1 + l]); c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
            x = FloatVector.broadcast(S, A[a2 + l]); c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22); c23 = b3.fma(x, c23);
            x = FloatVector.broadcast(S, A[a3 + l]); c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32); c33 = b3.fma(x, c33);
            x = FloatVector.broadcast(S, A[a4 + l]); c40 = b0.fma(x, c40); c41 = b1.fma(x, c41); c42 = b2.fma(x, c42); c43 = b3.fma(x, c43);
            x = FloatVector.broadcast(S, A[a5 + l]); c50 = b0.fma(x, c50); c51 = b1.fma(x, c51); c52 = b2.fma(x, c52); c53 = b3.fma(x, c53);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L); c03.intoArray(acc, 3 * L);
        c10.intoArray(acc, pw); c11.intoArray(acc, pw + L); c12.intoArray(acc, pw + 2 * L); c13.intoArray(acc, pw + 3 * L);
        c20.intoArray(acc, 2 * pw); c21.intoArray(acc, 2 * pw + L); c22.intoArray(acc, 2 * pw + 2 * L); c23.intoArray(acc, 2 * pw + 3 * L);
        c30.intoArray(acc, 3 * pw); c31.intoArray(acc, 3 * pw + L); c32.intoArray(acc, 3 * pw + 2 * L); c33.intoArray(acc, 3 * pw + 3 * L);
        c40.intoArray(acc, 4 * pw); c41.intoArray(acc, 4 * pw + L); c42.intoArray(acc, 4 * pw + 2 * L); c43.intoArray(acc, 4 * pw + 3 * L);
        c50.intoArray(acc, 5 * pw); c51.intoArray(acc, 5 * pw + L); c52.intoArray(acc, 5 * pw + 2 * L); c53.intoArray(acc, 5 * pw + 3 * L);
    }

    private static void t4x2(float[] A, int a, int lda, int k, float[] P, int w, float[] acc) {
        final int pw = 4 * L;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int a1 = a + lda;
        for (int l = 0, p = w; l < k; l++, p += pw) {
            FloatVector b0 = FloatVector.fromArray(S, P, p), b1 = FloatVector.fromArray(S, P, p + L),
                    b2 = FloatVector.fromArray(S, P, p + 2 * L), b3 = FloatVector.fromArray(S, P, p + 3 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, A[a + l]); c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02); c03 = b3.fma(x, c03);
            x = FloatVector.broadcast(S, A[a1 + l]); c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12); c13 = b3.fma(x, c13);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L); c03.intoArray(acc, 3 * L);
        c10.intoArray(acc, pw); c11.intoArray(acc, pw + L); c12.intoArray(acc, pw + 2 * L); c13.intoArray(acc, pw + 3 * L);
    }

    private static void t4x1(float[] A, int a, int k, float[] P, int w, float[] acc) {
        final int pw = 4 * L;
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int l = 0, p = w; l < k; l++, p += pw) {
            FloatVector x = FloatVector.broadcast(S, A[a + l]);
            c0 = FloatVector.fromArray(S, P, p).fma(x, c0);
            c1 = FloatVector.fromArray(S, P, p + L).fma(x, c1);
            c2 = FloatVector.fromArray(S, P, p + 2 * L).fma(x, c2);
            c3 = FloatVector.fromArray(S, P, p + 3 * L).fma(x, c3);
        }
        c0.intoArray(acc, 0); c1.intoArray(acc, L); c2.intoArray(acc, 2 * L); c3.intoArray(acc, 3 * L);
    }

    private static void t3x8(float[] A, int a, int lda, int k, float[] P, int w, float[] acc) {
        final int pw = 3 * L;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
                c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00,
                c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00,
                c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
        int a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda, a6 = a5 + lda, a7 = a6 + lda;
        for (int l = 0, p = w; l < k; l++, p += pw) {
            FloatVector b0 = FloatVector.fromArray(S, P, p), b1 = FloatVector.fromArray(S, P, p + L),
                    b2 = FloatVector.fromArray(S, P, p + 2 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, A[a + l]); c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02);
            x = FloatVector.broadcast(S, A[a1 + l]); c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12);
            x = FloatVector.broadcast(S, A[a2 + l]); c20 = b0.fma(x, c20); c21 = b1.fma(x, c21); c22 = b2.fma(x, c22);
            x = FloatVector.broadcast(S, A[a3 + l]); c30 = b0.fma(x, c30); c31 = b1.fma(x, c31); c32 = b2.fma(x, c32);
            x = FloatVector.broadcast(S, A[a4 + l]); c40 = b0.fma(x, c40); c41 = b1.fma(x, c41); c42 = b2.fma(x, c42);
            x = FloatVector.broadcast(S, A[a5 + l]); c50 = b0.fma(x, c50); c51 = b1.fma(x, c51); c52 = b2.fma(x, c52);
            x = FloatVector.broadcast(S, A[a6 + l]); c60 = b0.fma(x, c60); c61 = b1.fma(x, c61); c62 = b2.fma(x, c62);
            x = FloatVector.broadcast(S, A[a7 + l]); c70 = b0.fma(x, c70); c71 = b1.fma(x, c71); c72 = b2.fma(x, c72);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L);
        c10.intoArray(acc, pw); c11.intoArray(acc, pw + L); c12.intoArray(acc, pw + 2 * L);
        c20.intoArray(acc, 2 * pw); c21.intoArray(acc, 2 * pw + L); c22.intoArray(acc, 2 * pw + 2 * L);
        c30.intoArray(acc, 3 * pw); c31.intoArray(acc, 3 * pw + L); c32.intoArray(acc, 3 * pw + 2 * L);
        c40.intoArray(acc, 4 * pw); c41.intoArray(acc, 4 * pw + L); c42.intoArray(acc, 4 * pw + 2 * L);
        c50.intoArray(acc, 5 * pw); c51.intoArray(acc, 5 * pw + L); c52.intoArray(acc, 5 * pw + 2 * L);
        c60.intoArray(acc, 6 * pw); c61.intoArray(acc, 6 * pw + L); c62.intoArray(acc, 6 * pw + 2 * L);
        c70.intoArray(acc, 7 * pw); c71.intoArray(acc, 7 * pw + L); c72.intoArray(acc, 7 * pw + 2 * L);
    }

    private static void t3x2(float[] A, int a, int lda, int k, float[] P, int w, float[] acc) {
        final int pw = 3 * L;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
        int a1 = a + lda;
        for (int l = 0, p = w; l < k; l++, p += pw) {
            FloatVector b0 = FloatVector.fromArray(S, P, p), b1 = FloatVector.fromArray(S, P, p + L),
                    b2 = FloatVector.fromArray(S, P, p + 2 * L);
            FloatVector x;
            x = FloatVector.broadcast(S, A[a + l]); c00 = b0.fma(x, c00); c01 = b1.fma(x, c01); c02 = b2.fma(x, c02);
            x = FloatVector.broadcast(S, A[a1 + l]); c10 = b0.fma(x, c10); c11 = b1.fma(x, c11); c12 = b2.fma(x, c12);
        }
        c00.intoArray(acc, 0); c01.intoArray(acc, L); c02.intoArray(acc, 2 * L);
        c10.intoArray(acc, pw); c11.intoArray(acc, pw + L); c12.intoArray(acc, pw + 2 * L);
    }

    private static void t3x1(float[] A, int a, int k, float[] P, int w, float[] acc) {
        final int pw = 3 * L;
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0;
        for (int l = 0, p = w; l < k; l++, p += pw) {
            FloatVector x = FloatVector.broadcast(S, A[a + l]);
            c0 = FloatVector.fromArray(S, P, p).fma(x, c0);
            c1 = FloatVector.fromArray(S, P, p + L).fma(x, c1);
            c2 = FloatVector.fromArray(S, P, p + 2 * L).fma(x, c2);
        }
        c0.intoArray(acc, 0); c1.intoArray(acc, L); c2.intoArray(acc, 2 * L);
    }
}
