// Where a task gets its model from (a safetensors file or class path resource) and on which
// rnn4j backend it runs it; serializable, so the job graph carries it to every task.
package dev.rnn4j.flink;

import dev.rnn4j.Device;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * A model to load once per task: a safetensors state dict ({@link StreamingModel}'s names) from a
 * file path or a class path resource, with its {@link ModelSpec} given or read from the file's
 * metadata (as {@link StreamingModel#save} writes it), on a named backend or, by default, on
 * {@code cpu} when it is available here, else {@code reference}.
 */
public final class ModelSource implements Serializable {
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

    /** cpu when it is available on this machine (OpenBLAS found), else reference. */
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
        Device device = Device.open(backendName());
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

    /** A device and the model on it; closing closes both. */
    public record Loaded(Device device, StreamingModel model) implements AutoCloseable {
        @Override
        public void close() {
            try { model.close(); } finally { device.close(); }
        }
    }

    @Override
    public String toString() {
        return "ModelSource[" + (path != null ? "file " + path : "resource " + resource) + ", backend " + (backend != null ? backend : "default") + "]";
    }
}
