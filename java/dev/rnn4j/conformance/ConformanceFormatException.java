package dev.rnn4j.conformance;

import java.io.IOException;
import java.nio.file.Path;

/** A conformance file is readable safetensors but its config is missing, malformed or inconsistent. */
public class ConformanceFormatException extends IOException {
    private final transient Path file;

    public ConformanceFormatException(Path file, String problem) {
        this(file, problem, null);
    }

    public ConformanceFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    public Path file() { return file; }
}
