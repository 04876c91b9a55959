package dev.rnn4j.natives;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a native library's binding table: the {@code int SYMBOL(const T **entries, int *count)}
 * function that librnn4j_cpu and librnn4j_cuda export, whose entries are structs of C strings
 * (name, signature, ...), the one source their Java bindings are made from.
 */
final class NativeTables {
    private NativeTables() {}

    private static final long MAX_C_STRING = 64 * 1024;

    /** The table's rows, each {@code columns} strings ("" for a null pointer), in the library's order. */
    static List<String[]> read(Linker linker, SymbolLookup lookup, String symbol, Path path, int columns) {
        ValueLayout.OfInt I = ValueLayout.JAVA_INT;
        var P = ValueLayout.ADDRESS;
        MethodHandle h = linker.downcallHandle(lookup.find(symbol).orElseThrow(), FunctionDescriptor.of(I, P, P));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment entries = a.allocate(P), count = a.allocate(I);
            int st = (int) h.invokeExact(entries, count);
            if (st != 0) throw new NativeLibraryException(symbol + " of " + path + " failed with status " + st);
            int n = count.get(I, 0);
            long size = columns * P.byteSize();
            MemorySegment t = entries.get(P, 0).reinterpret(n * size);
            List<String[]> rows = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                String[] row = new String[columns];
                for (int c = 0; c < columns; c++) row[c] = cString(t.get(P, i * size + c * P.byteSize()));
                rows.add(row);
            }
            return rows;
        } catch (NativeLibraryException e) {
            throw e;
        } catch (Throwable e) {
            throw new NativeLibraryException("reading the binding table of " + path + " failed: " + e, e);
        }
    }

    private static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(MAX_C_STRING).getString(0);
    }
}
