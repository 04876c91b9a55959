package dev.rnn4j.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.nn.LSTM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Java example of README.md's "ONNX export" section, verbatim, with assertions on the file
 * it writes; {@link #readmeShowsThisExample()} checks that the section's Java block appears here
 * line by line (indentation and assertion lines aside): change both together.
 */
class OnnxExportReadmeTest {
    @Test
    void exportAnLstm(@TempDir Path dir) throws Exception {
        try (Device device = Device.open("cpu");
             LSTM lstm = LSTM.builder(8, 16).numLayers(2).bidirectional(true).batchFirst(true).seed(1).build(device)) {
            Path file = dir.resolve("lstm.onnx");
            OnnxExport.write(lstm, file, OnnxExport.Options.DEFAULT.withLengths(true));
            // inputs: input (batch, seq, 8), lengths (batch) INT64; outputs: output (batch, seq, 32), h_n and c_n (4, batch, 16)
            OnnxModel back = OnnxModel.load(file);

            assertEquals("[input: FLOAT[?, ?, 8], lengths: INT64[?]]", back.inputs().toString());
            assertEquals("[output: FLOAT[?, ?, 32], h_n: FLOAT[4, ?, 16], c_n: FLOAT[4, ?, 16]]", back.outputs().toString());
            assertOnnxRuntimeOpens(file);
        }
    }

    /** ONNX Runtime reads the file with the same inputs and outputs. */
    private static void assertOnnxRuntimeOpens(Path file) throws Exception {
        try (OrtSession s = OrtEnvironment.getEnvironment().createSession(file.toString(), new OrtSession.SessionOptions())) {
            assertEquals(Set.of("input", "lengths"), s.getInputNames());
            assertEquals(Set.of("output", "h_n", "c_n"), s.getOutputNames());
        }
    }

    @Test
    void readmeShowsThisExample() throws Exception {
        String md = Files.readString(Path.of("README.md"));
        int start = md.indexOf("\n## ONNX export\n");
        assertNotEquals(-1, start, "README.md has no section ## ONNX export");
        int end = md.indexOf("\n## ", start + 5);
        List<List<String>> blocks = new ArrayList<>();
        List<String> cur = null;
        for (String line : md.substring(start, end < 0 ? md.length() : end).lines().toList()) {
            if (cur == null && line.strip().equals("```java")) cur = new ArrayList<>();
            else if (cur != null && line.strip().equals("```")) {
                blocks.add(cur.stream().map(String::strip).filter(l -> !l.isEmpty()).toList());
                cur = null;
            } else if (cur != null) cur.add(line);
        }
        assertEquals(1, blocks.size(), "the ONNX export section has one java block");
        List<String> mine = Files.readString(Path.of("tests/java/dev/rnn4j/onnx/OnnxExportReadmeTest.java")).lines()
                .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("assert")).toList();
        assertNotEquals(-1, Collections.indexOfSubList(mine, blocks.get(0)),
                "README example not found in OnnxExportReadmeTest (update both):\n" + String.join("\n", blocks.get(0)));
    }
}
