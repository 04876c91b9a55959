// Thrown for an event the model cannot take under BadInputPolicy.FAIL. Deterministic: the replayed
// event would fail again after every restart, so Flink is told not to restart.
package dev.rnn4j.flink;

import org.apache.flink.runtime.throwable.ThrowableAnnotation;
import org.apache.flink.runtime.throwable.ThrowableType;

/**
 * An event the model cannot take; the message names the key and what is wrong. A
 * non-recoverable error for Flink ({@link ThrowableType#NonRecoverableError}): the job fails
 * instead of restarting, since the source would replay the same event after every restart.
 */
@ThrowableAnnotation(ThrowableType.NonRecoverableError)
public class BadInputException extends IllegalArgumentException {
    /** @param message the key, the problem and the event */
    public BadInputException(String message) { super(message); }
}
