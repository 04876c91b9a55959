package dev.rnn4j.onnx;

/**
 * A well-formed ONNX graph uses an operator, an attribute or an attribute value that rnn4j does
 * not run (or not yet), found when the model is loaded, before anything runs. The message names
 * the node, the operator and, where one is to blame, the attribute.
 */
public class OnnxUnsupportedException extends OnnxFormatException {
    private final String node, opType, attribute;

    /** {@code attribute} is null when the operator itself (or an input) is what is unsupported. */
    public OnnxUnsupportedException(String node, String opType, String attribute, String problem) {
        super("node '" + node + "' (" + opType + ")" + (attribute == null ? "" : ", attribute '" + attribute + "'")
                + ": " + problem);
        this.node = node;
        this.opType = opType;
        this.attribute = attribute;
    }

    /** The same exception with {@code prefix} (the file) in front of its message. */
    OnnxUnsupportedException(String prefix, OnnxUnsupportedException u) {
        super(prefix + u.getMessage(), u);
        this.node = u.node;
        this.opType = u.opType;
        this.attribute = u.attribute;
    }

    /** The node's name (or a name made from its position and first output when it has none). */
    public String node() { return node; }

    /** The node's operator, e.g. {@code GRU}. */
    public String opType() { return opType; }

    /** The attribute that is unsupported, or null. */
    public String attribute() { return attribute; }
}
