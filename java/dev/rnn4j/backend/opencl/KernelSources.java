package dev.rnn4j.backend.opencl;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The OpenCL program text: the kernel sources of {@code kernels/}, packaged in the jar under
 * {@value #RESOURCE_DIR}, joined into one program after the portability header. Each file's
 * {@code #include "rnn4j_compat.h"} line is dropped (the header comes first) and a
 * {@code #line} directive keeps compiler messages pointing at the original file and line.
 */
final class KernelSources {
    private KernelSources() {}

    static final String RESOURCE_DIR = "/dev/rnn4j/kernels/";
    static final String HEADER = "rnn4j_compat.h";

    /** Every kernel file, one op each; all are built as one program per device. */
    static final List<String> FILES = List.of(
            "copy.cl", "elementwise.cl", "reduce.cl", "dropout_mask.cl", "gemm.cl",
            "rnn_pointwise.cl", "lstm_pointwise.cl", "gru_pointwise.cl", "sru_fwd.cl", "sru_bwd.cl",
            "layer_norm.cl", "embedding.cl", "log_softmax_nll.cl", "adam_step.cl");

    private static volatile String program;

    /** The whole program source (read once from the classpath). */
    static String program() {
        String p = program;
        if (p == null) {
            StringBuilder sb = new StringBuilder();
            sb.append("#line 1 \"").append(HEADER).append("\"\n").append(read(HEADER)).append('\n');
            for (String f : FILES) {
                sb.append("#line 1 \"").append(f).append("\"\n");
                for (String line : read(f).split("\n", -1)) {
                    // keep the line count so #line stays right
                    sb.append(line.strip().equals("#include \"" + HEADER + "\"") ? "" : line).append('\n');
                }
            }
            program = p = sb.toString();
        }
        return p;
    }

    static String read(String name) {
        try (InputStream in = KernelSources.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null)
                throw new IllegalStateException("kernel source " + RESOURCE_DIR + name + " is missing from the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel source " + RESOURCE_DIR + name, e);
        }
    }
}
