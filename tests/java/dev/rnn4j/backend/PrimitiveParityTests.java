package dev.rnn4j.backend;

import dev.rnn4j.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The one parity suite: every op of a backend against the reference backend, on random data and
 * awkward shapes (sizes 1, 7, 37, 129, more than one tile, non-zero offsets, leading dimensions
 * larger than the rows, every transpose combination, batches, T = 1, B = 1, K = 3/4, one and two
 * directions, every activation, optional arguments null and present). Each backend's test class
 * (cpu, opencl, cuda and their variants) extends it and names the backend.
 *
 * <p>Every op the suite runs is recorded per backend; when the whole class has run,
 * {@link #everyOpIsCoveredOrReported} fails if some {@link Op} type was neither exercised nor
 * declared unsupported by the backend, and prints which ops the backend does not support.
 */
public abstract class PrimitiveParityTests {
    private static final int[] SIZES = {1, 7, 37, 129, 1000, 4099};
    /** Tolerance of the float32 pointwise kernels against the double reference. */
    private static final double RTOL = 2e-5, ATOL = 2e-6;

    private TwinHarness h;

    /** The backend under test (subclasses run everything again on a differently built one). */
    protected abstract Backend backend();

    /** How failure messages name the backend under test ("cpu", "opencl"). */
    protected abstract String label();

    /** How the leak check names the backend under test ("cpu", "OpenCL"). */
    protected abstract String leakLabel();

    /** Op types run on the backend under test, and test methods run, per concrete test class. */
    private static final Map<Class<?>, Set<Class<?>>> COVERED = new ConcurrentHashMap<>();
    private static final Map<Class<?>, Set<String>> METHODS_RUN = new ConcurrentHashMap<>();
    private static final Map<Class<?>, Backend> BACKENDS = new ConcurrentHashMap<>();

    @BeforeEach
    void setUp(TestInfo info) {
        Backend be = backend();
        BACKENDS.put(getClass(), be);
        METHODS_RUN.computeIfAbsent(getClass(), c -> ConcurrentHashMap.newKeySet()).add(info.getTestMethod().orElseThrow().getName());
        Set<Class<?>> covered = COVERED.computeIfAbsent(getClass(), c -> ConcurrentHashMap.newKeySet());
        h = new TwinHarness(new RecordingBackend(be, covered), info.getDisplayName().hashCode(), label(), leakLabel());
    }

    /**
     * After the whole suite ran on a backend: each op type is either covered or one the backend
     * says it does not support (listed). Skipped when only some of the suite's tests were selected.
     */
    @AfterAll
    static void everyOpIsCoveredOrReported(TestInfo info) {
        Class<?> cls = info.getTestClass().orElseThrow();
        Backend be = BACKENDS.get(cls);
        if (be == null) return;   // the backend is absent here: every test was skipped
        Set<String> declared = new java.util.TreeSet<>();
        for (java.lang.reflect.Method m : PrimitiveParityTests.class.getDeclaredMethods())
            if (m.isAnnotationPresent(Test.class) || m.isAnnotationPresent(ParameterizedTest.class)) declared.add(m.getName());
        if (!METHODS_RUN.getOrDefault(cls, Set.of()).containsAll(declared)) return;
        Set<Class<?>> covered = COVERED.getOrDefault(cls, Set.of());
        List<String> missing = new ArrayList<>(), unsupported = new ArrayList<>();
        for (Class<?> op : Op.class.getPermittedSubclasses()) {
            @SuppressWarnings("unchecked") Class<? extends Op<?>> type = (Class<? extends Op<?>>) op;
            if (!be.supports(type)) unsupported.add(op.getSimpleName());
            else if (!covered.contains(op)) missing.add(op.getSimpleName());
        }
        System.out.println("parity suite on " + be.name() + " (" + cls.getSimpleName() + "): " + covered.size() + " of "
                + Op.class.getPermittedSubclasses().length + " ops checked against the reference"
                + (unsupported.isEmpty() ? "" : "; not supported by this backend: " + String.join(", ", unsupported)));
        assertTrue(missing.isEmpty(), "ops the parity suite never ran on " + be.name() + ": " + missing);
    }

    @AfterEach
    void tearDown() {
        if (h != null) h.close();
    }

    // ---------------------------------------------------------------- memory

    @Test
    void copyFillAndTransfers() {
        for (int n : SIZES) {
            int off = n % 5, pad = 3;
            TwinHarness.Twin src = h.rand(n + off + pad), dst = h.rand(n + 2 * pad);
            h.both(be -> be.copy(src.on(be), off, dst.on(be), pad, n));
            h.assertExact(dst, "copy n=" + n);
            h.both(be -> be.fill(dst.on(be), 1, n, -2.5f));
            h.assertExact(dst, "fill n=" + n);
            // copy within one buffer, disjoint ranges
            TwinHarness.Twin same = h.rand(2 * n + 1);
            h.both(be -> be.copy(same.on(be), 0, same.on(be), n + 1, n));
            h.assertExact(same, "copy within a buffer n=" + n);
            // partial upload and download at offsets
            float[] data = h.uniform(n + 4, 1f);
            h.both(be -> be.upload(data, 2, src.on(be), 1, n));
            h.assertExact(src, "upload n=" + n);
            float[] back = new float[n + 6];
            h.fast.download(src.o, 1, back, 3, n);
            for (int i = 0; i < n; i++) assertEquals(data[2 + i], back[3 + i]);
            assertEquals(0f, back[0]);
            h.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,129", "129,1", "7,37", "37,7", "16,16", "17,33", "200,65"})
    void copy2d(int rows, int cols) {
        int srcLd = cols + 3, dstLd = cols + 1;
        TwinHarness.Twin src = h.rand(rows * srcLd + 5), dst = h.rand(rows * dstLd + 4);
        h.both(be -> be.copy2d(rows, cols, src.on(be), 2, srcLd, dst.on(be), 3, dstLd));
        h.assertExact(dst, "copy2d");
        TwinHarness.Twin tight = h.rand(rows * cols);
        h.both(be -> be.copy2d(rows, cols, src.on(be), 0, srcLd, tight.on(be), 0, cols));
        h.assertExact(tight, "copy2d packed");
    }

    @Test
    void allocateIsZeroFilled() {
        for (int n : new int[]{0, 1, 37, 4099}) {
            try (var b = h.fast.allocate(n)) {
                assertEquals(n, b.size());
                float[] a = new float[n];
                java.util.Arrays.fill(a, 9f);
                h.fast.download(b, 0, a, 0, n);
                for (float v : a) assertEquals(0f, v);
            }
        }
    }

    // ---------------------------------------------------------------- GEMM

    private static final int[][] GEMM_SHAPES = {
            {1, 1, 1}, {1, 7, 37}, {7, 1, 129}, {37, 129, 1}, {129, 37, 7}, {129, 129, 129},
            {16, 16, 16}, {17, 15, 33}, {3, 200, 5}, {200, 3, 64}, {33, 65, 17}, {7, 37, 0},
            // from one 64 x 64 block up: the register-blocked kernel, with partial blocks
            {64, 64, 1}, {65, 130, 31}, {100, 64, 16}, {64, 129, 0}};

    @ParameterizedTest(name = "transA={0} transB={1}")
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void gemm(boolean ta, boolean tb) {
        float[] alphas = {1f, -0.5f, 2.25f}, betas = {0f, 1f, -0.75f};
        int caseNo = 0;
        for (int[] s : GEMM_SHAPES) {
            for (int batch : new int[]{1, 3}) {
                int m = s[0], n = s[1], k = s[2];
                float alpha = alphas[caseNo % 3], beta = betas[(caseNo / 3 + caseNo) % 3];
                caseNo++;
                gemmCase(ta, tb, m, n, k, batch, alpha, beta, h.rnd.nextInt(4), h.rnd.nextInt(6));
            }
        }
    }

    private void gemmCase(boolean ta, boolean tb, int m, int n, int k, int batch, float alpha, float beta, int pad, int off) {
        String what = "gemm ta=" + ta + " tb=" + tb + " m=" + m + " n=" + n + " k=" + k + " batch=" + batch
                + " alpha=" + alpha + " beta=" + beta + " pad=" + pad + " off=" + off;
        int rowsA = ta ? k : m, colsA = ta ? m : k, rowsB = tb ? n : k, colsB = tb ? k : n;
        int lda = colsA + pad, ldb = colsB + pad + 1, ldc = n + pad;
        // a gap of more than a row between the batches of C and after the last, so that a write past
        // row m-1 or column n-1 lands in memory the comparison sees
        long sA = (long) rowsA * lda + 2, sB = (long) rowsB * ldb + 1, sC = (long) (m + 1) * ldc + 3;
        int aOff = off, bOff = off + 1, cOff = 2 * off;
        float[] a = h.uniform((int) (aOff + batch * sA + 2), 1f), b = h.uniform((int) (bOff + batch * sB + 2), 1f);
        float[] c = h.uniform((int) (cOff + batch * sC + ldc + 2), 1f);
        if (beta == 0f) java.util.Arrays.fill(c, Float.NaN); // C must not be read
        TwinHarness.Twin A = h.twin(a), B = h.twin(b), C = h.twin(c);
        h.both(be -> be.gemm(ta, tb, m, n, k, alpha, A.on(be), aOff, lda, B.on(be), bOff, ldb, beta, C.on(be), cOff, ldc,
                batch, sA, sB, sC));
        // Error bound of a float32 dot product: (k+1) eps sum|a||b| (+ the beta term); 16x margin.
        double[] mag = gemmMagnitude(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, batch, sA, sB, sC);
        double[] tol = new double[mag.length];
        for (int i = 0; i < tol.length; i++) tol[i] = 1e-6 * (k + 2) * mag[i];
        h.assertWithin(C, tol, what);
        h.release();
    }

    /** The reference GEMM over |A|, |B|, |C| with |alpha|, |beta|: the scale of each element's rounding error. */
    private static double[] gemmMagnitude(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
                                          float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc,
                                          int batch, long sA, long sB, long sC) {
        try (ReferenceBackend r = new ReferenceBackend(); var A = r.allocate(a.length); var B = r.allocate(b.length);
             var C = r.allocate(c.length)) {
            r.upload(abs(a), 0, A, 0, a.length);
            r.upload(abs(b), 0, B, 0, b.length);
            r.upload(beta == 0f ? new float[c.length] : abs(c), 0, C, 0, c.length);
            r.gemm(ta, tb, m, n, k, Math.abs(alpha), A, aOff, lda, B, bOff, ldb, Math.abs(beta), C, cOff, ldc, batch, sA, sB, sC);
            float[] out = new float[c.length];
            r.download(C, 0, out, 0, c.length);
            double[] d = new double[out.length];
            for (int i = 0; i < d.length; i++) d[i] = out[i];
            return d;
        }
    }

    private static float[] abs(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < a.length; i++) o[i] = Math.abs(a[i]);
        return o;
    }

    @Test
    void gemmLargerThanManyTilesAndManyBatches() {
        gemmCase(false, true, 300, 170, 150, 2, 1f, 0f, 1, 3);
        gemmCase(true, false, 45, 50, 260, 2, -1f, 0.5f, 2, 0);
        gemmCase(false, false, 5, 6, 7, 70, 1f, 1f, 0, 1);
    }

    @Test
    void gemmBetaZeroIgnoresNaNAndSharedOperands() {
        // B shared by every batch (stride 0), as a layer does with one weight matrix.
        int m = 7, n = 37, k = 5, batch = 3;
        TwinHarness.Twin A = h.rand(batch * m * k), B = h.rand(k * n), C = h.filled(batch * m * n, Float.NaN);
        h.both(be -> be.gemm(false, false, m, n, k, 1f, A.on(be), 0, k, B.on(be), 0, n, 0f, C.on(be), 0, n,
                batch, (long) m * k, 0, (long) m * n));
        h.assertClose(C, 1e-5, 1e-5, "gemm stride 0");
        for (float v : C.fastData()) assertTrue(Float.isFinite(v));
    }

    @Test
    void gemmDegenerateSizes() {
        TwinHarness.Twin A = h.rand(20), B = h.rand(20), C = h.rand(20);
        // k == 0: C = beta * C
        h.both(be -> be.gemm(false, false, 3, 4, 0, 1f, A.on(be), 0, 1, B.on(be), 0, 4, 0.5f, C.on(be), 0, 4, 1, 0, 0, 0));
        h.assertClose(C, 1e-7, 0, "gemm k=0");
        float[] before = C.fastData();
        // m == 0, n == 0, batch == 0: nothing happens (and no OpenBLAS or CL error)
        h.fast.gemm(false, false, 0, 4, 3, 1f, A.o, 0, 3, B.o, 0, 4, 0f, C.o, 0, 4, 1, 0, 0, 0);
        h.fast.gemm(false, false, 3, 0, 3, 1f, A.o, 0, 3, B.o, 0, 4, 0f, C.o, 0, 4, 1, 0, 0, 0);
        h.fast.gemm(true, true, 3, 4, 3, 1f, A.o, 0, 3, B.o, 0, 4, 0f, C.o, 0, 4, 0, 0, 0, 0);
        assertTrue(java.util.Arrays.equals(before, C.fastData()));
    }

    // ---------------------------------------------------------------- element-wise

    @Test
    void elementwise() {
        for (int n : SIZES) {
            int off = (n * 7) % 4;
            TwinHarness.Twin x = h.rand(n + off), y = h.rand(n + 5), out = h.rand(n + 2);
            h.both(be -> be.axpy(n, -1.75f, x.on(be), off, y.on(be), 5));
            h.assertClose(y, 1e-6, 1e-7, "axpy n=" + n);
            h.both(be -> be.scale(n, 0.3f, x.on(be), off));
            h.assertExact(x, "scale n=" + n);
            h.both(be -> be.mul(n, x.on(be), off, y.on(be), 5, out.on(be), 1));
            h.assertExact(out, "mul n=" + n);
            h.both(be -> be.mul(n, out.on(be), 1, y.on(be), 5, out.on(be), 1)); // out aliases a
            h.assertExact(out, "mul in place n=" + n);
            h.release();
        }
    }

    @Test
    void adamStep() {
        for (int n : SIZES) {
            int off = (n * 3) % 5;
            float[] second = h.uniform(n + 2, 1f);
            for (int i = 0; i < second.length; i++) second[i] = second[i] * second[i];   // v >= 0, as Adam keeps it
            TwinHarness.Twin g = h.rand(n + off), m = h.rand(n + 1), v = h.twin(second), p = h.rand(n + 3);
            for (int t = 1; t <= 3; t++) {   // the bias corrections of steps 1..3 (lr 1e-2, betas 0.9, 0.999)
                float stepSize = (float) (1e-2 / (1 - Math.pow(0.9, t))), bc2 = (float) Math.sqrt(1 - Math.pow(0.999, t));
                h.both(be -> be.run(new Op.AdamStep(n, 0.9f, 0.999f, stepSize, bc2, 1e-8f, g.on(be), off, m.on(be), 1, v.on(be), 2, p.on(be), 3)));
            }
            h.assertClose(m, 1e-6, 1e-7, "adamStep m n=" + n);
            h.assertClose(v, 1e-6, 1e-7, "adamStep v n=" + n);
            h.assertClose(p, RTOL, ATOL, "adamStep p n=" + n);
            h.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,129", "129,1", "7,37", "37,7", "3,1000", "40,17"})
    void rowBroadcasts(int rows, int cols) {
        TwinHarness.Twin x = h.rand(rows * cols + 3), m = h.rand(cols + 2), out = h.rand(rows * cols + 1);
        h.both(be -> be.mulRows(rows, cols, x.on(be), 3, m.on(be), 2, out.on(be), 1));
        h.assertExact(out, "mulRows");
        h.both(be -> be.mulRows(rows, cols, x.on(be), 3, m.on(be), 0, x.on(be), 3)); // out aliases x
        h.assertExact(x, "mulRows in place");
        int ldc = cols + 4;
        TwinHarness.Twin c = h.rand(rows * ldc + 2);
        h.both(be -> be.addRowVector(rows, cols, m.on(be), 1, c.on(be), 2, ldc));
        h.assertExact(c, "addRowVector");
    }

    // ---------------------------------------------------------------- reductions

    @ParameterizedTest
    @CsvSource({"1,1", "1,129", "129,1", "7,37", "37,7", "0,5", "1000,3", "33,200", "5000,17"})
    void sumRows(int rows, int cols) {
        int lda = cols + 2;
        float[] a = h.uniform(rows * lda + 4, 1f);
        TwinHarness.Twin A = h.twin(a);
        double[] tol = new double[cols + 3];
        double[] colAbs = new double[cols];
        for (int r = 0; r < rows; r++) for (int j = 0; j < cols; j++) colAbs[j] += Math.abs(a[1 + r * lda + j]);
        for (float beta : new float[]{0f, 1f, -0.5f}) {
            float[] o = h.uniform(cols + 3, 1f);
            if (beta == 0f) java.util.Arrays.fill(o, Float.NaN);
            TwinHarness.Twin out = h.twin(o);
            h.both(be -> be.sumRows(rows, cols, A.on(be), 1, lda, beta, out.on(be), 2));
            for (int j = 0; j < cols; j++) tol[2 + j] = 1e-6 * (rows + 2) * (colAbs[j] + (beta == 0 ? 0 : Math.abs(beta * o[2 + j])));
            h.assertWithin(out, tol, "sumRows beta=" + beta);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 37, 129, 255, 256, 257, 100_000, 1_000_003})
    void sumSquares(int n) {
        TwinHarness.Twin x = h.rand(n + 3);
        double e = h.ref.sumSquares(n, x.r, 3), g = h.fast.sumSquares(n, x.o, 3);
        assertEquals(e, g, 1e-5 * e, "sumSquares n=" + n);
        assertEquals(0.0, h.fast.sumSquares(0, x.o, 0));
    }

    // ---------------------------------------------------------------- dropout

    @ParameterizedTest
    @CsvSource({"1,0.5,0", "37,0.1,1", "129,0.9,-1", "100003,0.3,81985529216486895", "4099,0,7", "4099,0.999,-9223372036854775808"})
    void dropoutMaskIsBitExact(int n, float p, long seed) {
        TwinHarness.Twin out = h.rand(n + 4);
        h.both(be -> be.dropoutMask(n, p, seed, out.on(be), 3));
        h.assertExact(out, "dropoutMask n=" + n + " p=" + p + " seed=" + seed);
    }

    // ---------------------------------------------------------------- recurrent pointwise

    @ParameterizedTest
    @EnumSource(Activation.class)
    void rnnPointwise(Activation act) {
        for (int n : SIZES) {
            TwinHarness.Twin pre = h.twin(h.uniform(n + 1, 3f)), out = h.rand(n + 2);
            h.both(be -> be.rnnPointwiseForward(act, n, pre.on(be), 1, out.on(be), 2));
            h.assertClose(out, RTOL, ATOL, "rnn forward " + act + " n=" + n);
            TwinHarness.Twin hv = h.twin(out.refData()), dh = h.rand(n + 3), dpre = h.rand(n);
            h.both(be -> be.rnnPointwiseBackward(act, n, hv.on(be), 2, dh.on(be), 3, dpre.on(be), 0));
            h.assertClose(dpre, RTOL, ATOL, "rnn backward " + act + " n=" + n);
            h.both(be -> be.rnnPointwiseBackward(act, n, hv.on(be), 2, dh.on(be), 3, dh.on(be), 3)); // dpre aliases dh
            h.assertClose(dh, RTOL, ATOL, "rnn backward in place " + act + " n=" + n);
            h.release();
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "3,37", "2,129", "5,1", "1,300"})
    void lstmPointwise(int batch, int hidden) {
        int n = batch * hidden;
        TwinHarness.Twin gates = h.twin(h.uniform(4 * n + 2, 4f)), cPrev = h.twin(h.uniform(n + 1, 2f));
        TwinHarness.Twin c = h.rand(n + 3), hh = h.rand(n);
        h.both(be -> be.lstmPointwiseForward(batch, hidden, gates.on(be), 2, cPrev.on(be), 1, c.on(be), 3, hh.on(be), 0));
        h.assertClose(gates, RTOL, ATOL, "lstm forward gates");
        h.assertClose(c, RTOL, ATOL, "lstm forward c");
        h.assertClose(hh, RTOL, ATOL, "lstm forward h");
        // backward from the reference's forward results
        TwinHarness.Twin g = h.twin(gates.refData()), cc = h.twin(c.refData()), dh = h.rand(n + 1), dcNext = h.rand(n + 2);
        for (boolean withDc : new boolean[]{false, true}) {
            TwinHarness.Twin dGates = h.rand(4 * n + 1), dcPrev = h.rand(n + 2);
            h.both(be -> be.lstmPointwiseBackward(batch, hidden, g.on(be), 2, cPrev.on(be), 1, cc.on(be), 3, dh.on(be), 1,
                    withDc ? dcNext.on(be) : null, 2, dGates.on(be), 1, dcPrev.on(be), 0));
            h.assertClose(dGates, RTOL, ATOL, "lstm backward dGates dcNext=" + withDc);
            h.assertClose(dcPrev, RTOL, ATOL, "lstm backward dcPrev dcNext=" + withDc);
        }
        TwinHarness.Twin dGates = h.rand(4 * n);
        h.both(be -> be.lstmPointwiseBackward(batch, hidden, g.on(be), 2, cPrev.on(be), 1, cc.on(be), 3, dh.on(be), 1,
                dcNext.on(be), 2, dGates.on(be), 0, dcNext.on(be), 2)); // dcPrev aliases dcNext
        h.assertClose(dcNext, RTOL, ATOL, "lstm backward dcPrev in place");
        h.assertClose(dGates, RTOL, ATOL, "lstm backward dGates (aliased dc)");
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "3,37", "2,129", "5,1", "1,300"})
    void gruPointwise(int batch, int hidden) {
        int n = batch * hidden;
        TwinHarness.Twin gx = h.twin(h.uniform(3 * n + 1, 3f)), gh = h.twin(h.uniform(3 * n + 2, 3f)), hPrev = h.rand(n + 3);
        TwinHarness.Twin bias = h.twin(h.uniform(3 * hidden + 2, 2f));
        for (boolean withBias : new boolean[]{false, true}) {
            String tag = " bias=" + withBias;
            TwinHarness.Twin out = h.rand(n + 1), saved = h.rand(4 * n + 2);
            if (withBias) {
                h.both(be -> be.gruPointwiseForward(batch, hidden, gx.on(be), 1, gh.on(be), 2, bias.on(be), 1,
                        hPrev.on(be), 3, out.on(be), 1, saved.on(be), 2));
            } else {
                h.both(be -> be.gruPointwiseForward(batch, hidden, gx.on(be), 1, gh.on(be), 2, hPrev.on(be), 3, out.on(be), 1,
                        saved.on(be), 2));
            }
            h.assertClose(out, RTOL, ATOL, "gru forward h" + tag);
            h.assertClose(saved, RTOL, ATOL, "gru forward saved" + tag);
            if (withBias) {
                // the fused bias must equal adding b_hh to gh first (saved gh_n is the biased value)
                TwinHarness.Twin ghB = h.twin(gh.refData()), out2 = h.rand(n + 1), saved2 = h.rand(4 * n + 2);
                h.both(be -> {
                    be.addRowVector(batch, 3 * hidden, bias.on(be), 1, ghB.on(be), 2, 3 * hidden);
                    be.gruPointwiseForward(batch, hidden, gx.on(be), 1, ghB.on(be), 2, hPrev.on(be), 3, out2.on(be), 1,
                            saved2.on(be), 2);
                });
                // compared over the written ranges only (the padding around them is random per twin)
                assertArrayClose(out2.refData(), out.refData(), 1, n, "gru fused bias h (reference)");
                assertArrayClose(out2.fastData(), out.fastData(), 1, n, "gru fused bias h");
                assertArrayClose(saved2.refData(), saved.refData(), 2, 4 * n, "gru fused bias saved (reference)");
                assertArrayClose(saved2.fastData(), saved.fastData(), 2, 4 * n, "gru fused bias saved");
            }
            TwinHarness.Twin s = h.twin(saved.refData()), dh = h.rand(n), dgx = h.rand(3 * n + 1), dgh = h.rand(3 * n + 2),
                    dhp = h.rand(n + 1);
            h.both(be -> be.gruPointwiseBackward(batch, hidden, s.on(be), 2, hPrev.on(be), 3, dh.on(be), 0, dgx.on(be), 1,
                    dgh.on(be), 2, dhp.on(be), 1));
            h.assertClose(dgx, RTOL, ATOL, "gru backward dgx" + tag);
            h.assertClose(dgh, RTOL, ATOL, "gru backward dgh" + tag);
            h.assertClose(dhp, RTOL, ATOL, "gru backward dhPrevPartial" + tag);
        }
    }

    // ---------------------------------------------------------------- whole recurrence

    /**
     * The whole forward recurrence against the reference's per-step sequence: every cell, one and
     * several rows (the fast tiles' edges: 1, 2, 6, 8 rows and what is left over), hidden sizes
     * inside one vector, across panels and with a partial last panel, forward and reverse, full
     * and variable-length batches (rows shrinking over time, a step with no rows), GRU with and
     * without b_hh, non-zero offsets; every buffer compared whole (slots not written must stay as
     * they were). Where the backend declares the op unsupported, running it must say so.
     */
    @ParameterizedTest
    @MethodSource("dev.rnn4j.nn.Cells#fused")
    void recurrentForward(Op.RecurrentForward.Cell cell) {
        if (!h.fast.supports(Op.RecurrentForward.class)) {
            try (DeviceBuffer g = h.fast.allocate(16); DeviceBuffer w = h.fast.allocate(16); DeviceBuffer hh = h.fast.allocate(16);
                 DeviceBuffer c = h.fast.allocate(16); DeviceBuffer sv = h.fast.allocate(16)) {
                boolean lstm = cell.hasCellState(), gru = cell.savedWidth() > 0;
                Op.RecurrentForward op = new Op.RecurrentForward(cell, 1, 1, new int[]{1}, false, g, 0, w, 0, null, 0,
                        hh, 0, lstm ? c : null, 0, gru ? sv : null, 0);
                org.junit.jupiter.api.Assertions.assertThrows(UnsupportedOperationException.class, () -> h.fast.run(op));
            }
            return;
        }
        int[][] shapes = {{1, 1, 1}, {3, 1, 37}, {4, 2, 17}, {2, 13, 129}, {5, 32, 20}, {3, 9, 70}};
        for (int[] shape : shapes) {
            int T = shape[0], B = shape[1], H = shape[2];
            for (boolean reverse : new boolean[]{false, true})
                for (boolean varlen : B > 1 ? new boolean[]{false, true} : new boolean[]{false}) {
                    int[] rows = new int[T];
                    for (int t = 0; t < T; t++) {
                        // sorted by length: non-increasing over time; the last step of a varlen batch may have no rows
                        int prev = t == 0 ? B : rows[t - 1];
                        rows[t] = !varlen ? B : t == T - 1 && T > 1 ? h.rnd.nextInt(prev + 1) : 1 + h.rnd.nextInt(prev);
                    }
                    for (boolean bias : cell.takesHiddenBias() ? new boolean[]{false, true} : new boolean[]{false})
                        recurrentCase(cell, T, B, H, rows, reverse, bias);
                }
        }
    }

    private void recurrentCase(Op.RecurrentForward.Cell cell, int T, int B, int H, int[] rows, boolean reverse, boolean bias) {
        String what = "recurrentForward " + cell + " T=" + T + " B=" + B + " H=" + H + " rows=" + java.util.Arrays.toString(rows)
                + " reverse=" + reverse + " biasHh=" + bias;
        int gh = cell.gates() * H, n = 0;
        for (int r : rows) n += r;
        boolean lstm = cell.hasCellState(), gru = cell.savedWidth() > 0;
        int slots = (T + 1) * B * H;
        float ws = (float) (1.5 / Math.sqrt(H));
        TwinHarness.Twin gx = h.twin(h.uniform(n * gh + 3, 2f)), whh = h.twin(h.uniform(gh * H + 1, ws));
        TwinHarness.Twin bh = h.twin(h.uniform(gh + 2, 1f)), hs = h.rand(slots + 2);
        TwinHarness.Twin cs = lstm ? h.rand(slots + 1) : null, sv = gru ? h.rand(4 * n * H + 4) : null;
        h.both(be -> be.run(new Op.RecurrentForward(cell, B, H, rows, reverse, gx.on(be), 3, whh.on(be), 1,
                bias ? bh.on(be) : null, 2, hs.on(be), 2, lstm ? cs.on(be) : null, 1, gru ? sv.on(be) : null, 4)));
        double rtol = 1e-4, atol = 2e-5;
        h.assertClose(hs, rtol, atol, what + " h");
        h.assertClose(gx, rtol, atol, what + " gx");
        if (lstm) h.assertClose(cs, rtol, atol, what + " c");
        if (gru) h.assertClose(sv, rtol, atol, what + " saved");
        h.assertExact(whh, what + " W_hh (read only)");
        h.release();
    }

    private static void assertArrayClose(float[] want, float[] got, int off, int count, String what) {
        for (int i = off; i < off + count; i++) {
            double tol = ATOL + RTOL * Math.abs(want[i]);
            if (!(Math.abs(want[i] - got[i]) <= tol)) fail(what + " [" + i + "]: want " + want[i] + " got " + got[i]);
        }
    }

    // ---------------------------------------------------------------- SRU

    /**
     * For each K, direction count and activation: four cases covering hidden 1, 7, 37, 129,
     * T = 1 and longer, B = 1 and more, and c0 / mask / dcLast each absent and present.
     */
    @ParameterizedTest(name = "k={0} dirs={1} act={2}")
    @CsvSource({"3,1,IDENTITY", "3,1,TANH", "3,1,RELU", "3,2,IDENTITY", "3,2,TANH", "3,2,RELU",
                "4,1,IDENTITY", "4,1,TANH", "4,1,RELU", "4,2,IDENTITY", "4,2,TANH", "4,2,RELU"})
    void sru(int k, int dirs, Activation act) {
        int[][] cases = { // seqLen, batch, hidden, flags (bit 0 c0, bit 1 mask, bit 2 dcLast)
                {1, 1, 1, 0}, {5, 3, 7, 7}, {23, 1, 37, 3}, {4, 2, 129, 4}, {2, 4, 37, 5}, {9, 2, 1, 2}};
        for (int[] cs : cases) sruCase(cs[0], cs[1], cs[2], dirs, k, act, (cs[3] & 1) != 0, (cs[3] & 2) != 0, (cs[3] & 4) != 0);
    }

    private void sruCase(int T, int B, int d, int dirs, int k, Activation act, boolean withC0, boolean withMask, boolean withDc) {
        String what = "sru T=" + T + " B=" + B + " d=" + d + " dirs=" + dirs + " k=" + k + " act=" + act
                + " c0=" + withC0 + " mask=" + withMask + " dcLast=" + withDc;
        int nc = dirs * d, state = B * nc, seq = T * state;
        int o1 = 1, o2 = 2, o3 = 3;
        TwinHarness.Twin u = h.twin(h.uniform(seq * k + o1, 2f)), x = h.rand(seq + o2), bias = h.rand(2 * nc + o3);
        TwinHarness.Twin c0 = h.rand(state + o1);
        float[] m = new float[state + o2];
        for (int i = 0; i < m.length; i++) m[i] = h.rnd.nextInt(4) == 0 ? 0f : 1.25f;
        TwinHarness.Twin mask = h.twin(m);
        TwinHarness.Twin hh = h.rand(seq + o3), c = h.rand(seq + o1), cLast = h.rand(state + o2);
        h.both(be -> SruCalls.forward(be, T, B, d, dirs, k, act, u.on(be), o1, k == 3 ? x.on(be) : null, o2, bias.on(be), o3,
                withC0 ? c0.on(be) : null, o1, withMask ? mask.on(be) : null, o2, hh.on(be), o3, c.on(be), o1, cLast.on(be), o2));
        double rtol = 1e-4, atol = 1e-5;
        h.assertClose(hh, rtol, atol, what + " h");
        h.assertClose(c, rtol, atol, what + " c");
        h.assertClose(cLast, rtol, atol, what + " cLast");

        TwinHarness.Twin cs = h.twin(c.refData()), dh = h.rand(seq + o2), dcLast = h.rand(state + o3);
        TwinHarness.Twin du = h.rand(seq * k + o1), dx = h.rand(seq + o2), dBias = h.rand(2 * state + o3), dc0 = h.rand(state);
        h.both(be -> SruCalls.backward(be, T, B, d, dirs, k, act, u.on(be), o1, k == 3 ? x.on(be) : null, o2, bias.on(be), o3,
                withC0 ? c0.on(be) : null, o1, withMask ? mask.on(be) : null, o2, cs.on(be), o1, dh.on(be), o2,
                withDc ? dcLast.on(be) : null, o3, du.on(be), o1, k == 3 ? dx.on(be) : null, o2, dBias.on(be), o3, dc0.on(be), 0));
        h.assertClose(du, rtol, atol, what + " du");
        h.assertClose(dx, rtol, atol, what + " dx");
        h.assertClose(dBias, rtol, atol * T, what + " dBias");
        h.assertClose(dc0, rtol, atol, what + " dc0");
        h.release();
    }

    /**
     * The sru 2.x options of the same op pair: weight_c peepholes (and their gradient), the scaled
     * K = 3 skip, no skip term, the 2.x dropout placement and per-row lengths (mask_pad; unsorted,
     * some 1, some T), each with c0, mask and dcLast present.
     */
    @ParameterizedTest(name = "k={0} dirs={1} act={2} skip={3} lengths={4}")
    @CsvSource({"3,1,IDENTITY,true,false", "3,1,TANH,true,true", "3,2,IDENTITY,true,true", "3,2,TANH,false,true",
                "3,1,IDENTITY,false,false", "4,1,TANH,true,true", "4,2,IDENTITY,true,true", "4,2,TANH,true,false"})
    void sru2(int k, int dirs, Activation act, boolean skip, boolean withLengths) {
        int[][] cases = {{1, 1, 1}, {5, 3, 7}, {23, 2, 37}, {4, 5, 129}, {9, 4, 1}};
        for (int[] cs : cases) sru2Case(cs[0], cs[1], cs[2], dirs, k, act, skip, withLengths, cs[0] % 2 == 1);
    }

    private void sru2Case(int T, int B, int d, int dirs, int k, Activation act, boolean skip, boolean withLengths, boolean gate) {
        int[] lengths = null;
        if (withLengths) {
            lengths = new int[B];
            for (int b = 0; b < B; b++) lengths[b] = b == 0 ? T : b == 1 ? 1 : 1 + h.rnd.nextInt(T);
        }
        int[] len = lengths;
        String what = "sru2 T=" + T + " B=" + B + " d=" + d + " dirs=" + dirs + " k=" + k + " act=" + act + " skip=" + skip
                + " maskOnGate=" + gate + " lengths=" + java.util.Arrays.toString(lengths);
        int nc = dirs * d, state = B * nc, seq = T * state;
        int o1 = 1, o2 = 2, o3 = 3;
        float scale = 1.7f;
        TwinHarness.Twin u = h.twin(h.uniform(seq * k + o1, 2f)), x = h.rand(seq + o2), bias = h.rand(2 * nc + o3);
        TwinHarness.Twin wc = h.rand(2 * nc + o2), c0 = h.rand(state + o1);
        float[] m = new float[state + o2];
        for (int i = 0; i < m.length; i++) m[i] = h.rnd.nextInt(4) == 0 ? 0f : 1.25f;
        TwinHarness.Twin mask = h.twin(m);
        TwinHarness.Twin hh = h.rand(seq + o3), c = h.rand(seq + o1), cLast = h.rand(state + o2);
        boolean readsX = skip && k == 3;
        h.both(be -> be.run(Op.SruForward.builder(T, B, d, dirs, k, act).u(u.on(be), o1).x(readsX ? x.on(be) : null, o2)
                .bias(bias.on(be), o3).c0(c0.on(be), o1).maskH(mask.on(be), o2).weightC(wc.on(be), o2).scale(scale)
                .hasSkip(skip).maskOnGate(gate).lengths(len).h(hh.on(be), o3).c(c.on(be), o1).cLast(cLast.on(be), o2).build()));
        double rtol = 1e-4, atol = 1e-5;
        h.assertClose(hh, rtol, atol, what + " h");
        h.assertClose(c, rtol, atol, what + " c");
        h.assertClose(cLast, rtol, atol, what + " cLast");

        TwinHarness.Twin cs = h.twin(c.refData()), dh = h.rand(seq + o2), dcLast = h.rand(state + o3);
        TwinHarness.Twin du = h.rand(seq * k + o1), dx = h.rand(seq + o2), dBias = h.rand(2 * state + o3), dc0 = h.rand(state);
        TwinHarness.Twin dWc = h.rand(2 * state + o1);
        h.both(be -> be.run(Op.SruBackward.builder(T, B, d, dirs, k, act).u(u.on(be), o1).x(readsX ? x.on(be) : null, o2)
                .bias(bias.on(be), o3).c0(c0.on(be), o1).maskH(mask.on(be), o2).weightC(wc.on(be), o2).scale(scale)
                .hasSkip(skip).maskOnGate(gate).lengths(len).c(cs.on(be), o1).dh(dh.on(be), o2).dcLast(dcLast.on(be), o3)
                .du(du.on(be), o1).dx(readsX ? dx.on(be) : null, o2).dBias(dBias.on(be), o3).dWeightC(dWc.on(be), o1)
                .dc0(dc0.on(be), 0).build()));
        h.assertClose(du, rtol, atol * T, what + " du");
        h.assertClose(dx, rtol, atol * T, what + " dx");
        h.assertClose(dBias, rtol, atol * T * T, what + " dBias");
        h.assertClose(dWc, rtol, atol * T * T, what + " dWeightC");
        h.assertClose(dc0, rtol, atol * T, what + " dc0");
        h.release();
    }

    // ---------------------------------------------------------------- layer norm

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "7,37", "37,129", "3,1000", "129,2", "0,5"})
    void layerNorm(int rows, int cols) {
        for (boolean affine : new boolean[]{true, false}) {
            String what = "layerNorm rows=" + rows + " cols=" + cols + " affine=" + affine;
            float[] data = h.uniform(rows * cols + 2, 3f);
            for (int i = 2; i < data.length; i += 3) data[i] += 5f;     // a mean far from zero
            TwinHarness.Twin x = h.twin(data), g = h.rand(cols + 1), bt = h.rand(cols + 2);
            TwinHarness.Twin y = h.rand(rows * cols + 1), stats = h.rand(2 * rows + 3);
            h.both(be -> be.run(new Op.LayerNormForward(rows, cols, 1e-5f, x.on(be), 2, affine ? g.on(be) : null, 1,
                    affine ? bt.on(be) : null, 2, y.on(be), 1, stats.on(be), 3)));
            h.assertClose(y, 1e-4, 1e-5, what + " y");
            h.assertClose(stats, 1e-4, 1e-5, what + " stats");
            TwinHarness.Twin st = h.twin(stats.refData()), dy = h.rand(rows * cols + 3), dx = h.rand(rows * cols + 1);
            TwinHarness.Twin dg = h.rand(cols + 2), db = h.rand(cols + 1);
            h.both(be -> be.run(new Op.LayerNormBackward(rows, cols, x.on(be), 2, affine ? g.on(be) : null, 1, st.on(be), 3,
                    dy.on(be), 3, dx.on(be), 1, affine ? dg.on(be) : null, 2, affine ? db.on(be) : null, 1)));
            h.assertClose(dx, 1e-3, 1e-4, what + " dx");
            h.assertClose(dg, 1e-4, 1e-5 * Math.max(1, rows), what + " dGamma");
            h.assertClose(db, 1e-4, 1e-5 * Math.max(1, rows), what + " dBeta");
            // dx aliasing dy
            h.both(be -> be.run(new Op.LayerNormBackward(rows, cols, x.on(be), 2, affine ? g.on(be) : null, 1, st.on(be), 3,
                    dy.on(be), 3, dy.on(be), 3, null, 0, null, 0)));
            h.assertClose(dy, 1e-3, 1e-4, what + " dx in place");
            h.release();
        }
    }

    // ---------------------------------------------------------------- language-model primitives

    @ParameterizedTest
    @CsvSource({"1,1,1", "7,5,3", "37,129,10", "129,37,1000", "300,16,7"})
    void embedding(int n, int dim, int vocab) {
        int[] ids = new int[n + 3];
        for (int i = 0; i < ids.length; i++) ids[i] = h.rnd.nextInt(vocab);   // repeats when n > vocab
        if (n > 2) ids[2 + n - 1] = ids[2];                                      // a repeated id in any case
        TwinHarness.Twin w = h.rand(vocab * dim + 3), out = h.rand(n * dim + 2);
        h.both(be -> be.embeddingForward(ids, 2, n, dim, w.on(be), 3, out.on(be), 2));
        h.assertExact(out, "embeddingForward");
        TwinHarness.Twin dOut = h.rand(n * dim + 1), dW = h.rand(vocab * dim + 2);
        h.both(be -> be.embeddingBackward(ids, 2, n, dim, dOut.on(be), 1, dW.on(be), 2));
        h.assertExact(dW, "embeddingBackward (same summation order as the reference)");
    }

    @Test
    void embeddingRejectsIdsOutsideTheTable() {
        TwinHarness.Twin w = h.rand(10), out = h.rand(10);
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> h.fast.embeddingForward(new int[]{0, 5}, 0, 2, 2, w.o, 0, out.o, 0));
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> h.fast.embeddingBackward(new int[]{-1}, 0, 1, 2, out.o, 0, w.o, 0));
        org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                () -> h.fast.logSoftmaxNll(2, 5, w.o, 0, new int[]{1, 5}, 0, 1f, null, 0));
    }

    @ParameterizedTest
    @CsvSource({"1,1", "1,7", "7,37", "37,129", "3,1000", "20,10007", "129,2"})
    void logSoftmaxNll(int rows, int classes) {
        int[] targets = new int[rows + 1];
        for (int i = 0; i < targets.length; i++) targets[i] = h.rnd.nextInt(classes);
        TwinHarness.Twin logits = h.twin(h.uniform(rows * classes + 2, 8f)), grad = h.rand(rows * classes + 1);
        double e = h.ref.logSoftmaxNll(rows, classes, logits.r, 2, targets, 1, 0.25f, grad.r, 1);
        double g = h.fast.logSoftmaxNll(rows, classes, logits.o, 2, targets, 1, 0.25f, grad.o, 1);
        assertEquals(e, g, 2e-6 * rows * (1 + Math.log(classes)) + 1e-6 * Math.abs(e), "loss");
        // softmax - onehot loses digits near p = 1 in float32: an absolute error of a few ulp(1) * |gradScale|
        h.assertClose(grad, 1e-5, 0.25 * 5e-7, "dLogits");
        h.assertExact(logits, "logits untouched");
        // without gradient, and with dLogits aliasing logits
        assertEquals(e, h.fast.logSoftmaxNll(rows, classes, logits.o, 2, targets, 1, 1f, null, 0), 2e-6 * rows * (1 + Math.log(classes)) + 1e-6 * Math.abs(e));
        h.both(be -> be.logSoftmaxNll(rows, classes, logits.on(be), 2, targets, 1, -1.5f, logits.on(be), 2));
        h.assertClose(logits, 1e-5, 1.5 * 5e-7, "dLogits in place");
    }

    // ---------------------------------------------------------------- zero sizes

    @Test
    void zeroSizesAreNoOps() {
        TwinHarness.Twin a = h.rand(8), b = h.rand(8), c = h.rand(8);
        Backend be = h.fast;
        float[] before = c.fastData();
        be.copy(a.o, 0, c.o, 0, 0);
        be.copy2d(0, 3, a.o, 0, 3, c.o, 0, 3);
        be.copy2d(3, 0, a.o, 0, 3, c.o, 0, 3);
        be.fill(c.o, 8, 0, 1f);
        be.axpy(0, 1f, a.o, 0, c.o, 0);
        be.scale(0, 2f, c.o, 0);
        be.mul(0, a.o, 0, b.o, 0, c.o, 0);
        be.mulRows(0, 4, a.o, 0, b.o, 0, c.o, 0);
        be.mulRows(4, 0, a.o, 0, b.o, 0, c.o, 0);
        be.addRowVector(0, 4, a.o, 0, c.o, 0, 4);
        be.addRowVector(4, 0, a.o, 0, c.o, 0, 4);
        be.sumRows(5, 0, a.o, 0, 0, 0f, c.o, 0);
        be.dropoutMask(0, 0.5f, 1, c.o, 0);
        be.rnnPointwiseForward(Activation.TANH, 0, a.o, 0, c.o, 0);
        be.rnnPointwiseBackward(Activation.TANH, 0, a.o, 0, b.o, 0, c.o, 0);
        be.lstmPointwiseForward(0, 3, a.o, 0, b.o, 0, c.o, 0, c.o, 0);
        be.lstmPointwiseBackward(3, 0, a.o, 0, b.o, 0, b.o, 0, b.o, 0, null, 0, c.o, 0, c.o, 0);
        be.gruPointwiseForward(0, 3, a.o, 0, a.o, 0, b.o, 0, c.o, 0, c.o, 0);
        be.gruPointwiseForward(0, 2, a.o, 0, a.o, 0, a.o, 0, b.o, 0, c.o, 0, c.o, 0); // with b_hh (3*hidden)
        be.gruPointwiseBackward(0, 3, a.o, 0, b.o, 0, b.o, 0, c.o, 0, c.o, 0, c.o, 0);
        SruCalls.forward(be, 0, 1, 2, 1, 3, Activation.TANH, a.o, 0, a.o, 0, b.o, 0, null, 0, null, 0, c.o, 0, c.o, 0, a.o, 0);
        SruCalls.forward(be, 3, 0, 2, 2, 4, Activation.TANH, a.o, 0, null, 0, b.o, 0, null, 0, null, 0, c.o, 0, c.o, 0, c.o, 0);
        SruCalls.backward(be, 2, 1, 0, 1, 3, Activation.RELU, a.o, 0, a.o, 0, b.o, 0, null, 0, null, 0, a.o, 0, a.o, 0, null, 0,
                c.o, 0, c.o, 0, c.o, 0, c.o, 0);
        assertTrue(java.util.Arrays.equals(before, c.fastData()), "zero-size calls wrote something");
        assertEquals(0.0, be.sumSquares(0, a.o, 8));
        be.embeddingForward(new int[0], 0, 0, 4, a.o, 0, c.o, 0);
        be.embeddingForward(new int[]{1}, 0, 1, 0, a.o, 0, c.o, 0);
        be.embeddingBackward(new int[0], 0, 0, 4, a.o, 0, c.o, 0);
        assertEquals(0.0, be.logSoftmaxNll(0, 5, a.o, 0, new int[0], 0, 1f, c.o, 0));
        assertTrue(java.util.Arrays.equals(before, c.fastData()), "zero-size language-model calls wrote something");
        // T == 0 still defines cLast = c0 (the walk is empty), as the reference does
        TwinHarness.Twin c0 = h.rand(4), cl = h.rand(4);
        h.both(x -> SruCalls.forward(x, 0, 2, 2, 1, 4, Activation.TANH, a.on(x), 0, null, 0, b.on(x), 0, c0.on(x), 0, null, 0,
                c.on(x), 0, c.on(x), 0, cl.on(x), 0));
        h.assertExact(cl, "sru T=0 cLast");
    }
}
