// Thrown when restored per-key state was written by a model of other sizes.
package dev.rnn4j.flink;

/** Restored state whose layout differs from the loaded model's; the message names both. */
public class StateSchemaException extends IllegalStateException {
    public StateSchemaException(String message) { super(message); }
}
