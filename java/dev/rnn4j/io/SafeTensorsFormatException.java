package dev.rnn4j.io;

import java.io.IOException;
import java.nio.file.Path;

/** A file is not a valid safetensors file (or not one this reader accepts); the message names the file and the problem. */
public class SafeTensorsFormatException extends IOException {
    private final transient Path file;
    private final String problem;

    /** An exception whose message is "file: problem". */
    public SafeTensorsFormatException(Path file, String problem) {
        this(file, problem, null);
    }

    /** An exception whose message is "file: problem", with its cause. */
    public SafeTensorsFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    /** The file that was rejected. */
    public Path file() { return file; }

    /** What is wrong with it, without the file name. */
    public String problem() { return problem; }
}
