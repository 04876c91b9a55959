package dev.rnn4j.onnx;

import dev.rnn4j.Device;
import dev.rnn4j.ReadmeText;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Java example of README.md's "ONNX import" section, verbatim, with assertions on what it
 * computes; {@link #readmeShowsThisExample()} checks that the section's Java block appears here
 * line by line (indentation and assertion lines aside): change both together.
 */
class OnnxReadmeTest {
    @Test
    void importAndRun() throws Exception {
        OnnxModel model = OnnxModel.load(Path.of("tests/onnx/cases/tagger_bilstm/model.onnx"));
        List<OnnxModel.ValueInfo> inputs = model.inputs();          // tokens: INT64[?, ?] (time, batch)
        try (Device device = Device.open("cpu")) {
            OnnxTensor tokens = OnnxTensor.ofLongs(new long[] {3, 1, 4, 1, 5, 9}, 3, 2);
            Map<String, OnnxTensor> out = model.run(device, Map.of("tokens", tokens));
            OnnxTensor logProbs = out.get("log_probs");             // FLOAT[3, 2, 5]
            float[] values = logProbs.floats();

            assertEquals("tokens: INT64[?, ?]", inputs.get(0).toString());
            assertArrayEquals(new int[] {3, 2, 5}, logProbs.shape());
            assertLogProbsAgreeWithReference(model, tokens, values);
        }
    }

    /** Each row's exponentials sum to 1, and the reference backend gives the same values within the tolerance. */
    private static void assertLogProbsAgreeWithReference(OnnxModel model, OnnxTensor tokens, float[] values) {
        for (int r = 0; r < 6; r++) {
            double sum = 0;
            for (int k = 0; k < 5; k++) sum += Math.exp(values[r * 5 + k]);
            assertEquals(1, sum, 1e-5);
        }
        try (Device ref = Device.reference()) {
            float[] want = model.run(ref, Map.of("tokens", tokens)).get("log_probs").floats();
            for (int i = 0; i < want.length; i++) assertEquals(want[i], values[i], 1e-5 + 1e-3 * Math.abs(want[i]));
        }
    }

    @Test
    void readmeShowsThisExample() throws Exception {
        List<List<String>> blocks = ReadmeText.javaBlocks(ReadmeText.section(Files.readString(Path.of("README.md")), "## ONNX import"));
        assertEquals(1, blocks.size(), "the ONNX import section has one java block");
        List<String> mine = ReadmeText.normalized(Files.readString(Path.of("tests/java/dev/rnn4j/onnx/OnnxReadmeTest.java")).lines()
                .filter(l -> !l.strip().startsWith("assert")).toList());
        assertNotEquals(-1, Collections.indexOfSubList(mine, blocks.get(0)),
                "README example not found in OnnxReadmeTest (update both):\n" + String.join("\n", blocks.get(0)));
    }
}
