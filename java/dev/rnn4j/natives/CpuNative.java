package dev.rnn4j.natives;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Java side of {@code librnn4j_cpu.so}, the cpu backend's native kernels
 * ({@code native/src/rnn4j_cpu.c}). Every downcall handle is built from the library's own binding
 * table ({@code rnn4j_cpu_api()}, expanded from {@code native/include/rnn4j_cpu_ops.h}, which also
 * gives the C prototypes and the C boundary checks): no C signature is restated here. At load the
 * table's operand lists must equal {@link #OPERANDS}, what the typed methods below pass, so that
 * two operands of one type swapped in C fail the load instead of a product.
 *
 * <p>The kernels take the backend's heap {@code float[]} arrays as they are: the handles are
 * {@link Linker.Option#critical(boolean) critical} with heap access, so an array is passed without
 * a copy and the collector is held off (or, with G1, the array's region pinned) for the call; the
 * callers keep each call short (see the cpu backend's {@code NativeGemm}). Every method checks
 * every bound in Java before the call, and the C side checks them again and returns a status: a
 * failure becomes a {@link NativeCallException} with the message the call wrote into this
 * thread's error buffer.
 *
 * <p>The library is found as {@link NativeLoader} finds librnn4j; a jar built without a C
 * compiler has none, and the cpu backend then keeps its Java kernels.
 */
public final class CpuNative {

    /** The library's name: {@code librnn4j_cpu.so}. */
    public static final String LIBRARY = "rnn4j_cpu";
    /** The ABI number of rnn4j_cpu_ops.h this class is written against. */
    public static final int ABI = 2;

    /** Instruction sets (RNN4J_CPU_ISA_*): C with fmaf, any CPU. */
    public static final int ISA_PORTABLE = 0;
    /** AVX2 + FMA. */
    public static final int ISA_AVX2 = 1;
    /** AVX-512F. */
    public static final int ISA_AVX512 = 2;
    /** The number of instruction sets; their names are {@link #isaName}'s. */
    public static final int ISA_COUNT = 3;

    /** What the typed methods pass: each function's operands as the table spells them. */
    static final Map<String, String> OPERANDS = Map.of(
            "rnn4j_cpu_abi_version", "i32_out abi;",
            "rnn4j_cpu_isa_best", "i32_out isa;",
            "rnn4j_cpu_isa_supported", "isa_id isa;i32_out supported;",
            "rnn4j_cpu_isa_name", "isa_id isa;text_out name;",
            "rnn4j_cpu_panel_width", "i32_out width;",
            "rnn4j_cpu_pack_bt", "dim n;dim k;mat_in w, n, k;panels_out p, n, k;",
            "rnn4j_cpu_gemm_packed", "isa isa;dim m;dim n;dim k;f32 alpha;mat_in a, m, k;panels_in p, n, k;f32 beta;mat_out c, m, n;",
            "rnn4j_cpu_pack_cell", "gates gates;units hidden;mat_in w, gates * hidden, hidden;cell_out p, gates, hidden;",
            "rnn4j_cpu_lstm_step", "isa isa;dim rows;units hidden;dim j0;dim j1;mat_in h, rows, hidden;cell_in w, 4, hidden;"
                    + "mat_out g, rows, 4 * hidden;mat_in cprev, rows, hidden;mat_out c, rows, hidden;mat_out hout, rows, hidden;",
            "rnn4j_cpu_gru_step", "isa isa;dim rows;units hidden;dim j0;dim j1;mat_in h, rows, hidden;cell_in w, 3, hidden;"
                    + "mat_in gx, rows, 3 * hidden;dim nbias;mat_in bh, nbias, 3 * hidden;mat_out saved, rows, 4 * hidden;"
                    + "mat_out hout, rows, hidden;");

    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final AddressLayout P = ValueLayout.ADDRESS;
    private static final long ERR_CAP = 1024;
    /** Each thread's error buffer, written by a failing call itself (see CudaNative: virtual threads move between OS threads). */
    private static final ThreadLocal<MemorySegment> ERR = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(ERR_CAP));

    private static final NativeLib.Once<CpuNative> INSTANCE = new NativeLib.Once<>(() -> new CpuNative(NativeLoader.load(LIBRARY)));

    /** One table entry: its C signature letters and its operands. */
    public record Entry(String signature, String operands) {}

    private final Path path;
    private final String source;
    private final Map<String, Entry> api;
    private final int panel;
    private final MethodHandle abiVersion, isaBest, isaSupported, isaName, panelWidth, packBt, gemmPacked, packCell, lstmStep, gruStep;

    private CpuNative(NativeLoader.Loaded loaded) {
        path = loaded.path();
        source = loaded.source();
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = loaded.symbols();
        NativeLib.requireSymbols(lookup, path, List.of("rnn4j_cpu_api"));
        api = readTable(linker, lookup, path);
        for (var e : OPERANDS.entrySet()) {
            Entry t = api.get(e.getKey());
            if (t == null || !t.operands().equals(e.getValue()))
                throw new NativeLibraryException("library " + path + ": " + e.getKey() + " has operands "
                        + (t == null ? "(none: no such entry)" : "\"" + t.operands() + "\"") + ", this rnn4j passes \""
                        + e.getValue() + "\" (library from another rnn4j build?)");
        }
        Map<String, MethodHandle> h = bindAll(linker, lookup, path, api);
        abiVersion = h.get("rnn4j_cpu_abi_version");
        isaBest = h.get("rnn4j_cpu_isa_best");
        isaSupported = h.get("rnn4j_cpu_isa_supported");
        isaName = h.get("rnn4j_cpu_isa_name");
        panelWidth = h.get("rnn4j_cpu_panel_width");
        packBt = h.get("rnn4j_cpu_pack_bt");
        gemmPacked = h.get("rnn4j_cpu_gemm_packed");
        packCell = h.get("rnn4j_cpu_pack_cell");
        lstmStep = h.get("rnn4j_cpu_lstm_step");
        gruStep = h.get("rnn4j_cpu_gru_step");
        int abi = outInt("rnn4j_cpu_abi_version", abiVersion);
        if (abi != ABI)
            throw new NativeLibraryException("library " + path + " has ABI " + abi + " but this rnn4j needs ABI " + ABI
                    + " (library from another rnn4j build?)");
        panel = outInt("rnn4j_cpu_panel_width", panelWidth);
    }

    /**
     * The process-wide library, loaded on first use.
     *
     * @throws NativeLibraryException if it cannot be loaded or bound (the same message every time)
     */
    public static CpuNative get() { return INSTANCE.get(); }

    /** The load failure if {@link #get()} failed or would fail, else empty. */
    public static Optional<NativeLibraryException> loadFailure() {
        try {
            get();
            return Optional.empty();
        } catch (NativeLibraryException e) {
            return Optional.of(e);
        }
    }

    /** Loads and binds the library at {@code file} only, bypassing the process-wide instance (for tests). */
    static CpuNative open(Path file) { return new CpuNative(NativeLoader.load(LIBRARY, file.toString(), false, null, "")); }

    private static Map<String, Entry> readTable(Linker linker, SymbolLookup lookup, Path path) {
        Map<String, Entry> m = new LinkedHashMap<>();
        // struct { const char *name, *signature, *operands; }
        for (String[] r : NativeTables.read(linker, lookup, "rnn4j_cpu_api", path, 3)) m.put(r[0], new Entry(r[1], r[2]));
        return Collections.unmodifiableMap(m);
    }

    /** The FFM descriptor of a signature (P pointer, I int32_t, L int64_t, F float; int result). */
    static FunctionDescriptor descriptor(String sig) {
        List<MemoryLayout> args = new ArrayList<>();
        for (char c : sig.toCharArray())
            args.add(switch (c) {
                case 'P' -> P;
                case 'I' -> I;
                case 'L' -> L;
                case 'F' -> F;
                default -> throw new NativeLibraryException("unknown signature letter '" + c + "' in " + sig);
            });
        return FunctionDescriptor.of(I, args.toArray(MemoryLayout[]::new));
    }

    /** Every entry bound critical with heap access: the kernels read and write the backend's arrays in place. */
    private static Map<String, MethodHandle> bindAll(Linker linker, SymbolLookup lookup, Path path, Map<String, Entry> api) {
        NativeLib.requireSymbols(lookup, path, api.keySet());
        Map<String, MethodHandle> m = new LinkedHashMap<>();
        api.forEach((name, e) -> m.put(name, linker.downcallHandle(lookup.find(name).orElseThrow(),
                descriptor(e.signature()), Linker.Option.critical(true))));
        return m;
    }

    /** The binding table: every function, its signature and its operands, in the header's order. */
    public Map<String, Entry> api() { return api; }

    /** Absolute path of the loaded library file. */
    public Path path() { return path; }

    /** How it was found (as {@link NativeLib#source()}). */
    public String source() { return source; }

    /** Columns per panel of a packed B (RNN4J_CPU_PANEL). */
    public int panelWidth() { return panel; }

    /** Floats of W (n x k) packed by {@link #packBt}: whole panels of {@link #panelWidth()} columns. */
    public long packedFloats(int n, int k) { return ((long) n + panel - 1) / panel * panel * k; }

    /** Hidden units per block of a packed recurrent weight (RNN4J_CPU_UNIT): a fused step's slices start on blocks. */
    public static final int UNIT = 8;
    /** The largest hidden size of the fused steps (RNN4J_CPU_MAX_UNITS). */
    public static final int MAX_UNITS = 1 << 26;

    /** Floats of a recurrent weight of {@code gates} gates x {@code hidden} units packed by {@link #packCell}. */
    public static long cellFloats(int gates, int hidden) { return ((long) hidden + UNIT - 1) / UNIT * UNIT * gates * hidden; }

    // ------------------------------------------------------------------ instruction sets

    /** The widest instruction set this CPU runs (an {@code ISA_*} number). */
    public int isaBest() { return outInt("rnn4j_cpu_isa_best", isaBest); }

    /** Whether this CPU runs the kernels of instruction set {@code isa}. */
    public boolean isaSupported(int isa) {
        checkIsa(isa);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(I);
            check("rnn4j_cpu_isa_supported", (int) isaSupported.invokeExact(isa, out, err(), ERR_CAP));
            return out.get(I, 0) != 0;
        } catch (Throwable t) {
            throw unexpected("rnn4j_cpu_isa_supported", t);
        }
    }

    /** The name of instruction set {@code isa}: "portable", "avx2", "avx512". */
    public String isaName(int isa) {
        checkIsa(isa);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(64);
            check("rnn4j_cpu_isa_name", (int) isaName.invokeExact(isa, out, 64L, err(), ERR_CAP));
            return out.getString(0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cpu_isa_name", t);
        }
    }

    private static void checkIsa(int isa) {
        if (isa < 0 || isa >= ISA_COUNT) throw new IllegalArgumentException("no instruction set " + isa + " (0 to " + (ISA_COUNT - 1) + ")");
    }

    // ------------------------------------------------------------------ kernels

    /**
     * W (n x k at wOff, row stride ldw) transposed into column panels at pOff of p
     * ({@code [n / panel][k][panel]}, zero columns past n): the B operand of {@link #gemmPacked}.
     */
    public void packBt(int n, int k, float[] w, long wOff, int ldw, float[] p, long pOff) {
        checkDims("rnn4j_cpu_pack_bt", n, k, 0);
        checkMatrix("rnn4j_cpu_pack_bt", "w", w, wOff, ldw, n, k);
        checkPanels("rnn4j_cpu_pack_bt", "p", p, pOff, n, k);
        check("rnn4j_cpu_pack_bt", packBtUnchecked(n, k, w, w == null ? 0 : w.length, wOff, ldw, p, p == null ? 0 : p.length, pOff));
    }

    /** The raw call, no Java checks, status unchecked (tests reach the C checks with it). */
    int packBtUnchecked(int n, int k, float[] w, long wLen, long wOff, int ldw, float[] p, long pLen, long pOff) {
        try {
            return (int) packBt.invokeExact(n, k, seg(w), wLen, wOff, ldw, seg(p), pLen, pOff, err(), ERR_CAP);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cpu_pack_bt", t);
        }
    }

    /**
     * C (m x n at cOff, ldc) = alpha A W^T + beta C with A (m x k at aOff, lda) and W packed by
     * {@link #packBt} at pOff of p, on the kernels of instruction set {@code isa}: each element one
     * FMA chain in k order from +0, then {@code alpha * s} (+ {@code beta * c} where beta != 0,
     * C not read where beta == 0).
     */
    public void gemmPacked(int isa, int m, int n, int k, float alpha, float[] a, long aOff, int lda, float[] p, long pOff,
                           float beta, float[] c, long cOff, int ldc) {
        checkIsa(isa);
        checkDims("rnn4j_cpu_gemm_packed", m, n, k);
        checkMatrix("rnn4j_cpu_gemm_packed", "a", a, aOff, lda, m, k);
        checkPanels("rnn4j_cpu_gemm_packed", "p", p, pOff, n, k);
        checkMatrix("rnn4j_cpu_gemm_packed", "c", c, cOff, ldc, m, n);
        check("rnn4j_cpu_gemm_packed", gemmPackedUnchecked(isa, m, n, k, alpha, a, a == null ? 0 : a.length, aOff, lda,
                p, p == null ? 0 : p.length, pOff, beta, c, c == null ? 0 : c.length, cOff, ldc));
    }

    /** The raw call, no Java checks, status unchecked (tests reach the C checks with it). */
    int gemmPackedUnchecked(int isa, int m, int n, int k, float alpha, float[] a, long aLen, long aOff, int lda, float[] p,
                            long pLen, long pOff, float beta, float[] c, long cLen, long cOff, int ldc) {
        try {
            return (int) gemmPacked.invokeExact(isa, m, n, k, alpha, seg(a), aLen, aOff, lda, seg(p), pLen, pOff, beta,
                    seg(c), cLen, cOff, ldc, err(), ERR_CAP);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cpu_gemm_packed", t);
        }
    }

    // ------------------------------------------------------------------ fused recurrent steps

    /**
     * W_hh ({@code gates * hidden} rows of {@code hidden} at wOff, row stride ldw, gate-major)
     * packed by blocks of {@link #UNIT} units at pOff of p, each block's gates side by side: the
     * weight operand of {@link #lstmStep} (4 gates) and {@link #gruStep} (3).
     */
    public void packCell(int gates, int hidden, float[] w, long wOff, int ldw, float[] p, long pOff) {
        String fn = "rnn4j_cpu_pack_cell";
        if (gates < 1 || gates > 4) throw new IllegalArgumentException(fn + ": gates " + gates + " is not 1 to 4");
        checkUnits(fn, hidden);
        checkMatrix(fn, "w", w, wOff, ldw, gates * hidden, hidden);
        checkCell(fn, "p", p, pOff, gates, hidden);
        try {
            check(fn, (int) packCell.invokeExact(gates, hidden, seg(w), len(w), wOff, ldw, seg(p), len(p), pOff, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected(fn, t);
        }
    }

    /**
     * One LSTM step for units [j0, j1) of all {@code rows} rows, on the kernels of {@code isa}:
     * g (rows x 4H at gOff, row stride 4H) holds gx and gets the activated gates i, f, g, o;
     * c_t = f c_{t-1} + i g at cOff, h_t = tanh(c_t) o at hOff, where the gates' pre-activations
     * are h_{t-1} (at hPrevOff, stride H) W_hh^T (w packed by {@link #packCell}) + gx: the cpu
     * backend's Java step bit for bit. j0 is a multiple of {@link #UNIT}, j1 one or H.
     */
    public void lstmStep(int isa, int rows, int hidden, int j0, int j1, float[] h, long hPrevOff, float[] w, long wOff,
                         float[] g, long gOff, float[] c, long cPrevOff, long cOff, long hOff) {
        String fn = "rnn4j_cpu_lstm_step";
        checkStep(fn, isa, rows, hidden, j0, j1);
        checkMatrix(fn, "h", h, hPrevOff, hidden, rows, hidden);
        checkCell(fn, "w", w, wOff, 4, hidden);
        checkMatrix(fn, "g", g, gOff, 4 * hidden, rows, 4 * hidden);
        checkMatrix(fn, "cprev", c, cPrevOff, hidden, rows, hidden);
        checkMatrix(fn, "c", c, cOff, hidden, rows, hidden);
        checkMatrix(fn, "hout", h, hOff, hidden, rows, hidden);
        try {
            check(fn, (int) lstmStep.invokeExact(isa, rows, hidden, j0, j1, seg(h), len(h), hPrevOff, hidden, seg(w), len(w), wOff,
                    seg(g), len(g), gOff, 4 * hidden, seg(c), len(c), cPrevOff, hidden, seg(c), len(c), cOff, hidden,
                    seg(h), len(h), hOff, hidden, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected(fn, t);
        }
    }

    /**
     * One GRU step for units [j0, j1) of all {@code rows} rows: gh' = h_{t-1} W_hh^T (+ b_hh at
     * bhOff of bh, null for none), r, z from gx (rows x 3H at gxOff) + gh', n = tanh(gx_n + r gh'_n),
     * h_t = (1 - z) n + z h_{t-1} at hOff, and r, z, n, gh'_n to saved (rows x 4H at savedOff):
     * the cpu backend's Java step bit for bit.
     */
    public void gruStep(int isa, int rows, int hidden, int j0, int j1, float[] h, long hPrevOff, float[] w, long wOff,
                        float[] gx, long gxOff, float[] bh, long bhOff, float[] saved, long savedOff, long hOff) {
        String fn = "rnn4j_cpu_gru_step";
        checkStep(fn, isa, rows, hidden, j0, j1);
        checkMatrix(fn, "h", h, hPrevOff, hidden, rows, hidden);
        checkCell(fn, "w", w, wOff, 3, hidden);
        checkMatrix(fn, "gx", gx, gxOff, 3 * hidden, rows, 3 * hidden);
        int nb = bh == null ? 0 : 1;
        checkMatrix(fn, "bh", bh, bhOff, 3 * hidden, nb, 3 * hidden);
        checkMatrix(fn, "saved", saved, savedOff, 4 * hidden, rows, 4 * hidden);
        checkMatrix(fn, "hout", h, hOff, hidden, rows, hidden);
        try {
            check(fn, (int) gruStep.invokeExact(isa, rows, hidden, j0, j1, seg(h), len(h), hPrevOff, hidden, seg(w), len(w), wOff,
                    seg(gx), len(gx), gxOff, 3 * hidden, nb, seg(bh), len(bh), bhOff, 3 * hidden,
                    seg(saved), len(saved), savedOff, 4 * hidden, seg(h), len(h), hOff, hidden, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected(fn, t);
        }
    }

    private static void checkUnits(String fn, int hidden) {
        if (hidden < 0 || hidden > MAX_UNITS) throw new IllegalArgumentException(fn + ": hidden " + hidden + " is outside 0 to " + MAX_UNITS);
    }

    private static void checkStep(String fn, int isa, int rows, int hidden, int j0, int j1) {
        checkIsa(isa);
        checkUnits(fn, hidden);
        if (rows < 0) throw new IllegalArgumentException(fn + ": rows " + rows + " is negative");
        if (j0 < 0 || j0 > j1 || j1 > hidden)
            throw new IllegalArgumentException(fn + ": units [" + j0 + ", " + j1 + ") are not inside [0, " + hidden + ")");
        if (j0 % UNIT != 0 || (j1 % UNIT != 0 && j1 != hidden))
            throw new IllegalArgumentException(fn + ": units [" + j0 + ", " + j1 + ") do not start and end on blocks of " + UNIT);
    }

    private static void checkCell(String fn, String name, float[] x, long off, int gates, int hidden) {
        if (off < 0) throw new IllegalArgumentException(fn + ": " + name + "'s offset " + off + " is negative");
        long need = cellFloats(gates, hidden);
        if (need == 0) return;
        if (x == null) throw new IllegalArgumentException(fn + ": " + name + " is null");
        if (off > x.length || need > x.length - off)
            throw new IllegalArgumentException(fn + ": " + name + " (a cell of " + gates + " gates x " + hidden + " units) at offset "
                    + off + " needs " + need + " floats but has " + x.length);
    }

    private static long len(float[] a) { return a == null ? 0 : a.length; }

    // ------------------------------------------------------------------ Java's checks (the C side repeats them)

    private static void checkDims(String fn, int a, int b, int c) {
        if (a < 0 || b < 0 || c < 0) throw new IllegalArgumentException(fn + ": negative size (" + a + ", " + b + ", " + c + ")");
    }

    private static void checkMatrix(String fn, String name, float[] x, long off, int ld, int rows, int cols) {
        if (ld < Math.max(1, cols))
            throw new IllegalArgumentException(fn + ": " + name + "'s row stride " + ld + " is below its row length " + cols + " (and 1)");
        if (off < 0) throw new IllegalArgumentException(fn + ": " + name + "'s offset " + off + " is negative");
        if (rows == 0 || cols == 0) return;
        if (x == null) throw new IllegalArgumentException(fn + ": " + name + " is null");
        long span = (long) (rows - 1) * ld + cols;
        if (off > x.length || span > x.length - off)
            throw new IllegalArgumentException(fn + ": " + name + " (" + rows + " x " + cols + ", ld " + ld + ") at offset "
                    + off + " needs " + span + " floats but has " + x.length);
    }

    private void checkPanels(String fn, String name, float[] x, long off, int n, int k) {
        if (off < 0) throw new IllegalArgumentException(fn + ": " + name + "'s offset " + off + " is negative");
        long need = packedFloats(n, k);
        if (need == 0) return;
        if (x == null) throw new IllegalArgumentException(fn + ": " + name + " is null");
        if (off > x.length || need > x.length - off)
            throw new IllegalArgumentException(fn + ": " + name + " (panels of " + n + " x " + k + ") at offset " + off
                    + " needs " + need + " floats but has " + x.length);
    }

    // ------------------------------------------------------------------ plumbing

    private static MemorySegment seg(float[] a) { return a == null ? MemorySegment.NULL : MemorySegment.ofArray(a); }

    private static MemorySegment err() { return ERR.get(); }

    private int outInt(String call, MethodHandle h) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(I);
            check(call, (int) h.invokeExact(out, err(), ERR_CAP));
            return out.get(I, 0);
        } catch (Throwable t) {
            throw unexpected(call, t);
        }
    }

    /** Turns a status of {@code call} into a {@link NativeCallException} with the message the call wrote into this thread's buffer. */
    public void check(String call, int status) {
        if (status == 0) return;
        String msg = err().getString(0);
        throw new NativeCallException(call, status,
                call + " failed (" + NativeLib.statusName(status) + "): " + (msg.isEmpty() ? "no message" : msg));
    }

    /** This thread's message of the last failed call, as the C side wrote it ("" if none yet). */
    String lastMessage() { return err().getString(0); }

    private static RuntimeException unexpected(String call, Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("downcall " + call + " failed: " + t, t);
    }

    @Override
    public String toString() { return "CpuNative[" + path + "]"; }
}
