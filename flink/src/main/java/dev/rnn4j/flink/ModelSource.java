// Where a task gets its model from (a safetensors file or class path resource) and on which
// rnn4j backend it runs it; serializable, so the job graph carries it to every task.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * A model to load once per task: a safetensors state dict ({@link StreamingModel}'s names) from a
 * file path or a class path resource, with its {@link ModelSpec} given or read from the file's
 * metadata (as {@link StreamingModel#save} writes it), on a named backend or, by default, on
 * {@code cpu} (always available: its kernels are Java), else {@code reference}.
 *
 * <p>The cpu backend runs its fast kernels (the Vector API) only in a JVM started with
 * {@code --add-modules jdk.incubator.vector}; without the flag it falls back to plain Java, several
 * times slower (slower than {@code reference}). {@link #open} logs a warning when a task opens
 * {@code cpu} in such a JVM: on a cluster, add the flag to {@code env.java.opts.taskmanager}
 * (see the module's README).
 */
public final class ModelSource implements Serializable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelSource.class);
    static final String VECTOR_MODULE = "jdk.incubator.vector";

    private final String path, resource, backend;
    private final ModelSpec spec;

    private ModelSource(String path, String resource, ModelSpec spec, String backend) {
        this.path = path;
        this.resource = resource;
        this.spec = spec;
        this.backend = backend;
    }

    /** A safetensors file; spec null = read it from the file's metadata. */
    public static ModelSource file(Path file, ModelSpec spec) {
        return new ModelSource(file.toAbsolutePath().toString(), null, spec, null);
    }

    /** A class path resource; spec null = read it from the file's metadata. */
    public static ModelSource resource(String name, ModelSpec spec) {
        return new ModelSource(null, name, spec, null);
    }

    /** The same model on the named backend ({@code reference}, {@code cpu}, {@code opencl}, {@code cuda}). */
    public ModelSource onBackend(String name) {
        if (name == null) throw new NullPointerException("backend name is null");
        return new ModelSource(path, resource, spec, name);
    }

    /** The backend a task will open: the one set, else cpu when available, else reference. */
    public String backendName() {
        return backend != null ? backend : defaultBackend();
    }

    /**
     * cpu when the provider registry lists it as available (it always is: its kernels are Java,
     * the Vector API's with {@code --add-modules jdk.incubator.vector}, else plain Java), else
     * reference.
     */
    public static String defaultBackend() {
        for (Device.BackendInfo b : Device.backends())
            if (b.name().equals("cpu") && b.available()) return "cpu";
        return "reference";
    }

    /** Opens the device and loads the model (resources through the thread's context class loader). */
    public Loaded open() throws IOException {
        return open(Thread.currentThread().getContextClassLoader());
    }

    /** Opens the device and loads the model, a resource through {@code loader}; the caller closes both. */
    public Loaded open(ClassLoader loader) throws IOException {
        String name = backendName();
        if (name.equals("cpu") && !vectorApiEnabled())
            LOG.warn("rnn4j: the cpu backend runs its plain-Java kernels in this JVM, several times slower than its vector kernels: "
                    + "start the JVM with --add-modules " + VECTOR_MODULE + " (on a cluster: env.java.opts.taskmanager)");
        Device device = Device.open(name);
        try {
            StreamingModel m;
            if (path != null) m = spec != null ? StreamingModel.load(device, spec, Path.of(path)) : StreamingModel.load(device, Path.of(path));
            else m = StreamingModel.loadResource(device, spec, resource, loader);
            return new Loaded(device, m);
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** Whether this JVM runs with {@code --add-modules jdk.incubator.vector}, the cpu backend's vector kernels' condition. */
    public static boolean vectorApiEnabled() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    /** Where the model comes from, for messages and the fingerprint kept with the state: {@code file PATH} or {@code resource NAME}. */
    public String origin() {
        return path != null ? "file " + path : "resource " + resource;
    }

    /** A device and the model on it; closing closes both. */
    public record Loaded(Device device, StreamingModel model) implements AutoCloseable {
        @Override
        public void close() {
            try { model.close(); } finally { device.close(); }
        }
    }

    @Override
    public String toString() {
        return "ModelSource[" + origin() + ", backend " + (backend != null ? backend : "default") + "]";
    }
}
