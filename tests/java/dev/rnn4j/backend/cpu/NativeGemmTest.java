package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.natives.CpuNative;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native packed product ({@link NativeGemm} on librnn4j_cpu.so) against the Java kernels, bit
 * for bit: on every instruction set this CPU runs (the portable C one always), against the Vector
 * API's packed NN tile and its NT kernel in place, over shapes with edge rows and columns, offsets,
 * ldc above n, alpha and beta (0 too, C then not read), products split into several native calls;
 * and the cpu backend with and without the native kernels giving the same bits.
 */
class NativeGemmTest {
    private static final int[][] SHAPES = {
            {1, 1, 1}, {1, 37, 5}, {1, 3640, 91}, {2, 13, 17}, {3, 25, 16}, {5, 33, 31}, {6, 64, 64}, {7, 65, 3},
            {12, 31, 40}, {13, 130, 47}, {16, 96, 910}, {17, 11, 3}, {25, 70, 33}, {35, 50, 91}, {64, 200, 70}
    };

    private static CpuNative lib() {
        var failure = CpuNative.loadFailure();
        assumeTrue(failure.isEmpty() || !"built".equals(nativeStatus()), () -> "no librnn4j_cpu.so: " + failure.get().getMessage());
        assertTrue(failure.isEmpty(), () -> "this build made librnn4j_cpu.so but it does not load: " + failure.get().getMessage());
        return CpuNative.get();
    }

    /** What tools/build-natives.sh wrote: "built" when CMake built the native libraries. */
    private static String nativeStatus() {
        String dir = System.getProperty("rnn4j.native.build.dir");
        try {
            return dir == null ? "unknown" : java.nio.file.Files.readString(java.nio.file.Path.of(dir, "rnn4j-native-status.txt")).strip();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    private static List<NativeGemm> everyIsa(CpuNative lib) {
        List<NativeGemm> gs = new ArrayList<>();
        for (int isa = 0; isa < CpuNative.ISA_COUNT; isa++) if (lib.isaSupported(isa)) gs.add(new NativeGemm(lib, isa, "test"));
        assertEquals(CpuNative.ISA_PORTABLE, gs.getFirst().isa());
        return gs;
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    private static void assertSameBits(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++)
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]))
                fail(what + ": element " + i + " is " + got[i] + ", the Java kernels give " + want[i]);
    }

    @Test
    void everyInstructionSetGivesTheJavaKernelsBits() {
        CpuNative lib = lib();
        GemmKernels.Choice java = GemmKernels.choice();
        assumeTrue(java.recurrent() != null, "the Vector API kernels are not enabled: " + java.why());
        SplittableRandom rnd = new SplittableRandom(11);
        float[][] ab = {{1f, 0f}, {1f, 1f}, {0.7f, 0.3f}, {-0.5f, 0f}};
        int checked = 0;
        for (int[] sh : SHAPES) {
            int m = sh[0], n = sh[1], k = sh[2], lda = k + 3, ldw = k + 2, ldc = n + 5, ao = 4, wo = 6, co = 2;
            float[] A = random(rnd, ao + m * lda), W = random(rnd, wo + n * ldw), C0 = random(rnd, co + m * ldc + 3);
            float[] javaPacked = java.recurrent().packTransposed(W, wo, ldw, n, k);
            for (float[] t : ab) {
                float[] want = C0.clone(), nt = C0.clone();
                java.recurrent().productPacked(m, n, k, t[0], A, ao, lda, javaPacked, t[1], want, co, ldc);
                java.gemm().gemm(false, true, m, n, k, t[0], A, ao, lda, W, wo, ldw, t[1], nt, co, ldc);
                if (m > 1) assertSameBits(want, nt, "the Java packed and NT kernels");
                for (NativeGemm g : everyIsa(lib)) {
                    float[] P = g.packTransposed(W, wo, ldw, n, k), got = C0.clone();
                    if (t[1] == 0f)   // beta 0: C is not read
                        for (int i = 0; i < m; i++) Arrays.fill(got, co + i * ldc, co + i * ldc + n, Float.NaN);
                    g.productPacked(m, n, k, t[0], A, ao, lda, P, t[1], got, co, ldc);
                    assertSameBits(want, got, g.describe() + " at " + m + "x" + n + "x" + k + " alpha " + t[0] + " beta " + t[1]);
                    checked++;
                }
            }
        }
        assertTrue(checked >= SHAPES.length * 4);
    }

    @Test
    void productsSplitIntoManyCallsGiveTheSameBits() {
        CpuNative lib = lib();
        SplittableRandom rnd = new SplittableRandom(3);
        // 300 rows of k = 910: more than one call's rows; 1200 columns: more than one pack call
        int m = 300, n = 1200, k = 910;
        assertTrue((long) m * k * lib.panelWidth() > NativeGemm.CALL_FLOPS);
        assertTrue((long) n * k > NativeGemm.CALL_FLOATS);
        float[] A = random(rnd, m * k), W = random(rnd, n * k);
        NativeGemm g = everyIsa(lib).getLast();
        float[] P = g.packTransposed(W, 0, k, n, k), whole = new float[m * n];
        g.productPacked(m, n, k, 1f, A, 0, k, P, 0f, whole, 0, n);
        // each row alone: one call per row, whatever the split of the whole
        float[] row = new float[n];
        for (int i = 0; i < m; i += 37) {
            g.productPacked(1, n, k, 1f, A, i * k, k, P, 0f, row, 0, n);
            for (int j = 0; j < n; j++) assertEquals(Float.floatToRawIntBits(whole[i * n + j]), Float.floatToRawIntBits(row[j]), "row " + i);
        }
        // a double product as the oracle of the packing's layout
        for (int i = 0; i < m; i += 61)
            for (int j = 0; j < n; j += 97) {
                double s = 0;
                for (int l = 0; l < k; l++) s += (double) A[i * k + l] * W[j * k + l];
                assertEquals(s, whole[i * n + j], 1e-4 * Math.max(1, Math.abs(s)));
            }
    }

    @Test
    void theBackendWithAndWithoutNativeKernelsGivesTheSameBits() {
        lib();
        GemmKernels.Choice c = GemmKernels.choice();
        assumeTrue(c.packed() instanceof NativeGemm, "native kernels not in use: " + c.nativeWhy());
        assumeTrue(c.recurrent() != null, "the Vector API kernels are not enabled: " + c.why());
        SplittableRandom rnd = new SplittableRandom(8);
        try (CpuBackend nat = new CpuBackend(c); CpuBackend java = new CpuBackend(c.javaOnly())) {
            assertTrue(nat.description().contains("native"), nat.description());
            for (int m : new int[] {1, 16, 35}) {
                int n = 910 * 4, k = 91;
                float[] a = random(rnd, m * k), w = random(rnd, n * k), out = null;
                for (CpuBackend be : List.of(nat, java)) {
                    try (DeviceBuffer A = be.allocate(m * k); DeviceBuffer Wb = be.allocate(n * k); DeviceBuffer C = be.allocate(m * n)) {
                        be.upload(a, 0, A, 0, a.length);
                        be.upload(w, 0, Wb, 0, w.length);
                        float[] got = new float[m * n];
                        for (int call = 0; call < 2; call++) {   // the second call runs on the cached packed copy
                            be.execute(new Op.Gemm(false, true, m, n, k, 1f, A, 0, k, Wb, 0, k, 0f, C, 0, n, 1, 0, 0, 0));
                            be.download(C, 0, got, 0, got.length);
                        }
                        if (out == null) out = got;
                        else assertSameBits(out, got, "m = " + m);
                    }
                }
            }
        }
    }
}
