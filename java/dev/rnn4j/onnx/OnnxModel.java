package dev.rnn4j.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rnn4j.Device;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.onnx.OnnxTensor.DataType;
import dev.rnn4j.onnx.proto.OnnxProto.GraphProto;
import dev.rnn4j.onnx.proto.OnnxProto.ModelProto;
import dev.rnn4j.onnx.proto.OnnxProto.NodeProto;
import dev.rnn4j.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorProto;
import dev.rnn4j.onnx.proto.OnnxProto.TensorShapeProto;
import dev.rnn4j.onnx.proto.OnnxProto.ValueInfoProto;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An ONNX model, read and checked: its graph's nodes in an order that runs (topological), its
 * initializers, and its inputs and outputs. {@link #load} checks every node before anything
 * runs, so a model rnn4j cannot run fails there, naming the node, operator and attribute
 * ({@link OnnxUnsupportedException}). {@link #run} then executes the graph on a device: the
 * LSTM, GRU and RNN nodes on rnn4j's layers, MatMul, Gemm and row gathers on the device's
 * backend, shape and elementwise operators on the host.
 *
 * <pre>{@code
 * OnnxModel model = OnnxModel.load(Path.of("tagger.onnx"));
 * try (Device device = Device.open("cpu")) {
 *     Map<String, OnnxTensor> out = model.run(device,
 *             Map.of("tokens", OnnxTensor.ofLongs(new long[]{4, 8, 15}, 3, 1)));
 *     float[] logProbs = out.get("log_probs").floats();
 * }
 * }</pre>
 *
 * <p>A model holds only host memory and is immutable: any number of threads may run it at once,
 * each run making (and closing) its own device tensors and layers.
 */
public final class OnnxModel {
    /** The opsets of the default domain whose operator definitions this importer follows. */
    public static final int MIN_OPSET = 7, MAX_OPSET = 22;

    /** A graph input or output: its name, element type and shape, where the file declares them. */
    public record ValueInfo(String name, DataType type, List<Long> dims) {
        /** The declared shape: one entry per dimension, -1 where it is symbolic or unknown; null when the rank is unknown. */
        public ValueInfo {
            dims = dims == null ? null : List.copyOf(dims);
        }

        @Override
        public String toString() {
            String s = dims == null ? "[?]" : dims.stream().map(d -> d < 0 ? "?" : d.toString()).toList().toString();
            return name + ": " + (type == null ? "?" : type) + s;
        }
    }

    private final Path source;
    private final int opset;
    private final List<Node> nodes;
    private final Map<String, OnnxTensor> initializers;
    private final List<ValueInfo> inputs, outputs;

    private OnnxModel(Path source, int opset, List<Node> nodes, Map<String, OnnxTensor> initializers,
                      List<ValueInfo> inputs, List<ValueInfo> outputs) {
        this.source = source;
        this.opset = opset;
        this.nodes = nodes;
        this.initializers = initializers;
        this.inputs = inputs;
        this.outputs = outputs;
    }

    /**
     * Reads and checks an ONNX model file.
     *
     * @throws OnnxFormatException      for a missing, unreadable, truncated or non-ONNX file, or a
     *                                  malformed graph
     * @throws OnnxUnsupportedException for an operator, attribute or opset rnn4j does not run
     */
    public static OnnxModel load(Path file) throws OnnxFormatException {
        byte[] bytes = OnnxTensor.bytes(file);
        ModelProto m;
        try {
            m = ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxFormatException(file + ": not an ONNX model (truncated, or another format): " + e.getMessage(), e);
        }
        if (m.getIrVersion() < 3 || !m.hasGraph())
            throw new OnnxFormatException(file + ": not an ONNX model (" + (bytes.length == 0 ? "empty file" : !m.hasGraph() ? "no graph" : "IR version " + m.getIrVersion()) + ")");
        try {
            return of(file, m);
        } catch (OnnxFormatException e) {
            if (e instanceof OnnxUnsupportedException u) throw new OnnxUnsupportedException(file + ": ", u);
            throw new OnnxFormatException(file + ": " + e.getMessage(), e);
        }
    }

    private static OnnxModel of(Path file, ModelProto m) throws OnnxFormatException {
        int opset = -1;
        for (OperatorSetIdProto o : m.getOpsetImportList())
            if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) opset = (int) o.getVersion();
        if (opset < 0) throw new OnnxFormatException("imports no opset of the default ONNX domain");
        if (opset < MIN_OPSET || opset > MAX_OPSET)
            throw new OnnxUnsupportedException("(model)", "opset", null, "default-domain opset " + opset
                    + " is not supported (" + MIN_OPSET + " to " + MAX_OPSET + " are)");
        GraphProto g = m.getGraph();
        Map<String, OnnxTensor> init = new LinkedHashMap<>();
        for (TensorProto t : g.getInitializerList()) init.put(t.getName(), OnnxTensor.fromProto(t, "initializer '" + t.getName() + "'"));
        if (g.getSparseInitializerCount() > 0) throw new OnnxUnsupportedException("(graph)", "sparse_initializer", null, "sparse initializers are not supported");
        List<ValueInfo> ins = new ArrayList<>();
        Set<String> defined = new HashSet<>(init.keySet());
        for (ValueInfoProto v : g.getInputList()) {
            if (init.containsKey(v.getName())) continue; // IR < 4 lists initializers among the inputs
            ins.add(info(v));
            defined.add(v.getName());
        }
        List<ValueInfo> outs = new ArrayList<>();
        for (ValueInfoProto v : g.getOutputList()) outs.add(info(v));

        List<Node> raw = new ArrayList<>();
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto p = g.getNode(i);
            Node n = Node.of(i, p);
            if (!p.getDomain().isEmpty() && !p.getDomain().equals("ai.onnx"))
                throw n.unsupported(null, "operator domain '" + p.getDomain() + "' is not supported (only the default ONNX domain)");
            Ops.validate(n, opset);
            raw.add(n);
        }
        List<Node> order = topological(raw, defined);
        Set<String> produced = new HashSet<>(defined);
        for (Node n : order) produced.addAll(n.outputs());
        for (ValueInfo o : outs)
            if (!produced.contains(o.name())) throw new OnnxFormatException("graph output '" + o.name() + "' is produced by no node");
        return new OnnxModel(file, opset, order, init, List.copyOf(ins), List.copyOf(outs));
    }

    private static ValueInfo info(ValueInfoProto v) {
        if (!v.hasType() || !v.getType().hasTensorType()) return new ValueInfo(v.getName(), null, null);
        var t = v.getType().getTensorType();
        DataType type = t.hasElemType() ? DataType.ofCode(t.getElemType()) : null;
        List<Long> dims = null;
        if (t.hasShape()) {
            dims = new ArrayList<>();
            for (TensorShapeProto.Dimension d : t.getShape().getDimList()) dims.add(d.hasDimValue() ? d.getDimValue() : -1L);
        }
        return new ValueInfo(v.getName(), type, dims);
    }

    /** Kahn's order over the value names; a node reading a name nothing defines, or a cycle, is an error. */
    private static List<Node> topological(List<Node> nodes, Set<String> defined) throws OnnxFormatException {
        Map<String, Node> producer = new HashMap<>();
        for (Node n : nodes)
            for (String o : n.outputs()) {
                if (o.isEmpty()) continue;
                if (defined.contains(o) || producer.putIfAbsent(o, n) != null)
                    throw new OnnxFormatException("node '" + n.name() + "' (" + n.op() + "): value '" + o + "' is defined twice");
            }
        Map<Node, Integer> waiting = new HashMap<>();
        Map<String, List<Node>> readers = new HashMap<>();
        ArrayDeque<Node> ready = new ArrayDeque<>();
        for (Node n : nodes) {
            int w = 0;
            for (String in : new HashSet<>(n.inputs())) {
                if (in.isEmpty() || defined.contains(in)) continue;
                if (!producer.containsKey(in))
                    throw new OnnxFormatException("node '" + n.name() + "' (" + n.op() + "): input '" + in + "' is not a graph input, an initializer or any node's output");
                w++;
                readers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
            }
            waiting.put(n, w);
            if (w == 0) ready.add(n);
        }
        List<Node> order = new ArrayList<>();
        while (!ready.isEmpty()) {
            Node n = ready.poll();
            order.add(n);
            for (String o : n.outputs())
                for (Node r : readers.getOrDefault(o, List.of()))
                    if (waiting.merge(r, -1, Integer::sum) == 0) ready.add(r);
        }
        if (order.size() != nodes.size()) {
            Node stuck = nodes.stream().filter(x -> !order.contains(x)).findFirst().orElseThrow();
            throw new OnnxFormatException("node '" + stuck.name() + "' (" + stuck.op() + "): the graph has a cycle through it");
        }
        return order;
    }

    /** The file this model was read from. */
    public Path source() { return source; }

    /** The default domain's opset version. */
    public int opset() { return opset; }

    /** The graph's inputs that the caller passes (the initializers excluded), in the graph's order. */
    public List<ValueInfo> inputs() { return inputs; }

    /** The graph's outputs, in the graph's order. */
    public List<ValueInfo> outputs() { return outputs; }

    /** The operators of the graph's nodes, in the order they run. */
    public List<String> operators() { return nodes.stream().map(Node::op).toList(); }

    /**
     * Runs the graph on {@code device} with inputs given in the graph's input order.
     *
     * @see #run(Device, Map)
     */
    public Map<String, OnnxTensor> run(Device device, List<OnnxTensor> inputs) {
        if (inputs.size() != this.inputs.size())
            throw new IllegalArgumentException("the model takes " + this.inputs.size() + " input(s) " + this.inputs + ", got " + inputs.size());
        Map<String, OnnxTensor> m = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) m.put(this.inputs.get(i).name(), inputs.get(i));
        return run(device, m);
    }

    /**
     * Runs the graph on {@code device}. Each input is checked against the graph's declaration
     * (element type, rank and fixed dimensions) before any node runs.
     *
     * @param inputs one tensor per graph input, by name
     * @return the graph's outputs by name, in the graph's output order, on the host
     * @throws IllegalArgumentException for a missing, unknown or mis-shaped input, or a node
     *                                  whose inputs are invalid for it (the message names the node)
     */
    public Map<String, OnnxTensor> run(Device device, Map<String, OnnxTensor> inputs) {
        java.util.Objects.requireNonNull(device, "device");
        for (String k : inputs.keySet())
            if (inputs().stream().noneMatch(v -> v.name().equals(k)))
                throw new IllegalArgumentException("unknown input '" + k + "'; the model's inputs are " + this.inputs);
        Map<String, Value> values = new HashMap<>();
        for (ValueInfo v : this.inputs) {
            OnnxTensor t = inputs.get(v.name());
            if (t == null) throw new IllegalArgumentException("input '" + v.name() + "' is missing; the model's inputs are " + this.inputs);
            check(v, t);
            values.put(v.name(), Value.of(t));
        }
        for (Map.Entry<String, OnnxTensor> e : initializers.entrySet()) values.put(e.getKey(), Value.of(e.getValue()));
        try (Run run = new Run(device, opset)) {
            for (Node n : nodes) {
                Value[] in = new Value[n.inputs().size()];
                for (int i = 0; i < in.length; i++) in[i] = n.input(i).isEmpty() ? null : values.get(n.input(i));
                Value[] out;
                try {
                    out = Ops.run(n, in, run);
                } catch (IllegalArgumentException | IllegalStateException | ArithmeticException | IndexOutOfBoundsException e) {
                    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
                    if (msg.startsWith("node '")) throw e;
                    throw n.bad(msg);
                }
                for (int i = 0; i < n.outputs().size() && i < out.length; i++)
                    if (!n.outputs().get(i).isEmpty()) values.put(n.outputs().get(i), out[i]);
            }
            Map<String, OnnxTensor> result = new LinkedHashMap<>();
            for (ValueInfo o : outputs) {
                Value v = values.get(o.name());
                if (v == null) throw new IllegalStateException("output '" + o.name() + "' was not computed");
                result.put(o.name(), v.host());
            }
            return result;
        }
    }

    private static void check(ValueInfo v, OnnxTensor t) {
        if (v.type() != null && v.type() != t.dataType())
            throw new IllegalArgumentException("input '" + v.name() + "' must be " + v.type() + ", got " + t.dataType());
        if (v.dims() == null) return;
        int[] s = t.shape();
        boolean ok = s.length == v.dims().size();
        for (int i = 0; ok && i < s.length; i++) ok = v.dims().get(i) < 0 || v.dims().get(i) == s[i];
        if (!ok) throw new IllegalArgumentException("input '" + v.name() + "' has shape " + Arrays.toString(s) + ", the model declares " + v);
    }

    /**
     * The graph's LSTM, GRU and RNN nodes as rnn4j layers on {@code device}, with the node's
     * weights in PyTorch's layout (gate order and biases converted) and the node's options
     * (bidirectional, {@code layout = 1} as batch first, GRU {@code linear_before_reset},
     * LSTM peepholes and {@code input_forget}, RNN Relu), in training mode, for fine-tuning or
     * for use without the rest of the graph. Keyed by node name (or "#index -> first output"
     * for an unnamed node), in the order the nodes run; the caller closes the layers.
     *
     * @throws IllegalArgumentException naming the node, for weights that are not initializers,
     *                                  a reverse-only node, or mis-shaped weights; nothing is left open
     */
    public Map<String, RNNBase> recurrentLayers(Device device) {
        java.util.Objects.requireNonNull(device, "device");
        Map<String, RNNBase> out = new LinkedHashMap<>();
        try {
            for (Node n : nodes)
                if (n.op().equals("LSTM") || n.op().equals("GRU") || n.op().equals("RNN"))
                    out.put(n.name(), Recurrent.module(n, initializers, device));
        } catch (RuntimeException e) {
            out.values().forEach(RNNBase::close);
            throw e;
        }
        return out;
    }

    /** An initializer by name, or null (for tests). */
    OnnxTensor initializer(String name) { return initializers.get(name); }

    @Override
    public String toString() {
        return "OnnxModel[" + source + ", opset " + opset + ", " + nodes.size() + " nodes, inputs " + inputs + ", outputs " + outputs + "]";
    }
}
