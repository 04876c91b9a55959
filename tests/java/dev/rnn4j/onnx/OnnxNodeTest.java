package dev.rnn4j.onnx;

import dev.rnn4j.Device;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ONNX's own twelve recurrent node tests (tests/onnx-node, a byte-identical copy of the suite's
 * cases) on every available backend: each must pass within the backend-test tolerance (the GRU
 * cases with linear_before_reset = 0 and the LSTM with peepholes on those layer options). A
 * case that needs a cell variant not supported yet goes into NOT_YET with the attribute its
 * refusal at load must name.
 */
class OnnxNodeTest {
    static final Path DIR = Path.of(System.getProperty("rnn4j.onnx.node.dir", "tests/onnx-node"));

    /** Case -> the attribute the refusal must name; the cases not listed must pass. */
    static final Map<String, String> NOT_YET = Map.of();

    static List<Path> cases() throws Exception {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(OnnxTestCase::isCase).sorted().toList();
        }
    }

    @TestFactory
    Stream<DynamicTest> nodeTestsOnEveryBackend() throws Exception {
        List<Path> cases = cases();
        assertEquals(12, cases.size(), "tests/onnx-node holds ONNX's twelve recurrent node tests");
        List<DynamicTest> tests = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) {
            if (!b.available()) continue;
            for (Path c : cases) {
                String name = c.getFileName().toString();
                tests.add(DynamicTest.dynamicTest(b.name() + " " + name, () -> {
                    try (Device d = Device.open(b.name())) {
                        OnnxTestCase.Result r = OnnxTestCase.load(c).run(d);
                        String attr = NOT_YET.get(name);
                        if (attr == null) {
                            assertTrue(r.passed(), r.line());
                        } else {
                            assertFalse(r.passed(), r.line());
                            String named = attr.equals("P") ? "input 'P'" : "attribute '" + attr + "'";
                            assertTrue(r.message().contains("not supported yet") && r.message().contains(named)
                                    && r.message().contains("(" + (name.contains("gru") ? "GRU" : "LSTM") + ")"), r.line());
                        }
                    }
                }));
            }
        }
        return tests.stream();
    }
}
