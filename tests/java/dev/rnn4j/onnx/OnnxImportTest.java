package dev.rnn4j.onnx;

import dev.rnn4j.Device;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.onnx.proto.OnnxProto.AttributeProto;
import dev.rnn4j.onnx.proto.OnnxProto.GraphProto;
import dev.rnn4j.onnx.proto.OnnxProto.ModelProto;
import dev.rnn4j.onnx.proto.OnnxProto.NodeProto;
import dev.rnn4j.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorShapeProto;
import dev.rnn4j.onnx.proto.OnnxProto.TypeProto;
import dev.rnn4j.onnx.proto.OnnxProto.ValueInfoProto;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * rnn4j's own ONNX cases (tests/onnx/cases, made by tests/onnx/generate.py from PyTorch models
 * with random weights: torch.onnx exports of a bidirectional-LSTM tagger, an LSTM language-model
 * step and a batch-first GRU, and single LSTM/GRU/RNN nodes with sequence_lens in every
 * direction and both layouts) on every available backend, and the errors for bad models.
 */
class OnnxImportTest {
    static final Path CASES = Path.of("tests/onnx/cases");

    @TestFactory
    Stream<DynamicTest> pytorchCasesOnEveryBackend() throws Exception {
        List<Path> cases;
        try (Stream<Path> s = Files.list(CASES)) {
            cases = s.filter(OnnxTestCase::isCase).sorted().toList();
        }
        assertTrue(cases.size() >= 9, "tests/onnx/cases: " + cases);
        List<DynamicTest> tests = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) {
            if (!b.available()) continue;
            for (Path c : cases)
                tests.add(DynamicTest.dynamicTest(b.name() + " " + c.getFileName(), () -> {
                    try (Device d = Device.open(b.name())) {
                        OnnxTestCase.Result r = OnnxTestCase.load(c).run(d);
                        assertTrue(r.passed(), r.line());
                    }
                }));
        }
        return tests.stream();
    }

    // ------------------------------------------------------------------ bad files

    @Test
    void missingTruncatedAndForeignFilesAreClearErrors(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("nope.onnx");
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModel.load(missing));
        assertEquals(missing + ": no such file", e.getMessage());

        byte[] good = Files.readAllBytes(CASES.resolve("tagger_bilstm/model.onnx"));
        Path cut = dir.resolve("cut.onnx");
        Files.write(cut, Arrays.copyOf(good, good.length / 2));
        e = assertThrows(OnnxFormatException.class, () -> OnnxModel.load(cut));
        assertTrue(e.getMessage().startsWith(cut + ": not an ONNX model"), e.getMessage());

        Path text = dir.resolve("text.onnx");
        Files.writeString(text, "this is not a model\n");
        e = assertThrows(OnnxFormatException.class, () -> OnnxModel.load(text));
        assertTrue(e.getMessage().startsWith(text + ": not an ONNX model"), e.getMessage());

        Path empty = dir.resolve("empty.onnx");
        Files.write(empty, new byte[0]);
        e = assertThrows(OnnxFormatException.class, () -> OnnxModel.load(empty));
        assertEquals(empty + ": not an ONNX model (empty file)", e.getMessage());

        // A tensor file is a valid protobuf message but no model.
        Path tensor = CASES.resolve("tagger_bilstm/test_data_set_0/input_0.pb");
        e = assertThrows(OnnxFormatException.class, () -> OnnxModel.load(tensor));
        assertTrue(e.getMessage().contains("not an ONNX model"), e.getMessage());

        Path cutTensor = dir.resolve("cut.pb");
        byte[] t = Files.readAllBytes(CASES.resolve("gru_seq_lens_forward/test_data_set_0/input_0.pb"));
        Files.write(cutTensor, Arrays.copyOf(t, t.length - 7));
        e = assertThrows(OnnxFormatException.class, () -> OnnxTensor.read(cutTensor));
        assertTrue(e.getMessage().startsWith(cutTensor + ":"), e.getMessage());
    }

    // ------------------------------------------------------------------ unsupported graphs

    private static ValueInfoProto floatInput(String name, long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(s))).build();
    }

    private static Path write(Path dir, NodeProto node, int opset, ValueInfoProto... inputs) throws Exception {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g").addNode(node);
        for (ValueInfoProto v : inputs) g.addInput(v);
        for (String o : node.getOutputList()) if (!o.isEmpty()) g.addOutput(ValueInfoProto.newBuilder().setName(o));
        ModelProto m = ModelProto.newBuilder().setIrVersion(7).setGraph(g)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).build();
        Path f = Files.createTempFile(dir, "m", ".onnx");
        Files.write(f, m.toByteArray());
        return f;
    }

    private static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    @Test
    void unsupportedOperatorsAndAttributesAreNamedAtLoad(@TempDir Path dir) throws Exception {
        Path f = write(dir, NodeProto.newBuilder().setName("mystery").setOpType("Einsum").addInput("x").addOutput("y").build(), 14,
                floatInput("x", 2));
        OnnxUnsupportedException e = assertThrows(OnnxUnsupportedException.class, () -> OnnxModel.load(f));
        assertEquals("mystery", e.node());
        assertEquals("Einsum", e.opType());
        assertNull(e.attribute());
        assertTrue(e.getMessage().contains("node 'mystery' (Einsum): operator Einsum is not supported"), e.getMessage());

        NodeProto gru = NodeProto.newBuilder().setName("enc").setOpType("GRU").addInput("x").addInput("w").addInput("r")
                .addOutput("y").addAttribute(intAttr("hidden_size", 2)).addAttribute(intAttr("linear_before_reset", 1))
                .addAttribute(AttributeProto.newBuilder().setName("clip").setType(AttributeProto.AttributeType.FLOAT).setF(3f)).build();
        Path g = write(dir, gru, 14, floatInput("x", 1, 1, 2), floatInput("w", 1, 6, 2), floatInput("r", 1, 6, 2));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxModel.load(g));
        assertEquals("clip", e.attribute());
        assertTrue(e.getMessage().contains("node 'enc' (GRU), attribute 'clip': cell clipping is not supported yet"), e.getMessage());

        NodeProto lstm = NodeProto.newBuilder().setName("dec").setOpType("LSTM").addInput("x").addInput("w").addInput("r")
                .addInput("").addInput("").addInput("").addInput("").addInput("p")
                .addOutput("y").addAttribute(intAttr("hidden_size", 2)).addAttribute(intAttr("input_forget", 1)).build();
        Path l = write(dir, lstm, 14, floatInput("x", 1, 1, 2), floatInput("w", 1, 8, 2), floatInput("r", 1, 8, 2), floatInput("p", 1, 6));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxModel.load(l));
        assertEquals("input_forget", e.attribute());
        assertTrue(e.getMessage().contains("input_forget = 1 together with peepholes (P) is not supported yet"), e.getMessage());

        NodeProto odd = NodeProto.newBuilder().setName("t").setOpType("Transpose").addInput("x").addOutput("y")
                .addAttribute(intAttr("frobnicate", 1)).build();
        Path h = write(dir, odd, 14, floatInput("x", 2));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxModel.load(h));
        assertEquals("frobnicate", e.attribute());

        Path old = write(dir, NodeProto.newBuilder().setOpType("Relu").addInput("x").addOutput("y").build(), 6, floatInput("x", 2));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxModel.load(old));
        assertTrue(e.getMessage().contains("opset 6 is not supported"), e.getMessage());

        Path dangling = write(dir, NodeProto.newBuilder().setName("r").setOpType("Relu").addInput("ghost").addOutput("y").build(), 14,
                floatInput("x", 2));
        OnnxFormatException fe = assertThrows(OnnxFormatException.class, () -> OnnxModel.load(dangling));
        assertTrue(fe.getMessage().contains("node 'r' (Relu): input 'ghost' is not a graph input"), fe.getMessage());
    }

    // ------------------------------------------------------------------ bad inputs

    @Test
    void wrongInputsAreNamedBeforeAnythingRuns() throws Exception {
        OnnxModel m = OnnxModel.load(CASES.resolve("gru_seq_lens_forward/model.onnx"));
        List<OnnxTensor> in = OnnxTestCase.load(CASES.resolve("gru_seq_lens_forward")).dataSets().get(0).inputs();
        try (Device d = Device.reference()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.run(d, in.subList(0, 3)));
            assertTrue(e.getMessage().contains("takes 6 input(s)"), e.getMessage());

            List<OnnxTensor> badX = new ArrayList<>(in);
            badX.set(0, OnnxTensor.ofFloats(new float[5 * 4 * 2], 5, 4, 2));
            e = assertThrows(IllegalArgumentException.class, () -> m.run(d, badX));
            assertTrue(e.getMessage().contains("input 'X' has shape [5, 4, 2]"), e.getMessage());

            List<OnnxTensor> badType = new ArrayList<>(in);
            badType.set(4, OnnxTensor.ofLongs(new long[]{5, 2, 4, 1}, 4));
            e = assertThrows(IllegalArgumentException.class, () -> m.run(d, badType));
            assertTrue(e.getMessage().contains("input 'sequence_lens' must be INT32, got INT64"), e.getMessage());

            List<OnnxTensor> badLen = new ArrayList<>(in);
            badLen.set(4, OnnxTensor.ofLongs(OnnxTensor.DataType.INT32, new long[]{5, 9, 4, 1}, 4));
            e = assertThrows(IllegalArgumentException.class, () -> m.run(d, badLen));
            assertTrue(e.getMessage().contains("(GRU): sequence_lens[1] = 9 is outside 1..5"), e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> m.run(d, Map.of("X", in.get(0), "Z", in.get(0))));
            assertTrue(e.getMessage().contains("unknown input 'Z'"), e.getMessage());
        }
    }

    @Test
    void aModelRunsRepeatedlyAndLeavesNoDeviceBuffers() throws Exception {
        OnnxModel m = OnnxModel.load(CASES.resolve("tagger_bilstm/model.onnx"));
        OnnxTestCase.DataSet ds = OnnxTestCase.load(CASES.resolve("tagger_bilstm")).dataSets().get(0);
        try (Device d = Device.open("cpu")) {
            long before = DeviceAccess.backend(d).liveBuffers();
            float[] first = m.run(d, ds.inputs()).get("log_probs").floats();
            float[] second = m.run(d, ds.inputs()).get("log_probs").floats();
            assertArrayEquals(first, second);
            assertEquals(before, DeviceAccess.backend(d).liveBuffers(), "a run closes every device tensor it made");
        }
    }
}
