// Test helper: writes seeded models to safetensors files (and to the test class path).
package dev.rnn4j.flink;

import dev.rnn4j.Device;

import java.net.URISyntaxException;
import java.nio.file.Path;

final class ModelFiles {
    private ModelFiles() {}

    /** Writes a seeded model of {@code spec} to {@code file} (spec in the metadata). */
    static Path write(Path file, ModelSpec spec, long seed) throws Exception {
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.create(d, spec, seed)) {
            m.save(file);
        }
        return file;
    }

    /** Writes a model into the test classes folder, so it is a class path resource of this JVM. */
    static Path writeTestResource(String name, ModelSpec spec, long seed) throws Exception {
        Path root;
        try {
            root = Path.of(ModelFiles.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        return write(root.resolve(name), spec, seed);
    }
}
