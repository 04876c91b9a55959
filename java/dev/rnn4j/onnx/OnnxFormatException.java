package dev.rnn4j.onnx;

import java.io.IOException;

/**
 * An ONNX file or tensor file that rnn4j cannot read: missing, truncated, not ONNX, or with a
 * graph that is malformed (a node reading a value nothing produces, a cycle, a bad attribute
 * value). The message says which file or node and what is wrong.
 */
public class OnnxFormatException extends IOException {
    /** An exception with the given message. */
    public OnnxFormatException(String message) { super(message); }

    /** An exception with the given message and cause. */
    public OnnxFormatException(String message, Throwable cause) { super(message, cause); }
}
