package dev.rnn4j.conformance;

import dev.rnn4j.HostTensor;
import dev.rnn4j.io.Json;
import dev.rnn4j.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/** Test helper: copies a conformance file with its config and/or tensors edited. */
final class CaseFiles {
    private CaseFiles() {}

    static Path source(String name) { return ReferenceConformanceTest.dir().resolve(name + ".safetensors"); }

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
