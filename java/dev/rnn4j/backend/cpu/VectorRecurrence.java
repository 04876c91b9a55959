package dev.rnn4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.ref.SoftReference;

/**
 * The vector kernels of the cpu backend's whole forward recurrence
 * ({@link dev.rnn4j.backend.Op.RecurrentForward}, driven by {@link CpuBackend#recurrentForward}):
 * the steps' products on packed W_hh, and the LSTM's and GRU's pointwise steps, with the Vector
 * API; also the packing of a weight for x W^T that the backend caches across calls
 * ({@link #packTransposed}, {@link #productPacked}: VectorGemm's NN tile on W transposed once,
 * which the steps use whenever the backend has it). Only loaded with
 * {@code --add-modules jdk.incubator.vector} (see {@link GemmKernels}).
 *
 * <p>Without a cached copy (a weight's first call, training) the product is {@link VectorGemm}'s NT tile (2 vectors of rows x 12 columns, 24
 * accumulators; h's rows packed into panels of 2L rows per step, as NT packs A), with the 12
 * columns' weights read from one contiguous stream, W_hh packed per call into panels
 * [column panel][l][12], instead of 12 rows of W_hh read in place as scalar broadcasts. That
 * is faster for a W_hh of up to about 4 MB (d = 512); at 13 MB (d = 910) a step is no faster
 * than in place and the packing costs 3 to 4 ms per call, so the backend reads such a W_hh in
 * place (see docs/performance.md). Each output element is one chain of FMAs in k order from
 * zero, then {@code s + beta * c}: the per-step NT kernel's arithmetic, bit for bit, under any
 * split over threads.
 */
final class VectorRecurrence implements GemmKernels.Recurrent {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of h per panel and columns (of W_hh's rows) per tile: {@link VectorGemm}'s NT tiles, which the steps call. */
    private static final int PR = VectorGemm.PR, NR = VectorGemm.NR;
    /** Work per parallel part, in multiply-adds, below which a step stays on one thread. */
    private static final long MIN_PART_FLOPS = 1L << 18;

    /**
     * The calling thread's buffer for the per-call packed weights (up to 8 MB), kept between calls
     * so that a call allocates nothing of W_hh's size; softly held, so that the collector may
     * take it back. The packed weights live for one call on its thread.
     */
    private static final ThreadLocal<SoftReference<float[]>> PACKED = new ThreadLocal<>();

    private static float[] buffer(int n) {
        SoftReference<float[]> ref = PACKED.get();
        float[] a = ref == null ? null : ref.get();
        if (a == null || a.length < n) {
            a = new float[n];
            PACKED.set(new SoftReference<>(a));
        }
        return a;
    }

    @Override
    public float[] pack(float[] W, int wo, int n, int k) {
        float[] P = buffer(Math.multiplyExact(Math.multiplyExact((n + NR - 1) / NR, k), NR));
        VectorGemm.transposeInto(W, wo, k, n, k, NR, P);
        return P;
    }

    @Override
    public void product(float[] packed, int n, int k, float[] A, int ao, int lda, int m, float beta, float[] C, int co, int ldc) {
        if (m == 0 || n == 0) return;
        int panels = (m + PR - 1) / PR;
        float[] Ap = VectorGemm.packA(false, m, k, A, ao, lda);
        int units = (n + NR - 1) / NR;
        Parallel.forParts(units, (int) Math.max(1, MIN_PART_FLOPS / Math.max(1L, (long) m * k * NR)), 1, (u0, u1) -> {
            float[] tmp = new float[PR * NR];
            for (int jp = u0; jp < u1; jp++) {
                int j = jp * NR, cols = Math.min(NR, n - j), w = jp * k * NR;
                for (int p = 0; p < panels; p++) {
                    int rows = Math.min(PR, m - p * PR);
                    if (rows <= L) VectorGemm.nt12h(Ap, p * k * PR, k, packed, w, 1, NR, tmp);
                    else VectorGemm.nt12(Ap, p * k * PR, k, packed, w, 1, NR, tmp);
                    for (int r = 0; r < rows; r++) {
                        int c = co + (p * PR + r) * ldc + j;
                        if (beta == 0f) for (int q = 0; q < cols; q++) C[c + q] = tmp[q * PR + r];
                        else for (int q = 0; q < cols; q++) C[c + q] = tmp[q * PR + r] + beta * C[c + q];
                    }
                }
            }
        });
    }

    @Override
    public String layout() { return "transposed"; }

    @Override
    public float[] packTransposed(float[] W, int wo, int ldw, int n, int k) { return VectorGemm.packTransposed(W, wo, ldw, n, k); }

    @Override
    public void productPacked(int m, int n, int k, float alpha, float[] A, int ao, int lda, float[] P, float beta,
                              float[] C, int co, int ldc) {
        VectorGemm.productPacked(m, n, k, alpha, A, ao, lda, P, beta, C, co, ldc);
    }

    // ---------------------------------------------------------------- the steps' pointwise ops
    //
    // The same float operations, in the same order, as CpuBackend's lstmPointwiseForward and
    // gruPointwiseForward with FastMath's activations (so the results are bit for bit theirs), on
    // explicit vectors: C2 vectorises the backend's loops only partly (77 us for an LSTM step of
    // 32 x 256, 9 ns per unit). Vectors pass between methods only through arrays: a FloatVector
    // argument or result of a call that C2 does not inline is boxed on the heap. A row's last
    // H mod L units take the scalar FastMath path.

    @Override
    public void lstmPointwise(int rows, int H, float[] G, int go, float[] C, int cp, int co, float[] Hs, int ho) {
        Parallel.forParts(rows, Math.max(1, 4096 / Math.max(1, H)), 1, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                int g = go + b * 4 * H, e = b * H, j = 0;
                for (; j + L <= H; j += L) {
                    sigmoidAt(G, g + j);
                    sigmoidAt(G, g + H + j);
                    tanhAt(G, g + 2 * H + j);
                    sigmoidAt(G, g + 3 * H + j);
                    lstmCell(G, g + j, H, C, cp + e + j, co + e + j, Hs, ho + e + j);
                }
                for (; j < H; j++) {
                    float i = FastMath.sigmoid(G[g + j]), f = FastMath.sigmoid(G[g + H + j]),
                            gg = FastMath.tanh(G[g + 2 * H + j]), o = FastMath.sigmoid(G[g + 3 * H + j]);
                    G[g + j] = i;
                    G[g + H + j] = f;
                    G[g + 2 * H + j] = gg;
                    G[g + 3 * H + j] = o;
                    float c = f * C[cp + e + j] + i * gg;
                    C[co + e + j] = c;
                    Hs[ho + e + j] = FastMath.tanh(c) * o;
                }
            }
        });
    }

    /** c = f * cPrev + i * g to C[co], h = tanh(c) * o to Hs[ho], for the activated gates at G[g + q*gs]. */
    private static void lstmCell(float[] G, int g, int gs, float[] C, int cp, int co, float[] Hs, int ho) {
        FloatVector i = FloatVector.fromArray(S, G, g), f = FloatVector.fromArray(S, G, g + gs),
                gg = FloatVector.fromArray(S, G, g + 2 * gs);
        FloatVector c = f.mul(FloatVector.fromArray(S, C, cp)).add(i.mul(gg));
        c.intoArray(C, co);
        c.intoArray(Hs, ho);
        tanhAt(Hs, ho);
        FloatVector.fromArray(S, Hs, ho).mul(FloatVector.fromArray(S, G, g + 3 * gs)).intoArray(Hs, ho);
    }

    @Override
    public void gruPointwise(int rows, int H, float[] GX, int gxo, float[] GH, int gho, float[] BH, int bho,
                             float[] Hs, int hp, int ho, float[] SV, int so) {
        Parallel.forParts(rows, Math.max(1, 4096 / Math.max(1, H)), 1, (b0, b1) -> {
            float[] t = new float[4 * L];
            for (int b = b0; b < b1; b++) {
                int x = gxo + b * 3 * H, gh = gho + b * 3 * H, e = b * H, sv = so + b * 4 * H, j = 0;
                for (; j + L <= H; j += L) {
                    gruGates(GX, x + j, GH, gh + j, BH, bho + j, H, t);
                    sigmoidAt(t, 0);
                    sigmoidAt(t, L);
                    gruNew(GX, x + 2 * H + j, t);
                    tanhAt(t, 2 * L);
                    gruOut(t, Hs, hp + e + j, ho + e + j, SV, sv + j, H);
                }
                for (; j < H; j++) {
                    float hr = GH[gh + j], hz = GH[gh + H + j], hn = GH[gh + 2 * H + j];
                    if (BH != null) {
                        hr += BH[bho + j];
                        hz += BH[bho + H + j];
                        hn += BH[bho + 2 * H + j];
                    }
                    float r = FastMath.sigmoid(GX[x + j] + hr), z = FastMath.sigmoid(GX[x + H + j] + hz);
                    float n = FastMath.tanh(GX[x + 2 * H + j] + r * hn);
                    Hs[ho + e + j] = (1f - z) * n + z * Hs[hp + e + j];
                    SV[sv + j] = r;
                    SV[sv + H + j] = z;
                    SV[sv + 2 * H + j] = n;
                    SV[sv + 3 * H + j] = hn;
                }
            }
        });
    }

    /** t[0..L) = gx_r + gh'_r, t[L..2L) = gx_z + gh'_z, t[3L..4L) = gh'_n, where gh' = gh (+ b_hh). */
    private static void gruGates(float[] GX, int x, float[] GH, int gh, float[] BH, int bh, int H, float[] t) {
        FloatVector hr = FloatVector.fromArray(S, GH, gh), hz = FloatVector.fromArray(S, GH, gh + H),
                hn = FloatVector.fromArray(S, GH, gh + 2 * H);
        if (BH != null) {
            hr = hr.add(FloatVector.fromArray(S, BH, bh));
            hz = hz.add(FloatVector.fromArray(S, BH, bh + H));
            hn = hn.add(FloatVector.fromArray(S, BH, bh + 2 * H));
        }
        FloatVector.fromArray(S, GX, x).add(hr).intoArray(t, 0);
        FloatVector.fromArray(S, GX, x + H).add(hz).intoArray(t, L);
        hn.intoArray(t, 3 * L);
    }

    /** t[2L..3L) = gx_n + r * gh'_n (r at t[0], gh'_n at t[3L]). */
    private static void gruNew(float[] GX, int xn, float[] t) {
        FloatVector.fromArray(S, GX, xn).add(FloatVector.fromArray(S, t, 0).mul(FloatVector.fromArray(S, t, 3 * L))).intoArray(t, 2 * L);
    }

    /** h = (1 - z) * n + z * hPrev to Hs[ho]; saved r, z, n, gh'_n to SV[s + q*H]. */
    private static void gruOut(float[] t, float[] Hs, int hp, int ho, float[] SV, int s, int H) {
        FloatVector z = FloatVector.fromArray(S, t, L), n = FloatVector.fromArray(S, t, 2 * L);
        z.neg().add(1f).mul(n).add(z.mul(FloatVector.fromArray(S, Hs, hp))).intoArray(Hs, ho);
        FloatVector.fromArray(S, t, 0).intoArray(SV, s);
        z.intoArray(SV, s + H);
        n.intoArray(SV, s + 2 * H);
        FloatVector.fromArray(S, t, 3 * L).intoArray(SV, s + 3 * H);
    }

    /** a[o..o+L) = {@link FastMath#tanh} of itself, the same float operations in the same order. */
    private static void tanhAt(float[] a, int o) {
        FloatVector v = FloatVector.fromArray(S, a, o).min(FastMath.CLAMP).max(-FastMath.CLAMP);
        FloatVector s = v.mul(v);
        FloatVector p = s.mul(FastMath.P4).add(FastMath.P3).mul(s).add(FastMath.P2).mul(s).add(FastMath.P1).mul(s).add(FastMath.P0);
        FloatVector q = s.mul(FastMath.Q4).add(FastMath.Q3).mul(s).add(FastMath.Q2).mul(s).add(FastMath.Q1).mul(s).add(FastMath.Q0);
        v.mul(p).div(q).min(1f).max(-1f).intoArray(a, o);
    }

    /** a[o..o+L) = {@link FastMath#sigmoid} of itself: 1/2 + tanh(x/2)/2. */
    private static void sigmoidAt(float[] a, int o) {
        FloatVector v = FloatVector.fromArray(S, a, o).mul(0.5f).min(FastMath.CLAMP).max(-FastMath.CLAMP);
        FloatVector s = v.mul(v);
        FloatVector p = s.mul(FastMath.P4).add(FastMath.P3).mul(s).add(FastMath.P2).mul(s).add(FastMath.P1).mul(s).add(FastMath.P0);
        FloatVector q = s.mul(FastMath.Q4).add(FastMath.Q3).mul(s).add(FastMath.Q2).mul(s).add(FastMath.Q1).mul(s).add(FastMath.Q0);
        v.mul(p).div(q).min(1f).max(-1f).mul(0.5f).add(0.5f).intoArray(a, o);
    }
}
