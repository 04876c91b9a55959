package dev.rnn4j.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenBLAS, opened with {@code dlopen} at run time through FFM: {@code cblas_sgemm},
 * {@code cblas_sgemv} and a few informational functions. Nothing is linked at build time; when no OpenBLAS is installed the
 * {@code cpu} backend is unavailable and {@link #status()} says why.
 *
 * <p>The GEMM downcall is "critical" with heap access ({@link Linker.Option#critical(boolean)}):
 * it takes the backend's Java {@code float[]} buffers directly, without copying. While it runs the
 * calling thread holds off the garbage collector, so the arrays cannot move under OpenBLAS's own
 * worker threads either. Every call is range-checked by the caller first ({@link CpuBackend}),
 * because native code would not be.
 *
 * <p>The library is looked up as the system property {@value #LIBRARY_PROPERTY} names it (a path
 * or a soname), else as {@code libopenblas.so.0}, then {@code libopenblas.so}. OpenBLAS picks
 * its kernels for the CPU when it loads; a build that misdetects the CPU (it then reports a
 * core such as "Prescott") can be steered with the environment variable {@code OPENBLAS_CORETYPE}
 * (e.g. {@code Zen}, {@code Haswell}, {@code SkylakeX}), and {@code OPENBLAS_NUM_THREADS} caps its
 * threads.
 */
final class OpenBlas {
    /** System property naming the OpenBLAS library (a path or a soname). */
    static final String LIBRARY_PROPERTY = "rnn4j.cpu.openblas";

    /** The reason when no OpenBLAS library can be opened. */
    static final String NOT_FOUND_PREFIX = "OpenBLAS not found (install libopenblas0-pthread): ";

    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;

    /** The result of opening the library once per JVM: the library, or the reason it is missing. */
    record Status(OpenBlas lib, String reason) {
        boolean available() { return lib != null; }
    }

    private static volatile Status status;

    private final String name;
    private final MethodHandle sgemm, sgemv;
    private final String coreName, config;
    private final int threads;

    private OpenBlas(String name, SymbolLookup lookup) throws Throwable {
        this.name = name;
        Linker linker = Linker.nativeLinker();
        // The critical downcalls hand the heap arrays to OpenBLAS in place (see the class comment).
        sgemm = linker.downcallHandle(find(lookup, "cblas_sgemm"),
                FunctionDescriptor.ofVoid(INT, INT, INT, INT, INT, INT, FLOAT, PTR, INT, PTR, INT, FLOAT, PTR, INT),
                Linker.Option.critical(true));
        sgemv = linker.downcallHandle(find(lookup, "cblas_sgemv"),
                FunctionDescriptor.ofVoid(INT, INT, INT, INT, FLOAT, PTR, INT, PTR, INT, FLOAT, PTR, INT),
                Linker.Option.critical(true));
        coreName = string(linker, lookup, "openblas_get_corename");
        config = string(linker, lookup, "openblas_get_config");
        MethodHandle nt = linker.downcallHandle(find(lookup, "openblas_get_num_threads"), FunctionDescriptor.of(INT));
        threads = (int) nt.invokeExact();
    }

    private static MemorySegment find(SymbolLookup lookup, String symbol) {
        return lookup.find(symbol).orElseThrow(() -> new IllegalStateException("symbol " + symbol + " is missing"));
    }

    private static String string(Linker linker, SymbolLookup lookup, String symbol) throws Throwable {
        MethodHandle h = linker.downcallHandle(find(lookup, symbol), FunctionDescriptor.of(PTR));
        MemorySegment p = (MemorySegment) h.invokeExact();
        return p.equals(MemorySegment.NULL) ? "?" : p.reinterpret(4096).getString(0).strip();
    }

    /** Opens OpenBLAS once per JVM; never throws. */
    static Status status() {
        Status s = status;
        if (s != null) return s;
        synchronized (OpenBlas.class) {
            if (status == null) status = open();
            return status;
        }
    }

    private static Status open() {
        String prop = System.getProperty(LIBRARY_PROPERTY);
        List<String> names = prop != null && !prop.isBlank() ? List.of(prop) : List.of("libopenblas.so.0", "libopenblas.so");
        List<String> tried = new ArrayList<>();
        for (String n : names) {
            SymbolLookup lookup;
            try {
                lookup = SymbolLookup.libraryLookup(n, Arena.global());
            } catch (IllegalArgumentException e) {
                tried.add(n + ": cannot be opened");
                continue;
            }
            try {
                return new Status(new OpenBlas(n, lookup), null);
            } catch (Throwable e) {
                tried.add(n + ": " + e.getMessage());
            }
        }
        return new Status(null, NOT_FOUND_PREFIX + String.join("; ", tried));
    }

    /** One line: library, core type and thread count. */
    String describe() { return "OpenBLAS " + name + " (core " + coreName + ", " + threads + " threads; " + config + ")"; }

    String coreName() { return coreName; }

    int threads() { return threads; }

    /**
     * Row-major {@code y = alpha op(A) x + beta y}, A (m x n) stored with leading dimension lda,
     * x read with stride incX (>= 1), y contiguous. Range-checked by the caller.
     */
    void sgemv(boolean transA, int m, int n, float alpha, float[] a, long aOff, int lda,
               float[] x, long xOff, int incX, float beta, float[] y, long yOff) {
        try {
            sgemv.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, m, n, alpha,
                    MemorySegment.ofArray(a).asSlice(aOff * 4), lda,
                    MemorySegment.ofArray(x).asSlice(xOff * 4), incX, beta,
                    MemorySegment.ofArray(y).asSlice(yOff * 4), 1);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cblas_sgemv failed", e);
        }
    }

    /**
     * Row-major {@code C = alpha op(A) op(B) + beta C} on heap arrays at element offsets. The
     * caller has checked every index the product touches and that each leading dimension is at
     * least the stored row length (and at least 1), as cblas requires.
     */
    void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
               float[] a, long aOff, int lda, float[] b, long bOff, int ldb,
               float beta, float[] c, long cOff, int ldc) {
        try {
            sgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha,
                    MemorySegment.ofArray(a).asSlice(aOff * 4), lda,
                    MemorySegment.ofArray(b).asSlice(bOff * 4), ldb, beta,
                    MemorySegment.ofArray(c).asSlice(cOff * 4), ldc);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cblas_sgemm failed", e);
        }
    }
}
