package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.natives.CudaNative;
import dev.rnn4j.natives.NativeLibraryException;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Provides the CUDA backend: librnn4j_cuda.so (loaded on demand) on one NVIDIA GPU.
 *
 * <p>System properties: {@value #DEVICE_PROPERTY} picks the GPU by CUDA ordinal (default 0);
 * {@value #TF32_PROPERTY}{@code =true} lets cuBLAS use TF32 tensor cores for GEMM (faster,
 * about 10 mantissa bits per product; the default is plain float32); {@value #CUBLAS_PROPERTY}
 * {@code =false} makes every GEMM run the rnn4j_gemm kernel even when cuBLAS is installed, and
 * {@value #CUBLAS_PROPERTY}{@code =PATH} loads cuBLAS from that file and nowhere else.
 *
 * <p>cuBLAS is looked for in this order: the property's path; libcublas.so.13, then .12, on the
 * loader path; then the copy PyTorch's wheels install, {@code site-packages/nvidia/cublas/lib/},
 * located by asking {@code python3} (property {@value #PYTHON_PROPERTY}) where the
 * {@code nvidia.cublas} package is. The first found serves the whole process.
 *
 * <p>{@link #probeStatus()} tells apart the ways CUDA can be absent (this build has no CUDA
 * library; no usable driver, CUDA error 35; no GPU, CUDA error 100) from anything else, which is
 * an error: tests may skip for absence only.
 */
public final class CudaBackendProvider implements BackendProvider {
    /** System property: CUDA device ordinal. */
    public static final String DEVICE_PROPERTY = "rnn4j.cuda.device";
    /** System property: "true" allows TF32 tensor-core GEMM in cuBLAS. */
    public static final String TF32_PROPERTY = "rnn4j.cuda.tf32";
    /** System property: "false" disables cuBLAS (GEMM by the rnn4j_gemm kernel); a path loads that file. */
    public static final String CUBLAS_PROPERTY = "rnn4j.cuda.cublas";
    /** System property: the Python asked for PyTorch's cuBLAS (default python3 on the PATH; "" asks none). */
    public static final String PYTHON_PROPERTY = "rnn4j.cuda.python";

    /** The reason given when this build has no CUDA library. */
    public static final String NOT_BUILT = "librnn4j_cuda.so " + CudaNative.NOT_BUILT;
    /** Start of the reason for CUDA error 35; the runtime's "<name> (35): <text>" follows. */
    public static final String NO_DRIVER_PREFIX = "no CUDA driver: ";
    /** Start of the reason for CUDA error 100; the runtime's "<name> (100): <text>" follows. */
    public static final String NO_DEVICE_PREFIX = "no CUDA device: ";

    /** Why the backend is or is not available. */
    public enum Status {
        AVAILABLE,
        /** This build has no librnn4j_cuda.so (CMake found no nvcc). */
        NOT_BUILT,
        /** The CUDA runtime found no usable driver (cudaErrorInsufficientDriver, 35). */
        NO_DRIVER,
        /** The driver sees no GPU (cudaErrorNoDevice, 100). */
        NO_DEVICE,
        /** Anything else: the library failed to load or bind, another CUDA error, a bad device property. */
        ERROR;

        /** Whether this says that this machine has no CUDA driver or GPU (as opposed to something broken). */
        public boolean noDriverOrDevice() { return this == NO_DRIVER || this == NO_DEVICE; }
    }

    /** A probe result: detail is the device description or the reason; cudaError the runtime's code (0 if none). */
    public record Probe(Status status, String detail, int cudaError) implements Probed {
        @Override public boolean available() { return status == Status.AVAILABLE; }
    }

    @Override public String name() { return "cuda"; }

    @Override public Availability probe() { return probeStatus().availability(); }

    /** Like {@link #probe()}, with the status and the CUDA error code. Never throws. */
    public static Probe probeStatus() {
        CudaNative lib;
        try {
            lib = CudaNative.get();
        } catch (NativeLibraryException e) {
            if (CudaNative.isNotBuilt(e)) return new Probe(Status.NOT_BUILT, NOT_BUILT, 0);
            return new Probe(Status.ERROR, "CUDA library not loaded: " + e.getMessage(), 0);
        }
        try {
            CudaNative.RuntimeProbe r = lib.probe();
            switch (r.cudaError()) {
                case 0 -> { }
                case CudaNative.CUDA_ERROR_INSUFFICIENT_DRIVER -> {
                    return new Probe(Status.NO_DRIVER, NO_DRIVER_PREFIX + r.reason(), r.cudaError());
                }
                case CudaNative.CUDA_ERROR_NO_DEVICE -> {
                    return new Probe(Status.NO_DEVICE, NO_DEVICE_PREFIX + r.reason(), r.cudaError());
                }
                default -> {
                    return new Probe(Status.ERROR, "CUDA runtime error: " + r.reason(), r.cudaError());
                }
            }
            if (r.deviceCount() <= 0)
                return new Probe(Status.ERROR, "CUDA runtime reports " + r.deviceCount() + " devices and no error", 0);
            int ordinal = ordinal(r.deviceCount());
            return new Probe(Status.AVAILABLE, describe(lib, ordinal, r.deviceCount(), predictedGemm(lib)), 0);
        } catch (IllegalArgumentException e) {
            return new Probe(Status.ERROR, e.getMessage(), 0);
        } catch (RuntimeException e) {
            return new Probe(Status.ERROR, "CUDA probe failed: " + e.getMessage(), 0);
        }
    }

    /** The device ordinal of {@value #DEVICE_PROPERTY} (default 0), checked against the device count. */
    static int ordinal(int count) {
        String v = System.getProperty(DEVICE_PROPERTY);
        if (v == null || v.isBlank()) return 0;
        int o;
        try {
            o = Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + DEVICE_PROPERTY + "=" + v + " is not a CUDA device number");
        }
        if (o < 0 || o >= count)
            throw new IllegalArgumentException("-D" + DEVICE_PROPERTY + "=" + v + " but there are " + count + " CUDA device(s)");
        return o;
    }

    /** Device creation flags from the system properties. */
    static int flags() {
        int f = 0;
        if (Boolean.parseBoolean(System.getProperty(TF32_PROPERTY, "false"))) f |= CudaNative.TF32;
        if ("false".equals(cublasSetting())) f |= CudaNative.NO_CUBLAS;
        return f;
    }

    /** The {@value #CUBLAS_PROPERTY} property, stripped ("" when unset; "false" lower-cased). */
    private static String cublasSetting() {
        String v = System.getProperty(CUBLAS_PROPERTY, "").strip();
        return v.equalsIgnoreCase("false") || v.equalsIgnoreCase("true") ? v.toLowerCase(Locale.ROOT) : v;
    }

    /** Where cuBLAS came from, or why it is absent; found is what devices will use. */
    public record CublasSource(boolean found, String library, String where) {}

    private static CublasSource cublas;

    /**
     * Finds cuBLAS (see the class comment for the order) once per process: the library, once
     * loaded, stays for every device. Not called when the property says false.
     */
    static synchronized CublasSource cublas(CudaNative lib) {
        if (cublas != null) return cublas;
        String setting = cublasSetting();
        if (!setting.isEmpty() && !setting.equals("true")) {
            CudaNative.CublasProbe p = lib.cublasLoad(setting);
            return cublas = new CublasSource(p.found(), p.description(), "-D" + CUBLAS_PROPERTY);
        }
        CudaNative.CublasProbe p = lib.cublasLoad(null);
        if (p.found()) return cublas = new CublasSource(true, p.description(), "the loader path");
        String why = p.description();
        List<Path> bundled = PyTorchCublas.find(System.getProperty(PYTHON_PROPERTY, "python3"));
        if (bundled.isEmpty())
            return cublas = new CublasSource(false, why + "; no PyTorch copy (" + PyTorchCublas.lastOutcome() + ")", "");
        CudaNative.CublasProbe q = lib.cublasLoad(String.join("\n", bundled.stream().map(Path::toString).toList()));
        return cublas = q.found() ? new CublasSource(true, q.description(), "PyTorch's site-packages")
                : new CublasSource(false, why + "; " + q.description(), "");
    }

    /** The GEMM path a device opened now would take (what {@code ./rnn4j devices} reports before opening one). */
    static String predictedGemm(CudaNative lib) {
        int f = flags();
        if ((f & CudaNative.NO_CUBLAS) != 0) return "rnn4j_gemm kernel (cuBLAS disabled by -D" + CUBLAS_PROPERTY + "=false)";
        CublasSource c = cublas(lib);
        if (!c.found()) return "rnn4j_gemm kernel (cuBLAS not found: " + c.library() + ")";
        return "cuBLAS (" + c.library() + " from " + c.where() + ", "
                + ((f & CudaNative.TF32) != 0 ? "TF32 tensor cores" : "FP32") + ")";
    }

    /** "NVIDIA ... (device 0 of 1, sm_90, 132 SMs, 80 GiB; driver 13.0, runtime 13.0); GEMM: ..." */
    static String describe(CudaNative lib, int ordinal, int count, String gemm) {
        CudaNative.DeviceProperties p = lib.deviceProperties(ordinal);
        CudaNative.Versions v = lib.versions();
        return String.format(Locale.ROOT, "%s (device %d of %d, sm_%d%d, %d SMs, %.1f GiB; driver %s, runtime %s); GEMM: %s",
                p.name(), ordinal, count, p.ccMajor(), p.ccMinor(), p.multiprocessors(), p.totalBytes() / (double) (1L << 30),
                CudaNative.Versions.text(v.driver()), CudaNative.Versions.text(v.runtime()), gemm);
    }

    @Override
    public Backend create() { return open(); }

    /** Opens the backend on the selected GPU; throws {@link BackendUnavailableException} saying why it cannot. */
    public static CudaBackend open() { return open(flags()); }

    /** Opens the backend with explicit device-creation flags ({@link CudaNative#TF32}, {@link CudaNative#NO_CUBLAS}). */
    public static CudaBackend open(int flags) {
        Probe p = probeStatus();
        if (!p.available()) throw new BackendUnavailableException("cuda: " + p.detail());
        CudaNative lib = CudaNative.get();
        // cuBLAS must be loaded (from wherever it was found) before the device binds to it; a
        // path given in the property that does not load means the kernel, not a search elsewhere.
        if ((flags & CudaNative.NO_CUBLAS) == 0 && !cublas(lib).found() && !cublasSetting().isEmpty()
                && !cublasSetting().equals("true"))
            flags |= CudaNative.NO_CUBLAS;
        int count = lib.deviceCount();
        return new CudaBackend(lib, ordinal(count), count, flags);
    }
}
