// What the operator does with an event it cannot feed to the model (wrong width, NaN or
// infinity, token id outside the vocabulary, null vector, and before the keyBy a null event or key).
package dev.rnn4j.flink;

/** See {@link RecurrentInference#rejected()} for the stream of skipped events. */
public enum BadInputPolicy {
    /**
     * Drop the event before it touches any state, count it in the metric
     * {@code rnn4jSkippedEvents} and emit a {@link RejectedEvent} to {@link RecurrentInference#rejected()}.
     * The key's state stays as it was. The default.
     */
    SKIP,
    /**
     * Throw a {@link BadInputException} naming the key and the problem: the job fails. The
     * exception is non-recoverable for Flink, so the job does not restart (a restart would replay
     * the same event).
     */
    FAIL
}
