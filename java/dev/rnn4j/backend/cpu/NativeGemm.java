package dev.rnn4j.backend.cpu;

import dev.rnn4j.natives.CpuNative;
import dev.rnn4j.natives.NativeLibraryException;

import java.util.Locale;

/**
 * The cpu backend's packed x W^T product on the native kernels of {@code librnn4j_cpu.so}
 * ({@link CpuNative}), with the instruction set the library picks for this CPU (or
 * {@code -Drnn4j.cpu.isa=portable|avx2|avx512}, where the CPU runs it). W is packed once into the
 * library's column panels ({@link #packTransposed}, cached by the backend as the Java kernels'
 * panels are) and every product reads it there. Each output element is one FMA chain in k order
 * from zero, then {@code alpha * s + beta * c}: the Java kernels' arithmetic, so the results are
 * theirs bit for bit, whichever kernels run. No incubator module is needed and nothing is
 * compiled at run time.
 *
 * <p>The calls pass the backend's heap arrays in place through critical downcalls, which hold off
 * the collector (G1 pins the arrays' regions instead) while they run; so the work is split into
 * calls of at most {@link #CALL_FLOPS} multiply-adds (about 0.1 to 0.3 ms) and
 * {@link #CALL_FLOATS} packed floats, over {@link Parallel}'s pool as the Java kernels split it.
 * The packed weights stay heap arrays (softly cached, the collector may take them back).
 */
final class NativeGemm implements GemmKernels.PackedB {
    /** Multiply-adds per native call of the product, at most (one call at least one panel row). */
    static final long CALL_FLOPS = 1L << 23;
    /** Floats per native call of the packing, at most (one panel at least). */
    static final long CALL_FLOATS = 1L << 20;
    /** Work per parallel part, in multiply-adds, below which a product stays on one thread (as VectorGemm's). */
    private static final long MIN_PART_FLOPS = 1L << 18;

    private final CpuNative lib;
    private final int isa, panel;
    private final String why;
    private final NativeCells cells;

    NativeGemm(CpuNative lib, int isa, String why) {
        this.lib = lib;
        this.isa = isa;
        this.panel = lib.panelWidth();
        this.why = why;
        this.cells = new NativeCells(lib, isa);
    }

    /** The library's kernels as the system properties ask, or the reason there are none (never throws). */
    record Load(NativeGemm gemm, String reason) {}

    static Load load() {
        if ("false".equals(System.getProperty("rnn4j.cpu.native")))
            return new Load(null, "native kernels off (-Drnn4j.cpu.native=false)");
        CpuNative lib;
        try {
            lib = CpuNative.get();
        } catch (NativeLibraryException e) {
            return new Load(null, "no native kernels: " + firstLine(e.getMessage()));
        }
        try {
            int best = lib.isaBest();
            String asked = System.getProperty("rnn4j.cpu.isa");
            if (asked == null || asked.isBlank()) return new Load(new NativeGemm(lib, best, "best for this CPU"), null);
            for (int i = 0; i < CpuNative.ISA_COUNT; i++) {
                if (!lib.isaName(i).equals(asked.strip().toLowerCase(Locale.ROOT))) continue;
                if (lib.isaSupported(i)) return new Load(new NativeGemm(lib, i, "-Drnn4j.cpu.isa=" + asked), null);
                return new Load(new NativeGemm(lib, best, "-Drnn4j.cpu.isa=" + asked + " asked for kernels this CPU does not run"), null);
            }
            return new Load(new NativeGemm(lib, best, "-Drnn4j.cpu.isa=" + asked + " is none of portable, avx2, avx512"), null);
        } catch (RuntimeException e) {
            return new Load(null, "native kernels failed to start: " + e);
        }
    }

    private static String firstLine(String s) {
        int nl = s == null ? -1 : s.indexOf('\n');
        return nl < 0 ? String.valueOf(s) : s.substring(0, nl);
    }

    /** The fused LSTM/GRU steps on the same library and instruction set. */
    NativeCells cells() { return cells; }

    /** The instruction set in use (a {@code CpuNative.ISA_*} number). */
    int isa() { return isa; }

    /** "native avx2 (best for this CPU)". */
    @Override
    public String describe() { return "native " + lib.isaName(isa) + " (" + why + ")"; }

    @Override
    public String layout() { return "native panels of " + panel; }

    @Override
    public float[] packTransposed(float[] W, int wo, int ldw, int n, int k) {
        float[] P = new float[Math.toIntExact(lib.packedFloats(n, k))];
        if (n == 0 || k == 0) return P;
        int panels = (n + panel - 1) / panel;
        long perPanel = (long) panel * k;
        int step = (int) Math.max(1, CALL_FLOATS / perPanel);
        Parallel.forParts(panels, (int) Math.max(1, (1 << 16) / perPanel), 1, (p0, p1) -> {
            for (int p = p0; p < p1; p += step) {
                int q = Math.min(p1, p + step), j0 = p * panel, cols = Math.min(n, q * panel) - j0;
                lib.packBt(cols, k, W, wo + (long) j0 * ldw, ldw, P, p * perPanel);
            }
        });
        return P;
    }

    @Override
    public void productPacked(int m, int n, int k, float alpha, float[] A, int ao, int lda, float[] P, float beta,
                              float[] C, int co, int ldc) {
        if (m == 0 || n == 0) return;
        int panels = (n + panel - 1) / panel;
        long perPanelRow = (long) k * panel;
        // rows per call: all of them where one panel's product fits a call, else as many as fit
        int rows = (int) Math.max(1, Math.min(m, CALL_FLOPS / Math.max(1, perPanelRow)));
        int panelsPerCall = (int) Math.max(1, CALL_FLOPS / Math.max(1, perPanelRow * rows));
        Parallel.forParts(panels, (int) Math.max(1, MIN_PART_FLOPS / Math.max(1, (long) m * perPanelRow)), 1, (p0, p1) -> {
            for (int i = 0; i < m; i += rows) {
                int mi = Math.min(rows, m - i);
                for (int p = p0; p < p1; p += panelsPerCall) {
                    int q = Math.min(p1, p + panelsPerCall), j0 = p * panel, cols = Math.min(n, q * panel) - j0;
                    lib.gemmPacked(isa, mi, cols, k, alpha, A, ao + (long) i * lda, lda, P, p * perPanelRow, beta,
                            C, co + (long) i * ldc + j0, ldc);
                }
            }
        });
    }
}
