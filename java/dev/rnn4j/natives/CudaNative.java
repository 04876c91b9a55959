package dev.rnn4j.natives;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The Java side of the {@code rnn4j_cuda_*} functions of {@code native/include/rnn4j.h}, which
 * live in their own library, {@code librnn4j_cuda.so} (built only when CMake found nvcc). Every
 * FFM downcall handle to that library is built here, once, on first use, from the library's own
 * binding table ({@code rnn4j_cuda_api()}, expanded from native/cuda/rnn4j_cuda_api.h): names and
 * parameter signatures are not restated here. The library's ABI number must equal {@link #ABI}.
 *
 * <p>The library is found as {@link NativeLoader} finds librnn4j. When this build has no CUDA
 * library at all, {@link #get()} fails with a {@link NotBuiltException} whose message ends in
 * {@value #NOT_BUILT}: the CUDA backend is then simply unavailable.
 *
 * <p>Handles ({@code rnn4j_cuda_device*}, {@code rnn4j_cuda_buffer*}) travel as zero-length
 * {@link MemorySegment}s holding the address; optional buffers are {@link MemorySegment#NULL}.
 * Sizes follow the C API: the memory functions count bytes, the kernel functions float elements.
 * A failing call throws {@link NativeCallException} naming the function, with its message. Java
 * calls each function's {@code _e} variant, which writes the message into a per-thread buffer
 * in the failing downcall itself: a virtual thread may run its next downcall on another OS
 * thread, so the thread-local {@code rnn4j_cuda_last_error()} is not read for it.
 */
public final class CudaNative {

    /** The library's name: {@code librnn4j_cuda.so}. */
    public static final String LIBRARY = "rnn4j_cuda";
    /** The ABI number of the rnn4j_cuda_* functions this class is written against. */
    public static final int ABI = 2;
    /** Why the library is absent from a build: what CMake does when it finds no nvcc. */
    public static final String NOT_BUILT = "not built (nvcc not found at build time)";

    /** rnn4j_cuda_device_create flag: cuBLAS may use TF32 tensor cores. */
    public static final int TF32 = 1;
    /** rnn4j_cuda_device_create flag: never use cuBLAS, always the rnn4j_gemm kernel. */
    public static final int NO_CUBLAS = 2;

    /** cudaErrorInsufficientDriver: no driver, or one older than the runtime. */
    public static final int CUDA_ERROR_INSUFFICIENT_DRIVER = 35;
    /** cudaErrorNoDevice: the driver sees no GPU. */
    public static final int CUDA_ERROR_NO_DEVICE = 100;

    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;
    private static final AddressLayout P = ValueLayout.ADDRESS;
    private static final long MAX_C_STRING = 64 * 1024;
    private static final int TEXT_CAP = 1024;

    /** Capacity of the per-thread buffer the {@code _e} functions write a failure's message into. */
    private static final long ERR_CAP = 1024;
    /**
     * Each thread's error buffer (a virtual thread's own, whatever OS thread carries it): the
     * {@code _e} variant of a function writes the message there in the failing downcall itself.
     */
    private static final ThreadLocal<MemorySegment> ERR = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(ERR_CAP));

    private static MemorySegment err() { return ERR.get(); }

    /** The library is not part of this build (CMake found no nvcc); the CUDA backend is unavailable. */
    public static final class NotBuiltException extends NativeLibraryException {
        NotBuiltException(String message, Throwable cause) { super(message, cause); }
    }

    private static final NativeLib.Once<CudaNative> INSTANCE = new NativeLib.Once<>(CudaNative::loadDefault);

    private final Path path;
    private final String source;
    /** The library's binding table: C function name to its parameter signature (P, I, L, F, D). */
    private final Map<String, String> api;
    /** Every table function's {@code _e} variant as a handle of type (Object[]) int, for {@link #call}. */
    private final Map<String, MethodHandle> spread;
    private final MethodHandle version, abiVersion, lastError, probe, deviceCount, versions, deviceProperties,
            cublasProbe, cublasLoad, deviceCreate, deviceDestroy, deviceSynchronize, deviceLiveBuffers, deviceGemmInfo,
            malloc, free, bufferSize, memset, upload, download, memcpy,
            staging, stagingWait, uploadStaged, downloadStaged,
            sumSquares, gemm, launchGemm, embeddingForward, embeddingBackward, logSoftmaxNll;

    private CudaNative(NativeLoader.Loaded loaded) {
        this.path = loaded.path();
        this.source = loaded.source();
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = loaded.symbols();
        NativeLib.requireSymbols(lookup, path, List.of("rnn4j_cuda_version", "rnn4j_cuda_last_error", "rnn4j_cuda_api"));
        version = linker.downcallHandle(lookup.find("rnn4j_cuda_version").orElseThrow(), FunctionDescriptor.of(P));
        lastError = linker.downcallHandle(lookup.find("rnn4j_cuda_last_error").orElseThrow(), FunctionDescriptor.of(P));
        api = readTable(linker, lookup, path);
        Map<String, MethodHandle> h = bindAll(linker, lookup, path, api);
        abiVersion = h.get("rnn4j_cuda_abi_version");
        probe = h.get("rnn4j_cuda_probe");
        deviceCount = h.get("rnn4j_cuda_device_count");
        versions = h.get("rnn4j_cuda_versions");
        deviceProperties = h.get("rnn4j_cuda_device_properties");
        cublasProbe = h.get("rnn4j_cuda_cublas_probe");
        cublasLoad = h.get("rnn4j_cuda_cublas_load");
        deviceCreate = h.get("rnn4j_cuda_device_create");
        deviceDestroy = h.get("rnn4j_cuda_device_destroy");
        deviceSynchronize = h.get("rnn4j_cuda_device_synchronize");
        deviceLiveBuffers = h.get("rnn4j_cuda_device_live_buffers");
        deviceGemmInfo = h.get("rnn4j_cuda_device_gemm_info");
        malloc = h.get("rnn4j_cuda_malloc");
        free = h.get("rnn4j_cuda_free");
        bufferSize = h.get("rnn4j_cuda_buffer_size");
        memset = h.get("rnn4j_cuda_memset");
        upload = h.get("rnn4j_cuda_upload");
        download = h.get("rnn4j_cuda_download");
        memcpy = h.get("rnn4j_cuda_memcpy");
        staging = h.get("rnn4j_cuda_staging");
        stagingWait = h.get("rnn4j_cuda_staging_wait");
        uploadStaged = h.get("rnn4j_cuda_upload_staged");
        downloadStaged = h.get("rnn4j_cuda_download_staged");
        sumSquares = h.get("rnn4j_cuda_sum_squares");
        gemm = h.get("rnn4j_cuda_gemm");
        launchGemm = h.get("rnn4j_cuda_launch_gemm");
        embeddingForward = h.get("rnn4j_cuda_embedding_forward");
        embeddingBackward = h.get("rnn4j_cuda_embedding_backward");
        logSoftmaxNll = h.get("rnn4j_cuda_log_softmax_nll");
        Map<String, MethodHandle> sp = new LinkedHashMap<>();
        h.forEach((name, mh) -> sp.put(name, mh.asSpreader(Object[].class, mh.type().parameterCount())));
        spread = Collections.unmodifiableMap(sp);
        int abi = abiVersion();
        if (abi != ABI)
            throw new NativeLibraryException("CUDA library " + path + " has ABI " + abi
                    + " but this rnn4j needs ABI " + ABI + " (library from another rnn4j build?)");
    }

    /**
     * The process-wide CUDA library, loaded on first use.
     *
     * @throws NativeLibraryException if it cannot be loaded or bound (the same message every time);
     *         its cause chain holds a {@link NotBuiltException} when this build has no CUDA library
     */
    public static CudaNative get() { return INSTANCE.get(); }

    /** The load failure if {@link #get()} failed or would fail, else empty. Loads on first use. */
    public static Optional<NativeLibraryException> loadFailure() {
        try {
            get();
            return Optional.empty();
        } catch (NativeLibraryException e) {
            return Optional.of(e);
        }
    }

    /** Whether {@code t} (or a cause of it) says that this build has no CUDA library. */
    public static boolean isNotBuilt(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof NotBuiltException) return true;
        return false;
    }

    /** Loads and binds the library at {@code file} only, bypassing the process-wide instance (for tests). */
    static CudaNative open(Path file) {
        return new CudaNative(NativeLoader.load(LIBRARY, file.toString(), false, null, ""));
    }

    private static CudaNative loadDefault() {
        String explicit = System.getProperty(NativeLoader.PATH_PROPERTY);
        boolean skip = Boolean.parseBoolean(System.getProperty(NativeLoader.SKIP_PROPERTY, "false"));
        boolean notInJar = !skip && (explicit == null || explicit.isBlank()) && !NativeLoader.bundled(LIBRARY, null);
        try {
            return new CudaNative(NativeLoader.load(LIBRARY));
        } catch (NativeLibraryException e) {
            // No CUDA library in the jar and none elsewhere: this build had no nvcc.
            if (notInJar) throw new NotBuiltException(NativeLoader.fileName(LIBRARY) + " " + NOT_BUILT, e);
            throw e;
        }
    }

    /** rnn4j_cuda_api(): the table of rnn4j_cuda_api.h as {name, signature} pairs, in the header's order. */
    private static Map<String, String> readTable(Linker linker, SymbolLookup lookup, Path path) {
        Map<String, String> m = new LinkedHashMap<>();
        // struct { const char *name; const char *signature; }
        for (String[] r : NativeTables.read(linker, lookup, "rnn4j_cuda_api", path, 2)) m.put(r[0], r[1]);
        return Collections.unmodifiableMap(m);
    }

    /** The FFM descriptor of signature {@code sig} (int result) with the {@code _e} functions' (err, err_cap) appended. */
    static FunctionDescriptor descriptor(String sig) {
        List<java.lang.foreign.MemoryLayout> args = new ArrayList<>();
        for (char c : sig.toCharArray()) {
            args.add(switch (c) {
                case 'P' -> P;
                case 'I' -> I;
                case 'L' -> L;
                case 'F' -> F;
                case 'D' -> D;
                default -> throw new NativeLibraryException("unknown signature letter '" + c + "' in " + sig);
            });
        }
        args.add(P);
        args.add(L);
        return FunctionDescriptor.of(I, args.toArray(java.lang.foreign.MemoryLayout[]::new));
    }

    /** Binds the {@code _e} variant of every table entry, keyed by the C name. */
    private static Map<String, MethodHandle> bindAll(Linker linker, SymbolLookup lookup, Path path, Map<String, String> api) {
        NativeLib.requireSymbols(lookup, path, api.keySet().stream().map(n -> n + "_e").toList());
        Map<String, MethodHandle> handles = new LinkedHashMap<>();
        api.forEach((name, sig) -> handles.put(name, linker.downcallHandle(lookup.find(name + "_e").orElseThrow(), descriptor(sig))));
        return handles;
    }

    /** The library's binding table: every status-returning rnn4j_cuda_* function and its signature. */
    public Map<String, String> api() { return api; }

    /** Absolute path of the loaded library file. */
    public Path path() { return path; }

    /** How it was found (as {@link NativeLib#source()}). */
    public String source() { return source; }

    // ------------------------------------------------------------------ library

    /** rnn4j_cuda_version(): the project version the library was built as. */
    public String version() {
        try {
            return cString((MemorySegment) version.invokeExact());
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_version", t);
        }
    }

    public int abiVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(I);
            check("rnn4j_cuda_abi_version", abiVersion(out));
            return out.get(I, 0);
        }
    }

    /** The raw call, status unchecked (tests use it to provoke a failure). */
    int abiVersion(MemorySegment out) {
        try {
            return (int) abiVersion.invokeExact(out, err(), ERR_CAP);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_abi_version", t);
        }
    }

    /** rnn4j_cuda_last_error(): this thread's message of the library's last failed call ("" if none). */
    public String lastError() {
        try {
            return cString((MemorySegment) lastError.invokeExact());
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_last_error", t);
        }
    }

    /**
     * Turns a status of function {@code call} into a {@link NativeCallException} with the message
     * its {@code _e} variant wrote into this thread's error buffer during that very downcall.
     */
    public void check(String call, int status) {
        if (status == 0) return;
        String msg = err().getString(0);
        throw new NativeCallException(call, status,
                call + " failed (" + NativeLib.statusName(status) + "): " + (msg.isEmpty() ? "no message" : msg));
    }

    // ------------------------------------------------------------------ discovery

    /** What the CUDA runtime says about devices: count, its error code (0 = none) and reason. */
    public record RuntimeProbe(int deviceCount, int cudaError, String reason) {}

    /** rnn4j_cuda_probe: never fails for lack of a driver or device. */
    public RuntimeProbe probe() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(I), e = a.allocate(I), r = a.allocate(TEXT_CAP);
            check("rnn4j_cuda_probe", (int) probe.invokeExact(n, e, r, (long) TEXT_CAP, err(), ERR_CAP));
            return new RuntimeProbe(n.get(I, 0), e.get(I, 0), r.getString(0));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_probe", t);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(I);
            check("rnn4j_cuda_device_count", (int) deviceCount.invokeExact(n, err(), ERR_CAP));
            return n.get(I, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_count", t);
        }
    }

    /** CUDA runtime and driver versions as 1000*major + 10*minor (driver 0: none). */
    public record Versions(int runtime, int driver) {
        /** "13.0" for 13000. */
        public static String text(int v) { return v / 1000 + "." + (v % 1000) / 10; }
    }

    public Versions versions() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(I), d = a.allocate(I);
            check("rnn4j_cuda_versions", (int) versions.invokeExact(r, d, err(), ERR_CAP));
            return new Versions(r.get(I, 0), d.get(I, 0));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_versions", t);
        }
    }

    public record DeviceProperties(String name, int ccMajor, int ccMinor, long totalBytes, int multiprocessors) {}

    public DeviceProperties deviceProperties(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocate(256), ma = a.allocate(I), mi = a.allocate(I), mem = a.allocate(L),
                    sm = a.allocate(I);
            check("rnn4j_cuda_device_properties", (int) deviceProperties.invokeExact(ordinal, name, 256L, ma, mi, mem, sm, err(), ERR_CAP));
            return new DeviceProperties(name.getString(0), ma.get(I, 0), mi.get(I, 0), mem.get(L, 0), sm.get(I, 0));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_properties", t);
        }
    }

    /** Whether cuBLAS loads; the library name or why not. */
    public record CublasProbe(boolean found, String description) {}

    public CublasProbe cublasProbe() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(I), d = a.allocate(TEXT_CAP);
            check("rnn4j_cuda_cublas_probe", (int) cublasProbe.invokeExact(f, d, (long) TEXT_CAP, err(), ERR_CAP));
            return new CublasProbe(f.get(I, 0) != 0, d.getString(0));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_cublas_probe", t);
        }
    }

    /**
     * rnn4j_cuda_cublas_load: tries the '\n'-separated candidates (sonames or file paths) in order
     * unless cuBLAS is already loaded; null means the default sonames.
     */
    public CublasProbe cublasLoad(String candidates) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = candidates == null ? MemorySegment.NULL : a.allocateFrom(candidates);
            MemorySegment f = a.allocate(I), d = a.allocate(TEXT_CAP);
            check("rnn4j_cuda_cublas_load", (int) cublasLoad.invokeExact(c, f, d, (long) TEXT_CAP, err(), ERR_CAP));
            return new CublasProbe(f.get(I, 0) != 0, d.getString(0));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_cublas_load", t);
        }
    }

    // ------------------------------------------------------------------ devices

    /** Opens device {@code ordinal} (flags {@link #TF32}, {@link #NO_CUBLAS}); returns the handle. */
    public MemorySegment deviceCreate(int ordinal, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(P);
            check("rnn4j_cuda_device_create", (int) deviceCreate.invokeExact(ordinal, flags, out, err(), ERR_CAP));
            return out.get(P, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_create", t);
        }
    }

    public void deviceDestroy(MemorySegment dev) {
        try {
            check("rnn4j_cuda_device_destroy", (int) deviceDestroy.invokeExact(dev, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_destroy", t);
        }
    }

    public void deviceSynchronize(MemorySegment dev) {
        try {
            check("rnn4j_cuda_device_synchronize", (int) deviceSynchronize.invokeExact(dev, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_synchronize", t);
        }
    }

    public long deviceLiveBuffers(MemorySegment dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(L);
            check("rnn4j_cuda_device_live_buffers", (int) deviceLiveBuffers.invokeExact(dev, out, err(), ERR_CAP));
            return out.get(L, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_live_buffers", t);
        }
    }

    /** How a device runs GEMM. */
    public record GemmInfo(boolean usesCublas, String description) {}

    public GemmInfo deviceGemmInfo(MemorySegment dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment u = a.allocate(I), d = a.allocate(TEXT_CAP);
            check("rnn4j_cuda_device_gemm_info", (int) deviceGemmInfo.invokeExact(dev, u, d, (long) TEXT_CAP, err(), ERR_CAP));
            return new GemmInfo(u.get(I, 0) != 0, d.getString(0));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_device_gemm_info", t);
        }
    }

    // ------------------------------------------------------------------ memory (bytes)

    /** Allocates {@code bytes} of device memory; returns the buffer handle. */
    public MemorySegment malloc(MemorySegment dev, long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(P);
            check("rnn4j_cuda_malloc", (int) malloc.invokeExact(dev, bytes, out, err(), ERR_CAP));
            return out.get(P, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_malloc", t);
        }
    }

    /** Frees the buffer; the handle is gone afterwards even if this throws. */
    public void free(MemorySegment buf) {
        try {
            check("rnn4j_cuda_free", (int) free.invokeExact(buf, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_free", t);
        }
    }

    public long bufferSize(MemorySegment buf) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(L);
            check("rnn4j_cuda_buffer_size", (int) bufferSize.invokeExact(buf, out, err(), ERR_CAP));
            return out.get(L, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_buffer_size", t);
        }
    }

    public void memset(MemorySegment buf, long offset, int value, long bytes) {
        try {
            check("rnn4j_cuda_memset", (int) memset.invokeExact(buf, offset, value, bytes, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_memset", t);
        }
    }

    /** Host memory {@code src} (at least {@code bytes} long) to the buffer at byte {@code dstOffset}. */
    public void upload(MemorySegment dst, long dstOffset, MemorySegment src, long bytes) {
        try {
            check("rnn4j_cuda_upload", (int) upload.invokeExact(dst, dstOffset, src, bytes, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_upload", t);
        }
    }

    /** The buffer from byte {@code srcOffset} to host memory {@code dst} (at least {@code bytes} long). */
    public void download(MemorySegment src, long srcOffset, MemorySegment dst, long bytes) {
        try {
            check("rnn4j_cuda_download", (int) download.invokeExact(src, srcOffset, dst, bytes, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_download", t);
        }
    }

    public void memcpy(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long bytes) {
        try {
            check("rnn4j_cuda_memcpy", (int) memcpy.invokeExact(src, srcOffset, dst, dstOffset, bytes, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_memcpy", t);
        }
    }

    /** The device's pinned transfer slots: {@code slots} of {@code slotBytes} each, one after another in {@code host}. */
    public record Staging(MemorySegment host, long slotBytes, int slots) {}

    /** rnn4j_cuda_staging: the slots, valid until the device is destroyed. */
    public Staging staging(MemorySegment dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(P), bytes = a.allocate(L), slots = a.allocate(I);
            check("rnn4j_cuda_staging", (int) staging.invokeExact(dev, host, bytes, slots, err(), ERR_CAP));
            long slotBytes = bytes.get(L, 0);
            int n = slots.get(I, 0);
            return new Staging(host.get(P, 0).reinterpret(slotBytes * n), slotBytes, n);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_staging", t);
        }
    }

    /** Waits until the last copy through {@code slot} has finished. */
    public void stagingWait(MemorySegment dev, int slot) {
        try {
            check("rnn4j_cuda_staging_wait", (int) stagingWait.invokeExact(dev, slot, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_staging_wait", t);
        }
    }

    /** Queues slot to buffer (returns at once; ordered with the compute stream both ways). */
    public void uploadStaged(MemorySegment dst, long dstOffset, int slot, long bytes) {
        try {
            check("rnn4j_cuda_upload_staged", (int) uploadStaged.invokeExact(dst, dstOffset, slot, bytes, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_upload_staged", t);
        }
    }

    /** Queues buffer to slot; {@link #stagingWait} before reading the slot. */
    public void downloadStaged(MemorySegment src, long srcOffset, int slot, long bytes) {
        try {
            check("rnn4j_cuda_download_staged", (int) downloadStaged.invokeExact(src, srcOffset, slot, bytes, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_download_staged", t);
        }
    }

    // ------------------------------------------------------------------ kernels (float elements)

    /**
     * Calls the table's function {@code name} (its {@code _e} variant) with {@code args}, one per C
     * parameter in order, each converted by the signature letter the table gives that parameter:
     * P a {@link MemorySegment} (null: NULL), I an int (a Number that fits, or a boolean as 0 or 1),
     * L, F, D any Number. A failing status becomes a {@link NativeCallException} naming the call,
     * with the library's message. The kernel launchers are called this way, so that Java restates
     * no per-function wrapper; the functions that return values through pointers have their own.
     */
    public void call(String name, Object... args) {
        MethodHandle h = spread.get(name);
        String sig = api.get(name);
        if (h == null) throw new IllegalArgumentException("librnn4j_cuda has no function " + name);
        if (args.length != sig.length())
            throw new IllegalArgumentException(name + " takes " + sig.length() + " arguments (" + sig + "), got " + args.length);
        Object[] full = new Object[args.length + 2];
        for (int i = 0; i < args.length; i++) full[i] = convert(name, i, sig.charAt(i), args[i]);
        full[args.length] = err();
        full[args.length + 1] = ERR_CAP;
        int status;
        try {
            status = (int) h.invokeExact(full);
        } catch (Throwable t) {
            throw unexpected(name, t);
        }
        check(name, status);
    }

    /** Argument {@code i} of {@code name} as the boxed Java type of signature letter {@code c}. */
    private static Object convert(String name, int i, char c, Object a) {
        if (c == 'P') {
            if (a == null) return MemorySegment.NULL;
            if (a instanceof MemorySegment) return a;
        } else if (c == 'I' && a instanceof Boolean b) {
            return b ? 1 : 0;
        } else if (a instanceof Number n) {
            switch (c) {
                case 'I': if (n.longValue() == n.intValue()) return n.intValue(); break;
                case 'L': return n.longValue();
                case 'F': return n.floatValue();
                case 'D': return n.doubleValue();
                default: break;
            }
        }
        throw new IllegalArgumentException(name + ": argument " + i + " (" + c + ") cannot be " + a);
    }

    /** Sum of squares of x[off .. off+n): partial sums on the device, their total in double on the host. */
    public double sumSquares(MemorySegment dev, long n, MemorySegment x, long off) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(D);
            check("rnn4j_cuda_sum_squares", (int) sumSquares.invokeExact(dev, n, x, off, out, err(), ERR_CAP));
            return out.get(D, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_sum_squares", t);
        }
    }

    /** rnn4j_cuda_gemm: cuBLAS when the device has it and the call suits it, else the rnn4j_gemm kernel. */
    public void gemm(MemorySegment dev, boolean transA, boolean transB, int m, int n, int k, float alpha,
                     MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                     float beta, MemorySegment c, long cOff, int ldc, int batch, long strideA, long strideB, long strideC) {
        try {
            check("rnn4j_cuda_gemm", (int) gemm.invokeExact(dev, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha,
                    a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, batch, strideA, strideB, strideC, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_gemm", t);
        }
    }

    /** rnn4j_cuda_launch_gemm: always the rnn4j_gemm kernel. */
    public void launchGemm(MemorySegment dev, boolean transA, boolean transB, int m, int n, int k, float alpha,
                           MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                           float beta, MemorySegment c, long cOff, int ldc, int batch, long strideA, long strideB, long strideC) {
        try {
            check("rnn4j_cuda_launch_gemm", (int) launchGemm.invokeExact(dev, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha,
                    a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, batch, strideA, strideB, strideC, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_launch_gemm", t);
        }
    }

    // ------------------------------------------------------------------ language-model primitives

    /** Host int32 array ids[idsOff .. idsOff+n) as native memory of the arena (NULL when n == 0). */
    private static MemorySegment ints(Arena a, int[] ids, int idsOff, int n) {
        if (n == 0) return MemorySegment.NULL;
        MemorySegment seg = a.allocate((long) n * Integer.BYTES, Integer.BYTES);
        MemorySegment.copy(ids, idsOff, seg, I, 0, n);
        return seg;
    }

    /** Embedding lookup; the token ids are host ints, copied to the device by the library. */
    public void embeddingForward(MemorySegment dev, int[] ids, int idsOff, int n, int dim, MemorySegment weight, long wOff,
                                 MemorySegment out, long outOff) {
        try (Arena a = Arena.ofConfined()) {
            check("rnn4j_cuda_embedding_forward", (int) embeddingForward.invokeExact(dev, ints(a, ids, idsOff, n), n, dim,
                    weight, wOff, out, outOff, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_embedding_forward", t);
        }
    }

    /** Embedding gradient (scatter-add in position order); the token ids are host ints. */
    public void embeddingBackward(MemorySegment dev, int[] ids, int idsOff, int n, int dim, MemorySegment dOut, long dOutOff,
                                  MemorySegment dWeight, long dwOff) {
        try (Arena a = Arena.ofConfined()) {
            check("rnn4j_cuda_embedding_backward", (int) embeddingBackward.invokeExact(dev, ints(a, ids, idsOff, n), n, dim,
                    dOut, dOutOff, dWeight, dwOff, err(), ERR_CAP));
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_embedding_backward", t);
        }
    }

    /** Fused log-softmax + NLL; returns the summed loss. dLogits may be {@link MemorySegment#NULL}. */
    public double logSoftmaxNll(MemorySegment dev, int rows, int classes, MemorySegment logits, long lOff,
                                int[] targets, int tOff, float gradScale, MemorySegment dLogits, long dOff) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment loss = a.allocate(D);
            check("rnn4j_cuda_log_softmax_nll", (int) logSoftmaxNll.invokeExact(dev, rows, classes, logits, lOff,
                    ints(a, targets, tOff, rows), gradScale, dLogits, dOff, loss, err(), ERR_CAP));
            return loss.get(D, 0);
        } catch (Throwable t) {
            throw unexpected("rnn4j_cuda_log_softmax_nll", t);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(MAX_C_STRING).getString(0);
    }

    private static RuntimeException unexpected(String call, Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("downcall " + call + " failed: " + t, t);
    }

    @Override
    public String toString() { return "CudaNative[" + path + "]"; }
}
