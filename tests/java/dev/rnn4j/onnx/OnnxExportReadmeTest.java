package dev.rnn4j.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.ReadmeText;
import dev.rnn4j.nn.LSTM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
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
        List<List<String>> blocks = ReadmeText.javaBlocks(ReadmeText.section(Files.readString(Path.of("README.md")), "## ONNX export"));
        assertEquals(1, blocks.size(), "the ONNX export section has one java block");
        List<String> mine = ReadmeText.normalized(Files.readString(Path.of("tests/java/dev/rnn4j/onnx/OnnxExportReadmeTest.java")).lines()
                .filter(l -> !l.strip().startsWith("assert")).toList());
        assertNotEquals(-1, Collections.indexOfSubList(mine, blocks.get(0)),
                "README example not found in OnnxExportReadmeTest (update both):\n" + String.join("\n", blocks.get(0)));
    }
}
