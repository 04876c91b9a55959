package dev.rnn4j;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;
import dev.rnn4j.backend.BackendUnavailableException;
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

    /** Every backend this build knows, in the order {@code ./rnn4j devices} lists them. */
    public static final List<BackendProvider> PROVIDERS = List.of(
            new ReferenceBackendProvider(),
            new CpuBackendProvider(),
            new OpenClBackendProvider(),
            new CudaBackendProvider());

    /** One line of {@code ./rnn4j devices}. */
    public record BackendInfo(String name, boolean available, String detail) {}

    private final Backend backend;
    private volatile boolean closed;

    private Device(Backend backend) { this.backend = backend; }

    /** The plain-Java reference backend: always available. */
    public static Device reference() { return open("reference"); }

    /** Opens the backend called {@code name}; throws {@link BackendUnavailableException} saying why if it cannot. */
    public static Device open(String name) {
        if (name == null) throw new NullPointerException("backend name is null");
        String key = name.toLowerCase(Locale.ROOT);
        for (BackendProvider p : PROVIDERS)
            if (p.name().equals(key)) return new Device(p.create());
        throw new IllegalArgumentException("unknown backend '" + name + "'; known: " + names());
    }

    /** Every known backend with its availability and reason. */
    public static List<BackendInfo> backends() {
        List<BackendInfo> out = new ArrayList<>();
        for (BackendProvider p : PROVIDERS) {
            BackendProvider.Availability a;
            try {
                a = p.probe();
            } catch (RuntimeException | LinkageError e) {
                a = BackendProvider.Availability.no("probe failed: " + e);
            }
            out.add(new BackendInfo(p.name(), a.available(), a.detail()));
        }
        return out;
    }

    public static List<String> names() { return PROVIDERS.stream().map(BackendProvider::name).toList(); }

    /** The backend's short name ("reference", "cpu", "opencl", "cuda"). */
    public String name() { return backend.name(); }

    /** The backend behind this device, for layers and tests; throws if the device is closed. */
    public Backend backend() {
        if (closed) throw new IllegalStateException("device " + backend.name() + " is closed");
        return backend;
    }

    public boolean isClosed() { return closed; }

    public Tensor zeros(int... shape) { return Tensor.zeros(this, shape); }

    public Tensor tensor(float[] data, int... shape) { return Tensor.of(this, data, shape); }

    public Tensor tensor(HostTensor t) { return Tensor.of(this, t); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        backend.close();
    }

    @Override
    public String toString() { return "Device[" + backend.name() + ": " + backend.description() + "]"; }
}
