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
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Java side of {@code native/include/rnn4j.h}: every FFM downcall handle of the project is
 * built here, once, when the library is first needed.
 *
 * <p>At load every symbol in {@link #SYMBOLS} is looked up; a missing one fails the load with an
 * exception naming the symbol and the library path, so a stale or foreign library is caught
 * at once rather than at its first use. The library's ABI number must equal {@link #ABI}.
 *
 * <p>{@link #get()} is lazy and thread-safe. A load failure is remembered and every later call
 * throws a new {@link NativeLibraryException} with the same message (loading is not retried:
 * the answer would not change within one JVM).
 *
 * <p>Functions that return an int status are wrapped so that a failure becomes a
 * {@link NativeCallException} naming the call, with the message of {@code rnn4j_last_error()}
 * (see {@link #check(String, int)}). The message is thread-local in C, so it is read right after
 * the failing call on the same thread.
 */
public final class NativeLib {

    /** The ABI number of rnn4j.h this class is written against. */
    public static final int ABI = 1;

    private static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;
    private static final ValueLayout C_POINTER = ValueLayout.ADDRESS;
    /** Bound on C strings read from the library (rnn4j_last_error's buffer is 1 KiB). */
    private static final long MAX_C_STRING = 64 * 1024;

    /** Every native function Java calls, with its C signature. */
    static final Map<String, FunctionDescriptor> SYMBOLS = symbols();

    private static Map<String, FunctionDescriptor> symbols() {
        Map<String, FunctionDescriptor> m = new LinkedHashMap<>();
        m.put("rnn4j_version", FunctionDescriptor.of(C_POINTER));
        m.put("rnn4j_abi_version", FunctionDescriptor.of(C_INT, C_POINTER));
        m.put("rnn4j_last_error", FunctionDescriptor.of(C_POINTER));
        return java.util.Collections.unmodifiableMap(m);
    }

    private static final Once<NativeLib> INSTANCE = new Once<>(() -> new NativeLib(NativeLoader.load()));

    private final Path path;
    private final String source;
    private final MethodHandle rnn4jVersion;
    private final MethodHandle rnn4jAbiVersion;
    private final MethodHandle rnn4jLastError;

    private NativeLib(NativeLoader.Loaded loaded) {
        this.path = loaded.path();
        this.source = loaded.source();
        Map<String, MethodHandle> h = bindAll(loaded.symbols(), path);
        rnn4jVersion = h.get("rnn4j_version");
        rnn4jAbiVersion = h.get("rnn4j_abi_version");
        rnn4jLastError = h.get("rnn4j_last_error");
        int abi = abiVersion();
        if (abi != ABI)
            throw new NativeLibraryException("native library " + path + " has ABI " + abi
                    + " but this rnn4j needs ABI " + ABI + " (library from another rnn4j build?)");
    }

    /**
     * The process-wide library, loading it on first use as {@link NativeLoader#load()} describes.
     *
     * @throws NativeLibraryException if it cannot be loaded or bound (the same message every time)
     */
    public static NativeLib get() { return INSTANCE.get(); }

    /** The load failure if {@link #get()} failed or would fail, else empty. Loads on first use. */
    public static Optional<NativeLibraryException> loadFailure() {
        try {
            get();
            return Optional.empty();
        } catch (NativeLibraryException e) {
            return Optional.of(e);
        }
    }

    /** Loads and binds the library at {@code file} only, bypassing the process-wide instance (for tests). */
    static NativeLib open(Path file) {
        return new NativeLib(NativeLoader.load(file.toString(), false, null, ""));
    }

    /** Looks up and binds every symbol of {@link #SYMBOLS}. */
    private static Map<String, MethodHandle> bindAll(SymbolLookup lookup, Path path) {
        requireSymbols(lookup, path, SYMBOLS.keySet());
        Linker linker = Linker.nativeLinker();
        Map<String, MethodHandle> handles = new LinkedHashMap<>();
        SYMBOLS.forEach((name, fd) -> handles.put(name, linker.downcallHandle(lookup.find(name).orElseThrow(), fd)));
        return handles;
    }

    /** Throws {@link NativeLibraryException} naming the library and every one of {@code names} it lacks. */
    static void requireSymbols(SymbolLookup lookup, Path path, Collection<String> names) {
        List<String> missing = new ArrayList<>();
        for (String n : names)
            if (lookup.find(n).isEmpty()) missing.add(n);
        if (!missing.isEmpty())
            throw new NativeLibraryException("native library " + path + " lacks symbol"
                    + (missing.size() == 1 ? " " : "s ") + String.join(", ", missing)
                    + " (library from another rnn4j version?)");
    }

    /** Absolute path of the loaded library file. */
    public Path path() { return path; }

    /** How it was found: "rnn4j.native.path", "classpath", "classpath (extracted)" or "java.library.path". */
    public String source() { return source; }

    /** rnn4j_version(): the version the native library was built as (the project version). */
    public String version() {
        MemorySegment p = callForPointer("rnn4j_version", rnn4jVersion);
        if (p.equals(MemorySegment.NULL))
            throw new NativeCallException("rnn4j_version", -1, "rnn4j_version returned NULL");
        return cString(p);
    }

    /** rnn4j_abi_version(): the library's ABI number. */
    public int abiVersion() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(C_INT);
            check("rnn4j_abi_version", abiVersion(out));
            return out.get(C_INT, 0);
        }
    }

    /** The raw call, status returned unchecked (tests use it to provoke a failure). */
    int abiVersion(MemorySegment out) {
        try {
            return (int) rnn4jAbiVersion.invokeExact(out);
        } catch (Throwable t) {
            throw unexpected("rnn4j_abi_version", t);
        }
    }

    /** rnn4j_last_error(): this thread's message of the last failed call ("" if none). */
    public String lastError() {
        MemorySegment p = callForPointer("rnn4j_last_error", rnn4jLastError);
        return p.equals(MemorySegment.NULL) ? "" : cString(p);
    }

    /**
     * Turns the int status of native function {@code call} into an exception if it is not
     * RNN4J_OK. Call it right after the native call, on the same thread, so that
     * rnn4j_last_error() still holds that call's message.
     *
     * @throws NativeCallException naming the call, the status and the native message
     */
    public void check(String call, int status) {
        if (status == 0) return;
        String msg = lastError();
        throw new NativeCallException(call, status,
                call + " failed (" + statusName(status) + "): " + (msg.isEmpty() ? "no message" : msg));
    }

    /** The name of an RNN4J_* status code of rnn4j.h. */
    public static String statusName(int status) {
        return switch (status) {
            case 0 -> "RNN4J_OK";
            case 1 -> "RNN4J_ERR_INVALID_ARGUMENT";
            case 2 -> "RNN4J_ERR_UNAVAILABLE";
            case 3 -> "RNN4J_ERR_INTERNAL";
            case 4 -> "RNN4J_ERR_DEVICE";
            case 5 -> "RNN4J_ERR_OUT_OF_MEMORY";
            default -> "status " + status;
        };
    }

    /** Calls {@code handle}, a C function of no arguments that returns a pointer. */
    private static MemorySegment callForPointer(String call, MethodHandle handle) {
        try {
            return (MemorySegment) handle.invokeExact();
        } catch (Throwable t) {
            throw unexpected(call, t);
        }
    }

    private static String cString(MemorySegment p) {
        return p.reinterpret(MAX_C_STRING).getString(0);
    }

    private static RuntimeException unexpected(String call, Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("downcall " + call + " failed: " + t, t);
    }

    /**
     * Runs {@code init} at most once, on first {@link #get()}, under a lock; remembers the
     * result or the failure. A failure is rethrown as a new exception (this caller's stack)
     * with the first failure's message and that failure as its cause.
     */
    static final class Once<T> {
        private final java.util.function.Supplier<T> init;
        private volatile T value;
        private NativeLibraryException failure; // guarded by this

        Once(java.util.function.Supplier<T> init) { this.init = init; }

        T get() {
            T v = value;
            if (v != null) return v;
            synchronized (this) {
                if (value != null) return value;
                if (failure == null) {
                    try {
                        value = java.util.Objects.requireNonNull(init.get());
                        return value;
                    } catch (NativeLibraryException e) {
                        failure = e;
                    } catch (RuntimeException | LinkageError e) {
                        failure = new NativeLibraryException("rnn4j native library could not be bound: " + e, e);
                    }
                }
                throw new NativeLibraryException(failure.getMessage(), failure);
            }
        }
    }

    @Override
    public String toString() { return "NativeLib[" + path + "]"; }
}
