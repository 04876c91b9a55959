package dev.rnn4j.conformance;

import dev.rnn4j.HostTensor;
import dev.rnn4j.io.Json;
import dev.rnn4j.io.SafeTensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Test helper for the conformance files: where they are, which there are, and edited copies.
 * Every test that reads the shipped conformance vectors finds them here.
 */
public final class CaseFiles {
    private CaseFiles() {}

    /** The conformance directory: system property {@code rnn4j.conformance.dir} (set by the build), else tests/conformance. */
    public static Path dir() {
        String p = System.getProperty("rnn4j.conformance.dir");
        return Path.of(p != null && !p.isBlank() ? p : "tests/conformance");
    }

    /** The shipped case {@code name} (a file name without {@code .safetensors}). */
    public static Path source(String name) { return dir().resolve(name + ".safetensors"); }

    /**
     * The file names of every case, sorted; throws (failing the caller, never skipping it) if the
     * directory is missing or holds no {@code *.safetensors} file.
     */
    public static List<String> names() {
        Path d = dir();
        if (!Files.isDirectory(d)) throw new IllegalStateException("conformance directory " + d + " does not exist");
        List<String> names;
        try (Stream<Path> s = Files.list(d)) {
            names = s.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + d, e);
        }
        if (names.isEmpty()) throw new IllegalStateException("no *.safetensors conformance files in " + d);
        return names;
    }

    /** The paths of every case, sorted by name; throws as {@link #names()} does. */
    public static List<Path> paths() { return names().stream().map(dir()::resolve).toList(); }

    /**
     * Writes {@code dst} as a copy of the case {@code name}, after letting {@code config} edit a
     * mutable copy of the config and {@code tensors} a mutable copy of the tensors (either may be null).
     */
    static Path edited(String name, Path dst, Consumer<Map<String, Object>> config,
                       Consumer<Map<String, HostTensor>> tensors) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(source(name));
        Map<String, Object> cfg = new LinkedHashMap<>(Json.parseObject(c.metadataValue("config").orElseThrow()));
        if (config != null) config.accept(cfg);
        Map<String, HostTensor> ts = new LinkedHashMap<>();
        for (var e : c.tensors().entrySet()) ts.put(e.getKey(), new HostTensor(e.getValue().shape(), e.getValue().data().clone()));
        if (tensors != null) tensors.accept(ts);
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        meta.put("config", Json.write(cfg));
        SafeTensors.write(dst, ts, meta);
        return dst;
    }
}
