package dev.rnn4j.onnx;

import com.google.protobuf.ByteString;
import dev.rnn4j.onnx.proto.OnnxProto.AttributeProto;
import dev.rnn4j.onnx.proto.OnnxProto.GraphProto;
import dev.rnn4j.onnx.proto.OnnxProto.NodeProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorShapeProto;
import dev.rnn4j.onnx.proto.OnnxProto.TypeProto;
import dev.rnn4j.onnx.proto.OnnxProto.ValueInfoProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A small builder of ONNX graphs for the exporter: nodes with generated value names,
 * initializers (raw little-endian data) and typed inputs and outputs. A subgraph (a Scan body)
 * is another Graph sharing the name counter, so names never clash with the outer graph's.
 */
final class Graph {
    private final String name;
    private final int[] counter;
    private final GraphProto.Builder g = GraphProto.newBuilder();

    Graph(String name) { this(name, new int[1]); }

    private Graph(String name, int[] counter) {
        this.name = name;
        this.counter = counter;
        g.setName(name);
    }

    /** A subgraph whose generated names continue this graph's. */
    Graph sub(String name) { return new Graph(name, counter); }

    String fresh(String hint) { return hint + "_" + counter[0]++; }

    /** A FLOAT initializer. */
    String floats(String hint, float[] data, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : data) b.putFloat(f);
        return init(hint, TensorProto.DataType.FLOAT_VALUE, b, dims);
    }

    /** An INT64 initializer. */
    String longs(String hint, long[] data, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : data) b.putLong(v);
        return init(hint, TensorProto.DataType.INT64_VALUE, b, dims);
    }

    /** A 1-D INT64 initializer (shapes, axes, indices). */
    String ints(String hint, long... data) { return longs(hint, data, data.length); }

    /** A scalar INT64 initializer. */
    String scalar(String hint, long v) { return longs(hint, new long[]{v}); }

    private String init(String hint, int type, ByteBuffer data, long... dims) {
        String n = fresh(hint);
        TensorProto.Builder t = TensorProto.newBuilder().setName(n).setDataType(type).setRawData(ByteString.copyFrom(data.array()));
        for (long d : dims) t.addDims(d);
        g.addInitializer(t);
        return n;
    }

    /** A node with one output, named from the operator. */
    String op(String op, List<String> inputs, AttributeProto... attrs) {
        return op(op, inputs, List.of(fresh(op.toLowerCase())), attrs).getFirst();
    }

    /** A node with the given outputs ("" for an output not wanted). */
    List<String> op(String op, List<String> inputs, List<String> outputs, AttributeProto... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(fresh("n_" + op));
        n.addAllInput(inputs).addAllOutput(outputs);
        for (AttributeProto a : attrs) n.addAttribute(a);
        g.addNode(n);
        return outputs;
    }

    void input(String name, int type, Object... dims) { g.addInput(info(name, type, dims)); }

    void output(String name, int type, Object... dims) { g.addOutput(info(name, type, dims)); }

    /**
     * A typed value; each dimension is a Long/Integer (fixed) or a String (symbolic). A null
     * dims array leaves the rank open.
     */
    static ValueInfoProto info(String name, int type, Object... dims) {
        TypeProto.Tensor.Builder t = TypeProto.Tensor.newBuilder().setElemType(type);
        if (dims != null) {
            TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
            for (Object d : dims) {
                TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
                if (d instanceof String p) db.setDimParam(p);
                else db.setDimValue(((Number) d).longValue());
                s.addDim(db);
            }
            t.setShape(s);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(t)).build();
    }

    GraphProto build() { return g.build(); }

    // ------------------------------------------------------------------ attributes

    static AttributeProto attr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto attr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto attr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    static AttributeProto attr(String name, long[] v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) a.addInts(x);
        return a.build();
    }

    static AttributeProto attr(String name, List<String> v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRINGS);
        for (String x : v) a.addStrings(ByteString.copyFromUtf8(x));
        return a.build();
    }

    static AttributeProto attr(String name, GraphProto body) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(body).build();
    }

    static AttributeProto attr(String name, TensorProto t) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(t).build();
    }

    static List<String> list(String... names) { return new ArrayList<>(List.of(names)); }

    String name() { return name; }
}
