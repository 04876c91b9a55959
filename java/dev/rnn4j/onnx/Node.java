package dev.rnn4j.onnx;

import dev.rnn4j.onnx.proto.OnnxProto.AttributeProto;
import dev.rnn4j.onnx.proto.OnnxProto.NodeProto;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One node of a graph with its attributes by name; an absent optional input or output is the
 * empty string, as in the file. {@code name} is the node's own name, or, for a nameless node,
 * one made from its position and first named output so that messages can still point at it.
 */
record Node(int index, String name, String op, List<String> inputs, List<String> outputs,
            Map<String, AttributeProto> attrs) {

    static Node of(int index, NodeProto p) {
        Map<String, AttributeProto> attrs = new LinkedHashMap<>();
        for (AttributeProto a : p.getAttributeList()) attrs.put(a.getName(), a);
        String firstOut = p.getOutputList().stream().filter(o -> !o.isEmpty()).findFirst().orElse("");
        String name = !p.getName().isEmpty() ? p.getName() : "#" + index + (firstOut.isEmpty() ? "" : " -> " + firstOut);
        return new Node(index, name, p.getOpType(), List.copyOf(p.getInputList()), List.copyOf(p.getOutputList()), attrs);
    }

    boolean has(String attr) { return attrs.containsKey(attr); }

    /** The input {@code i}, or "" when the node has fewer inputs. */
    String input(int i) { return i < inputs.size() ? inputs.get(i) : ""; }

    boolean hasInput(int i) { return !input(i).isEmpty(); }

    long i(String attr, long dflt) {
        AttributeProto a = attrs.get(attr);
        return a == null ? dflt : a.getI();
    }

    float f(String attr, float dflt) {
        AttributeProto a = attrs.get(attr);
        return a == null ? dflt : a.getF();
    }

    String s(String attr, String dflt) {
        AttributeProto a = attrs.get(attr);
        return a == null ? dflt : a.getS().toStringUtf8();
    }

    long[] ints(String attr) {
        AttributeProto a = attrs.get(attr);
        if (a == null) return null;
        long[] r = new long[a.getIntsCount()];
        for (int k = 0; k < r.length; k++) r[k] = a.getInts(k);
        return r;
    }

    List<String> strings(String attr) {
        AttributeProto a = attrs.get(attr);
        if (a == null) return null;
        return a.getStringsList().stream().map(b -> b.toStringUtf8()).toList();
    }

    OnnxUnsupportedException unsupported(String attribute, String problem) {
        return new OnnxUnsupportedException(name, op, attribute, problem);
    }

    /** A run-time error in this node (bad input shape or value), with the node in its message. */
    IllegalArgumentException bad(String problem) {
        return new IllegalArgumentException("node '" + name + "' (" + op + "): " + problem);
    }
}
