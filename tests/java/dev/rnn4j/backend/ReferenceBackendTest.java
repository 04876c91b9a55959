package dev.rnn4j.backend;

import dev.rnn4j.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

import static org.junit.jupiter.api.Assertions.*;

/** Checks every reference primitive against a direct definition or against finite differences. */
class ReferenceBackendTest {
    private final Backend be = new ReferenceBackend();
    private final SplittableRandom rnd = new SplittableRandom(42);

    @AfterEach
    void noLeaks() {
        assertEquals(0, be.liveBuffers(), "buffers leaked");
        be.close();
    }

    private float[] rand(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private DeviceBuffer up(float[] a) {
        DeviceBuffer b = be.allocate(a.length);
        be.upload(a, 0, b, 0, a.length);
        return b;
    }

    private float[] down(DeviceBuffer b) {
        float[] a = new float[(int) b.size()];
        be.download(b, 0, a, 0, a.length);
        return a;
    }

    @ParameterizedTest
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void gemmMatchesDefinition(boolean ta, boolean tb) {
        int m = 5, n = 7, k = 3, batch = 2, pad = 2;
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        int rowsA = ta ? k : m, rowsB = tb ? n : k;
        long sA = (long) rowsA * lda + 3, sB = (long) rowsB * ldb + 1, sC = (long) m * ldc + 2;
        float[] a = rand((int) (sA * batch) + 4), b = rand((int) (sB * batch) + 5), c = rand((int) (sC * batch) + 6);
        float alpha = 0.75f, beta = -1.5f;
        try (DeviceBuffer A = up(a); DeviceBuffer B = up(b); DeviceBuffer C = up(c)) {
            be.gemm(ta, tb, m, n, k, alpha, A, 4, lda, B, 5, ldb, beta, C, 6, ldc, batch, sA, sB, sC);
            float[] got = down(C);
            for (int p = 0; p < batch; p++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int l = 0; l < k; l++) {
                            double av = ta ? a[(int) (4 + p * sA + l * lda + i)] : a[(int) (4 + p * sA + i * lda + l)];
                            double bv = tb ? b[(int) (5 + p * sB + j * ldb + l)] : b[(int) (5 + p * sB + l * ldb + j)];
                            s += av * bv;
                        }
                        int ci = (int) (6 + p * sC + i * ldc + j);
                        assertEquals(alpha * s + beta * c[ci], got[ci], 1e-5, "C[" + p + "," + i + "," + j + "]");
                    }
            // padding between rows is untouched
            assertEquals(c[6 + n], got[6 + n]);
        }
    }

    @Test
    void gemmBetaZeroIgnoresNaN() {
        try (DeviceBuffer A = up(new float[]{1, 2}); DeviceBuffer B = up(new float[]{3, 4});
             DeviceBuffer C = up(new float[]{Float.NaN})) {
            be.gemm(false, false, 1, 1, 2, 1f, A, 0, 2, B, 0, 1, 0f, C, 0, 1, 1, 0, 0, 0);
            assertEquals(11f, down(C)[0]);
        }
    }

    @Test
    void elementwiseAndReductions() {
        float[] x = rand(12), y = rand(12), m = rand(4);
        try (DeviceBuffer X = up(x); DeviceBuffer Y = up(y); DeviceBuffer M = up(m); DeviceBuffer O = be.allocate(12)) {
            be.axpy(12, 2f, X, 0, Y, 0);
            float[] yy = down(Y);
            for (int i = 0; i < 12; i++) assertEquals(y[i] + 2 * x[i], yy[i], 1e-6);
            be.mul(12, X, 0, Y, 0, O, 0);
            float[] o = down(O);
            for (int i = 0; i < 12; i++) assertEquals(x[i] * yy[i], o[i], 1e-6);
            be.mulRows(3, 4, X, 0, M, 0, O, 0);
            o = down(O);
            for (int i = 0; i < 12; i++) assertEquals(x[i] * m[i % 4], o[i], 1e-6);
            be.copy(X, 0, O, 0, 12);
            be.addRowVector(2, 4, M, 0, O, 2, 5);   // rows start at 2 and 7, 4 wide
            o = down(O);
            for (int i = 0; i < 12; i++) {
                int r = (i - 2) / 5, j = (i - 2) % 5;
                boolean in = i >= 2 && r < 2 && j < 4;
                assertEquals(x[i] + (in ? m[j] : 0), o[i], 1e-6, "element " + i);
            }
            be.copy(X, 0, O, 0, 12);
            be.sumRows(3, 4, X, 0, 4, 0f, M, 0);
            float[] s = down(M);
            for (int j = 0; j < 4; j++) assertEquals(x[j] + x[4 + j] + x[8 + j], s[j], 1e-6);
            be.sumRows(3, 4, X, 0, 4, 1f, M, 0);
            float[] s2 = down(M);
            for (int j = 0; j < 4; j++) assertEquals(2 * s[j], s2[j], 1e-5);
            double ss = 0;
            for (float v : x) ss += (double) v * v;
            assertEquals(ss, be.sumSquares(12, X, 0), 1e-12);
            be.scale(12, -3f, X, 0);
            float[] xs = down(X);
            for (int i = 0; i < 12; i++) assertEquals(-3 * x[i], xs[i], 1e-6);
            be.fill(X, 2, 3, 7f);
            xs = down(X);
            assertEquals(-3 * x[1], xs[1], 1e-6);
            assertEquals(7f, xs[2]);
            assertEquals(7f, xs[4]);
            assertEquals(-3 * x[5], xs[5], 1e-6);
            be.copy2d(2, 3, Y, 1, 4, O, 0, 6);
            o = down(O);
            assertEquals(yy[1], o[0]);
            assertEquals(yy[3], o[2]);
            assertEquals(yy[5], o[6]);
        }
    }

    /** An independent 64-bit re-statement of the generator's 32-bit hash. */
    private static long mix32(long x) {
        x &= 0xffffffffL;
        x ^= x >>> 16; x = (x * 0x7feb352dL) & 0xffffffffL;
        x ^= x >>> 15; x = (x * 0x846ca68bL) & 0xffffffffL;
        x ^= x >>> 16;
        return x;
    }

    @Test
    void dropoutRngIsTheDocumentedHash() {
        for (long seed : new long[]{0L, 1L, -1L, 0x123456789abcdefL}) {
            for (long i : new long[]{0, 1, 2, 1000, 0xfffffffeL}) {
                long k0 = seed & 0xffffffffL, k1 = (seed >>> 32) & 0xffffffffL;
                long a = mix32(i ^ k0);
                long expect = mix32(a + k1 + 0x9e3779b9L);
                assertEquals(expect, DropoutRng.bits(seed, i) & 0xffffffffL, "seed " + seed + " index " + i);
            }
        }
    }

    @Test
    void dropoutMask() {
        int n = 200_000;
        float p = 0.3f;
        try (DeviceBuffer a = be.allocate(n); DeviceBuffer b = be.allocate(n); DeviceBuffer c = be.allocate(n)) {
            be.dropoutMask(n, p, 7, a, 0);
            be.dropoutMask(n, p, 7, b, 0);
            be.dropoutMask(n, p, 8, c, 0);
            float[] A = down(a), B = down(b), C = down(c);
            assertArrayEquals(A, B, "same seed, same mask");
            int kept = 0, same = 0;
            for (int i = 0; i < n; i++) {
                assertTrue(A[i] == 0f || A[i] == 1f / (1f - p), "value " + A[i]);
                if (A[i] != 0f) kept++;
                if (A[i] == C[i]) same++;
            }
            double frac = kept / (double) n, sd = Math.sqrt(p * (1 - p) / n);
            assertEquals(1 - p, frac, 5 * sd, "kept fraction");
            assertTrue(same < n * 0.7, "different seeds give different masks");
            be.dropoutMask(n, 0f, 9, a, 0);
            for (float v : down(a)) assertEquals(1f, v);
            assertThrows(IllegalArgumentException.class, () -> be.dropoutMask(1, 1f, 1, a, 0));
        }
    }

    // ---------------------------------------------------------------- fused pointwise, by finite differences

    /** Central difference of f with respect to element i of x, in double. */
    private static double numGrad(float[] x, int i, ToDoubleFunction<float[]> f) {
        float orig = x[i];
        float eps = 1e-2f * Math.max(1f, Math.abs(orig));
        x[i] = orig + eps;
        double up = f.applyAsDouble(x);
        x[i] = orig - eps;
        double dn = f.applyAsDouble(x);
        x[i] = orig;
        return (up - dn) / (2.0 * eps);
    }

    private static double dot(float[] a, float[] w) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * w[i];
        return s;
    }

    private static void assertGrad(double expected, float actual, String what) {
        assertEquals(expected, actual, 2e-3 + 2e-3 * Math.abs(expected), what);
    }

    @ParameterizedTest
    @EnumSource(value = Activation.class, names = {"TANH", "RELU"})
    void rnnPointwiseBackward(Activation act) {
        int n = 9;
        float[] pre = rand(n), w = rand(n);
        for (int i = 0; i < n; i++) if (Math.abs(pre[i]) < 0.05f) pre[i] = 0.3f; // keep relu away from its kink
        ToDoubleFunction<float[]> loss = p -> {
            try (DeviceBuffer P = up(p); DeviceBuffer H = be.allocate(n)) {
                be.rnnPointwiseForward(act, n, P, 0, H, 0);
                return dot(down(H), w);
            }
        };
        try (DeviceBuffer P = up(pre); DeviceBuffer H = be.allocate(n); DeviceBuffer W = up(w); DeviceBuffer D = be.allocate(n)) {
            be.rnnPointwiseForward(act, n, P, 0, H, 0);
            be.rnnPointwiseBackward(act, n, H, 0, W, 0, D, 0);
            float[] d = down(D);
            for (int i = 0; i < n; i++) assertGrad(numGrad(pre, i, loss), d[i], "dpre[" + i + "]");
        }
    }

    @Test
    void lstmPointwiseBackward() {
        int B = 2, H = 3;
        float[] gates = rand(B * 4 * H), cPrev = rand(B * H), wh = rand(B * H), wc = rand(B * H);
        // loss = <h, wh> + <c, wc>; so dh = wh and dcNext = wc
        java.util.function.BiFunction<float[], float[], Double> loss = (g, cp) -> {
            try (DeviceBuffer G = up(g); DeviceBuffer CP = up(cp); DeviceBuffer C = be.allocate(B * H); DeviceBuffer Hh = be.allocate(B * H)) {
                be.lstmPointwiseForward(B, H, G, 0, CP, 0, C, 0, Hh, 0);
                return dot(down(Hh), wh) + dot(down(C), wc);
            }
        };
        try (DeviceBuffer G = up(gates); DeviceBuffer CP = up(cPrev); DeviceBuffer C = be.allocate(B * H);
             DeviceBuffer Hh = be.allocate(B * H); DeviceBuffer DH = up(wh); DeviceBuffer DC = up(wc);
             DeviceBuffer DG = be.allocate(B * 4 * H); DeviceBuffer DCP = be.allocate(B * H)) {
            be.lstmPointwiseForward(B, H, G, 0, CP, 0, C, 0, Hh, 0);
            be.lstmPointwiseBackward(B, H, G, 0, CP, 0, C, 0, DH, 0, DC, 0, DG, 0, DCP, 0);
            float[] dg = down(DG), dcp = down(DCP);
            for (int i = 0; i < gates.length; i++)
                assertGrad(numGrad(gates, i, g -> loss.apply(g, cPrev)), dg[i], "dgates[" + i + "]");
            for (int i = 0; i < cPrev.length; i++)
                assertGrad(numGrad(cPrev, i, cp -> loss.apply(gates, cp)), dcp[i], "dcPrev[" + i + "]");
        }
    }

    @Test
    void gruPointwiseBackward() {
        int B = 2, H = 3;
        float[] gx = rand(B * 3 * H), gh = rand(B * 3 * H), hp = rand(B * H), w = rand(B * H);
        java.util.function.Function<float[][], Double> loss = v -> {
            try (DeviceBuffer X = up(v[0]); DeviceBuffer Hg = up(v[1]); DeviceBuffer P = up(v[2]);
                 DeviceBuffer O = be.allocate(B * H); DeviceBuffer S = be.allocate(B * 4 * H)) {
                be.gruPointwiseForward(B, H, X, 0, Hg, 0, P, 0, O, 0, S, 0);
                return dot(down(O), w);
            }
        };
        try (DeviceBuffer X = up(gx); DeviceBuffer Hg = up(gh); DeviceBuffer P = up(hp); DeviceBuffer O = be.allocate(B * H);
             DeviceBuffer S = be.allocate(B * 4 * H); DeviceBuffer W = up(w); DeviceBuffer DX = be.allocate(B * 3 * H);
             DeviceBuffer DHh = be.allocate(B * 3 * H); DeviceBuffer DP = be.allocate(B * H)) {
            be.gruPointwiseForward(B, H, X, 0, Hg, 0, P, 0, O, 0, S, 0);
            be.gruPointwiseBackward(B, H, S, 0, P, 0, W, 0, DX, 0, DHh, 0, DP, 0);
            float[] dx = down(DX), dhg = down(DHh), dp = down(DP);
            float[][] v = {gx, gh, hp};
            for (int i = 0; i < gx.length; i++) assertGrad(numGrad(gx, i, a -> loss.apply(v)), dx[i], "dgx[" + i + "]");
            for (int i = 0; i < gh.length; i++) assertGrad(numGrad(gh, i, a -> loss.apply(v)), dhg[i], "dgh[" + i + "]");
            // dhPrevPartial is only the direct path z*dh (the caller adds dgh W_hh); here gh does not depend on hPrev
            for (int i = 0; i < hp.length; i++) assertGrad(numGrad(hp, i, a -> loss.apply(v)), dp[i], "dhPrev[" + i + "]");
        }
    }

    @ParameterizedTest
    @CsvSource({"3,1,0,false", "4,1,1,false", "3,2,2,true", "4,2,1,true", "3,1,2,true"})
    void sruBackward(int k, int dirs, int actCode, boolean withMask) {
        Activation act = Activation.ofCode(actCode);
        int T = 3, B = 2, d = 2, nc = dirs * d;
        float[] u = rand(T * B * nc * k), x = rand(T * B * nc), bias = rand(2 * nc), c0 = rand(B * nc);
        float[] mask = new float[B * nc];
        for (int i = 0; i < mask.length; i++) mask[i] = withMask ? (i % 3 == 0 ? 0f : 1.25f) : 1f;
        float[] wh = rand(T * B * nc), wc = rand(B * nc);
        if (act == Activation.RELU) for (int i = 0; i < u.length; i += k) u[i] = Math.abs(u[i]) + 0.2f; // c stays > 0
        if (act == Activation.RELU) for (int i = 0; i < c0.length; i++) c0[i] = Math.abs(c0[i]) + 0.2f;
        java.util.function.Function<float[][], Double> loss = v -> {
            try (DeviceBuffer U = up(v[0]); DeviceBuffer X = up(v[1]); DeviceBuffer Bi = up(v[2]); DeviceBuffer C0 = up(v[3]);
                 DeviceBuffer M = up(mask); DeviceBuffer Hh = be.allocate(T * B * nc); DeviceBuffer C = be.allocate(T * B * nc);
                 DeviceBuffer CL = be.allocate(B * nc)) {
                SruCalls.forward(be, T, B, d, dirs, k, act, U, 0, X, 0, Bi, 0, C0, 0, M, 0, Hh, 0, C, 0, CL, 0);
                return dot(down(Hh), wh) + dot(down(CL), wc);
            }
        };
        float[][] v = {u, x, bias, c0};
        try (DeviceBuffer U = up(u); DeviceBuffer X = up(x); DeviceBuffer Bi = up(bias); DeviceBuffer C0 = up(c0);
             DeviceBuffer M = up(mask); DeviceBuffer Hh = be.allocate(T * B * nc); DeviceBuffer C = be.allocate(T * B * nc);
             DeviceBuffer CL = be.allocate(B * nc); DeviceBuffer WH = up(wh); DeviceBuffer WC = up(wc);
             DeviceBuffer DU = be.allocate(u.length); DeviceBuffer DX = be.allocate(x.length);
             DeviceBuffer DB = be.allocate(B * 2 * nc); DeviceBuffer DC0 = be.allocate(B * nc)) {
            SruCalls.forward(be, T, B, d, dirs, k, act, U, 0, X, 0, Bi, 0, C0, 0, M, 0, Hh, 0, C, 0, CL, 0);
            // cLast really is [c_{T-1}(dir 0), c_0(dir 1)]
            float[] c = down(C), cl = down(CL);
            for (int b = 0; b < B; b++)
                for (int col = 0; col < nc; col++) {
                    int t = col < d ? T - 1 : 0;
                    assertEquals(c[(t * B + b) * nc + col], cl[b * nc + col]);
                }
            SruCalls.backward(be, T, B, d, dirs, k, act, U, 0, X, 0, Bi, 0, C0, 0, M, 0, C, 0, WH, 0, WC, 0, DU, 0, DX, 0, DB, 0, DC0, 0);
            float[] du = down(DU), dx = down(DX), db = down(DB), dc0 = down(DC0);
            for (int i = 0; i < u.length; i++) assertGrad(numGrad(u, i, a -> loss.apply(v)), du[i], "du[" + i + "]");
            if (k == 3) for (int i = 0; i < x.length; i++) assertGrad(numGrad(x, i, a -> loss.apply(v)), dx[i], "dx[" + i + "]");
            for (int i = 0; i < c0.length; i++) assertGrad(numGrad(c0, i, a -> loss.apply(v)), dc0[i], "dc0[" + i + "]");
            for (int j = 0; j < bias.length; j++) {
                double sum = 0;
                for (int b = 0; b < B; b++) sum += db[b * 2 * nc + j];
                assertGrad(numGrad(bias, j, a -> loss.apply(v)), (float) sum, "dbias[" + j + "]");
            }
        }
    }

    @Test
    void buffersAreOwnedAndCloseIsIdempotent() {
        DeviceBuffer b = be.allocate(4);
        assertEquals(1, be.liveBuffers());
        b.close();
        b.close();
        assertTrue(b.isClosed());
        assertEquals(0, be.liveBuffers());
        assertThrows(IllegalStateException.class, () -> be.fill(b, 0, 4, 1f));
        try (ReferenceBackend other = new ReferenceBackend(); DeviceBuffer foreign = other.allocate(2); DeviceBuffer mine = be.allocate(2)) {
            assertThrows(IllegalArgumentException.class, () -> be.copy(foreign, 0, mine, 0, 2));
        }
    }
}
