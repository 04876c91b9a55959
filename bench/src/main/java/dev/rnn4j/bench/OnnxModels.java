package dev.rnn4j.bench;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Writes ONNX models of one LSTM or GRU node, made at bench time for ONNX Runtime. ONNX is
 * protobuf; {@link Proto} writes the few wire types a model needs, so no protobuf library is
 * involved. Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto, TypeProto).
 *
 * <p>The weights are given in PyTorch's layout and gate order (LSTM i, f, g, o; GRU r, z, n)
 * and reordered into ONNX's (LSTM i, o, f, c; GRU z, r, h), and the GRU sets
 * {@code linear_before_reset = 1}, so the ONNX node computes what rnn4j's LSTM and GRU compute
 * for the same state dict.
 */
public final class OnnxModels {
    private OnnxModels() {}

    private static final int FLOAT = 1;          // TensorProto.DataType.FLOAT
    private static final int ATTR_INT = 2;       // AttributeProto.AttributeType.INT
    private static final long IR_VERSION = 8;
    private static final long OPSET = 14;

    /** Gate blocks of ONNX's order, as indices into PyTorch's order. */
    private static final int[] LSTM_ORDER = {0, 3, 1, 2}, GRU_ORDER = {1, 0, 2};

    /**
     * An LSTM or GRU model: input "X" (T, B, I) of float, output "Y" (T, 1, B, H). Weights in
     * PyTorch's layout: wIh (G*H, I), wHh (G*H, H), bIh and bHh (G*H), G = 4 (LSTM) or 3 (GRU).
     */
    public static byte[] recurrent(boolean lstm, int seqLen, int batch, int input, int hidden,
                                   float[] wIh, float[] wHh, float[] bIh, float[] bHh) {
        int[] order = lstm ? LSTM_ORDER : GRU_ORDER;
        int g = order.length;
        float[] w = reorder(wIh, order, hidden * input), r = reorder(wHh, order, hidden * hidden);
        float[] b = biases(bIh, bHh, order, hidden);

        Proto node = new Proto()
                .string(1, "X").string(1, "W").string(1, "R").string(1, "B")
                .string(2, "Y")
                .string(3, lstm ? "lstm" : "gru")
                .string(4, lstm ? "LSTM" : "GRU")
                .message(5, intAttribute("hidden_size", hidden));
        if (!lstm) node.message(5, intAttribute("linear_before_reset", 1));

        Proto graph = new Proto()
                .message(1, node)
                .string(2, "rnn4j_bench")
                .message(5, tensor("W", w, 1, g * hidden, input))
                .message(5, tensor("R", r, 1, g * hidden, hidden))
                .message(5, tensor("B", b, 1, 2 * g * hidden))
                .message(11, valueInfo("X", seqLen, batch, input))
                .message(12, valueInfo("Y", seqLen, 1, batch, hidden));

        return model(graph);
    }

    /**
     * One time step of a stacked LSTM at batch 1, states in and out, as a stream runs it: inputs
     * "X" (1, 1, d), "h0_l" and "c0_l" (1, 1, d) for each layer l; outputs "h_l" and "c_l"
     * (1, 1, d), the layer's new states. Layer l > 0 reads layer l-1's h, which for one step at
     * batch 1 already has the (T, B, d) shape an LSTM node's input needs. Weights per layer in
     * PyTorch's layout and order, as {@link #recurrent}.
     */
    public static byte[] lstmStep(int d, float[][] wIh, float[][] wHh, float[][] bIh, float[][] bHh) {
        int layers = wIh.length;
        Proto graph = new Proto();
        for (int l = 0; l < layers; l++) {
            graph.message(1, new Proto()
                    .string(1, l == 0 ? "X" : "h_" + (l - 1)).string(1, "W" + l).string(1, "R" + l).string(1, "B" + l)
                    .string(1, "").string(1, "h0_" + l).string(1, "c0_" + l)
                    .string(2, "").string(2, "h_" + l).string(2, "c_" + l)
                    .string(3, "lstm" + l).string(4, "LSTM")
                    .message(5, intAttribute("hidden_size", d)));
        }
        graph.string(2, "rnn4j_bench_step");
        for (int l = 0; l < layers; l++) {
            graph.message(5, tensor("W" + l, reorder(wIh[l], LSTM_ORDER, d * d), 1, 4 * d, d))
                    .message(5, tensor("R" + l, reorder(wHh[l], LSTM_ORDER, d * d), 1, 4 * d, d))
                    .message(5, tensor("B" + l, biases(bIh[l], bHh[l], LSTM_ORDER, d), 1, 8 * d));
        }
        graph.message(11, valueInfo("X", 1, 1, d));
        for (int l = 0; l < layers; l++) graph.message(11, valueInfo("h0_" + l, 1, 1, d)).message(11, valueInfo("c0_" + l, 1, 1, d));
        for (int l = 0; l < layers; l++) graph.message(12, valueInfo("h_" + l, 1, 1, d)).message(12, valueInfo("c_" + l, 1, 1, d));
        return model(graph);
    }

    /** A model of one graph, in the IR version and opset the bench writes. */
    private static byte[] model(Proto graph) {
        return new Proto()
                .varint(1, IR_VERSION)
                .string(2, "rnn4j-bench")
                .message(7, graph)
                .message(8, new Proto().string(1, "").varint(2, OPSET))
                .bytes();
    }

    /** ONNX's B: the input biases then the recurrent ones, each reordered into ONNX's gate order. */
    private static float[] biases(float[] bIh, float[] bHh, int[] order, int hidden) {
        int gh = order.length * hidden;
        float[] b = new float[2 * gh];
        System.arraycopy(reorder(bIh, order, hidden), 0, b, 0, gh);
        System.arraycopy(reorder(bHh, order, hidden), 0, b, gh, gh);
        return b;
    }

    private static float[] reorder(float[] src, int[] order, int blockSize) {
        float[] out = new float[src.length];
        for (int i = 0; i < order.length; i++)
            System.arraycopy(src, order[i] * blockSize, out, i * blockSize, blockSize);
        return out;
    }

    private static Proto intAttribute(String name, long value) {
        return new Proto().string(1, name).varint(3, value).varint(20, ATTR_INT);
    }

    private static Proto tensor(String name, float[] data, long... dims) {
        Proto t = new Proto();
        for (long d : dims) t.varint(1, d);
        ByteBuffer raw = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(data);
        return t.varint(2, FLOAT).string(8, name).bytes(9, raw.array());
    }

    private static Proto valueInfo(String name, long... dims) {
        Proto shape = new Proto();
        for (long d : dims) shape.message(1, new Proto().varint(1, d));
        Proto tensorType = new Proto().varint(1, FLOAT).message(2, shape);
        return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
    }

    /** A protobuf message being written: varint and length-delimited fields only. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        private void tag(int field, int wireType) { raw(((long) field << 3) | wireType); }

        Proto varint(int field, long v) {
            tag(field, 0);
            raw(v);
            return this;
        }

        Proto bytes(int field, byte[] b) {
            tag(field, 2);
            raw(b.length);
            out.writeBytes(b);
            return this;
        }

        Proto string(int field, String s) { return bytes(field, s.getBytes(StandardCharsets.UTF_8)); }

        Proto message(int field, Proto m) { return bytes(field, m.bytes()); }

        byte[] bytes() { return out.toByteArray(); }
    }
}
