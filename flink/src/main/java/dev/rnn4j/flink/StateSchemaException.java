// Thrown when restored per-key state was written by a model of other sizes. Deterministic: the
// same state and model fail the same way on every restart, so Flink is told not to restart.
package dev.rnn4j.flink;

import org.apache.flink.runtime.throwable.ThrowableAnnotation;
import org.apache.flink.runtime.throwable.ThrowableType;

/**
 * Restored state that does not fit the loaded model; the message names both. A
 * non-recoverable error for Flink ({@link ThrowableType#NonRecoverableError}): the job fails
 * instead of restarting by its restart strategy, since every restart would meet the same state.
 */
@ThrowableAnnotation(ThrowableType.NonRecoverableError)
public class StateSchemaException extends IllegalStateException {
    /** @param message what the state holds and what the model expects */
    public StateSchemaException(String message) { super(message); }
}
