package dev.rnn4j;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.cpu.CpuBackendProvider;
import dev.rnn4j.backend.cuda.CudaBackendProvider;
import dev.rnn4j.backend.opencl.OpenClBackendProvider;
import dev.rnn4j.backend.reference.ReferenceBackendProvider;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A compute device: one backend instance (reference CPU, an OpenCL device, a CUDA GPU).
 * Tensors and layers are created on a device and only mix with others of the same device.
 *
 * <p>Thread safety (README, "Serving"): a device may be shared by any number of threads, on
 * every backend; so may a module in eval mode for concurrent forward calls (see
 * {@link dev.rnn4j.nn.Module}). A {@link Tensor} may be read by several threads at once but
 * not written or closed while another thread uses it. Closing the device closes its backend;
 * tensors still open become unusable (their calls throw {@link IllegalStateException}).
 * {@link #close()} is idempotent and must not overlap calls in flight on the device.
 */
public final class Device implements AutoCloseable {

    /** Every backend this build knows, in the order {@code ./rnn4j devices} lists them (inside the module: {@link DeviceAccess#providers()}). */
    static final List<BackendProvider> PROVIDERS = List.of(
            new ReferenceBackendProvider(),
            new CpuBackendProvider(),
            new OpenClBackendProvider(),
            new CudaBackendProvider());

    /**
     * One line of {@code ./rnn4j devices}.
     *
     * @param name      the backend's name, as {@link #open} takes it
     * @param available whether it can run here
     * @param detail    the device's description, or one line saying why it cannot run
     */
    public record BackendInfo(String name, boolean available, String detail) {}

    static {
        // The module's internal code reaches the non-public accessors below through this bridge.
        DeviceAccess.install(new DeviceAccess.Bridge() {
            @Override public Backend backend(Device device) { return device.backend(); }
            @Override public DeviceBuffer buffer(Tensor tensor) { return tensor.buffer(); }
            @Override public Backend backend(Tensor tensor) { return tensor.backend(); }
            @Override public List<BackendProvider> providers() { return PROVIDERS; }
        });
    }

    private static final java.util.concurrent.atomic.AtomicLong OPENED = new java.util.concurrent.atomic.AtomicLong();

    private final Backend backend;
    /** Tells two open devices of one backend apart in messages ("cpu#1", "cpu#2"). */
    private final long serial = OPENED.incrementAndGet();
    private volatile boolean closed;

    private Device(Backend backend) { this.backend = backend; }

    /** The plain-Java reference backend: always available. */
    public static Device reference() { return open("reference"); }

    /**
     * What a backend that calls native code says when the JVM denies it native access (Java 24+
     * with {@code --illegal-native-access=deny}, and the default in a future release). On the
     * module path both rnn4j ({@code dev.rnn4j}: CUDA through FFM) and JOCL (the automatic module
     * {@code jocl}: OpenCL through JNI) need it.
     */
    public static final String NATIVE_ACCESS_HINT = "needs native access, which this JVM denies: start java with "
            + "--enable-native-access=ALL-UNNAMED (class path; in an executable jar's manifest: Enable-Native-Access: ALL-UNNAMED)"
            + " or --enable-native-access=dev.rnn4j,jocl (module path)";

    /**
     * Opens the backend called {@code name} (case-insensitive): "reference", "cpu", "opencl" or "cuda".
     *
     * @throws BackendUnavailableException saying why the backend cannot run here (for a JVM that
     *                                     denies native access: {@link #NATIVE_ACCESS_HINT})
     * @throws IllegalArgumentException    if no backend has that name
     */
    public static Device open(String name) {
        if (name == null) throw new NullPointerException("backend name is null");
        String key = name.toLowerCase(Locale.ROOT);
        for (BackendProvider p : PROVIDERS) {
            if (!p.name().equals(key)) continue;
            try {
                return new Device(p.create());
            } catch (RuntimeException | LinkageError e) {
                if (!nativeAccessDenied(e)) throw e;
                BackendUnavailableException b = new BackendUnavailableException(p.name() + ": " + NATIVE_ACCESS_HINT);
                b.initCause(e);
                throw b;
            }
        }
        throw new IllegalArgumentException("unknown backend '" + name + "'; known: " + names());
    }

    /**
     * Why this jar has no native libraries ("this jar was built without native libraries: cmake
     * not found on the PATH"), from the note the build packs beside them, or null.
     */
    private static String nativeBuildStatus() {
        try (var in = Device.class.getResourceAsStream("native/linux-x86_64/build-status.txt")) {
            return in == null ? null : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** Whether {@code e} (or a cause) is the JVM refusing native access, directly or as a library's wrapped message. */
    private static boolean nativeAccessDenied(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause())
            if (t instanceof IllegalCallerException || nativeAccessDenied(t.getMessage())) return true;
        return false;
    }

    private static boolean nativeAccessDenied(String detail) {
        return detail != null && (detail.contains("Illegal native access") || detail.contains("IllegalCallerException"));
    }

    /** Every known backend with its availability and reason. */
    public static List<BackendInfo> backends() {
        List<BackendInfo> out = new ArrayList<>();
        for (BackendProvider p : PROVIDERS) {
            BackendProvider.Availability a;
            try {
                a = p.probe();
            } catch (RuntimeException | LinkageError e) {
                a = BackendProvider.Availability.no(nativeAccessDenied(e) ? NATIVE_ACCESS_HINT : "probe failed: " + e);
            }
            // A library may fold the JVM's refusal into a long multi-line reason: say what to do instead.
            if (!a.available() && nativeAccessDenied(a.detail())) a = BackendProvider.Availability.no(NATIVE_ACCESS_HINT);
            String build = nativeBuildStatus();
            if (!a.available() && build != null && a.detail().contains("not built")) a = BackendProvider.Availability.no(a.detail() + "; " + build);
            out.add(new BackendInfo(p.name(), a.available(), a.detail()));
        }
        return out;
    }

    /** The names of every backend this build knows, in {@link #PROVIDERS} order (available or not). */
    public static List<String> names() { return PROVIDERS.stream().map(BackendProvider::name).toList(); }

    /** The backend's short name ("reference", "cpu", "opencl", "cuda"). */
    public String name() { return backend.name(); }

    /** The backend behind this device (for layers and tests: {@link DeviceAccess#backend(Device)}); throws if the device is closed. */
    Backend backend() {
        if (closed) throw closedError(backend.name());
        return backend;
    }

    /** What a use of a closed device, or of a tensor on one, throws, the same on every backend. */
    static IllegalStateException closedError(String backendName) {
        return new IllegalStateException("device " + backendName + " is closed");
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() { return closed; }

    /** A zero-filled tensor of {@code shape} on this device; see {@link Tensor#zeros(Device, int...)} for the errors. */
    public Tensor zeros(int... shape) { return Tensor.zeros(this, shape); }

    /** A tensor of {@code shape} holding a copy of {@code data} (row-major); IllegalArgumentException if the sizes differ. */
    public Tensor tensor(float[] data, int... shape) { return Tensor.of(this, data, shape); }

    /** A tensor on this device holding a copy of a host tensor. */
    public Tensor tensor(HostTensor t) { return Tensor.of(this, t); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        backend.close();
    }

    @Override
    public String toString() { return "Device[" + label() + ": " + backend.description() + "]"; }

    /**
     * The backend name and a number unique to this device in this JVM, e.g. {@code cpu#2}:
     * errors that involve two devices name them this way, so two devices of one backend differ.
     */
    public String label() { return backend.name() + "#" + serial; }
}
