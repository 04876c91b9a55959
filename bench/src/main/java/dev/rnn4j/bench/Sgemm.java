package dev.rnn4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** cblas_sgemm of the system's OpenBLAS, bound here on its own (the machine's GEMM limit, independent of rnn4j). */
final class Sgemm {
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final MethodHandle SGEMM, CORE, SET_THREADS;

    static {
        SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
        Linker l = Linker.nativeLinker();
        SGEMM = l.downcallHandle(lib.find("cblas_sgemm").orElseThrow(),
                FunctionDescriptor.ofVoid(I, I, I, I, I, I, F, ValueLayout.ADDRESS, I, ValueLayout.ADDRESS, I, F,
                        ValueLayout.ADDRESS, I));
        CORE = l.downcallHandle(lib.find("openblas_get_corename").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        SET_THREADS = l.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(I));
    }

    /** OpenBLAS's thread count for the whole process (the library is loaded once, so rnn4j's cpu backend too). */
    static void setThreads(int n) {
        try {
            SET_THREADS.invokeExact(n);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private Sgemm() {}

    /** Row-major C (m x n) = A (m x k) B (k x n), none transposed, on native memory. */
    static void multiply(int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            SGEMM.invokeExact(101, 111, 111, m, n, k, 1f, a, k, b, n, 0f, c, n);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    static String coreName() {
        try {
            return ((MemorySegment) CORE.invokeExact()).reinterpret(256).getString(0);
        } catch (Throwable e) {
            return "?";
        }
    }
}
