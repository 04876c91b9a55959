// What the operator does with an event it cannot feed to the model (wrong width, NaN or
// infinity, token id outside the vocabulary, null).
package dev.rnn4j.flink;

/** See {@link RecurrentInference#BAD_INPUT} for the side output of skipped events. */
public enum BadInputPolicy {
    /**
     * Drop the event before it touches any state, count it in the metric
     * {@code rnn4jSkippedEvents} and emit a {@link RejectedEvent} to the side output
     * {@link RecurrentInference#BAD_INPUT}. The key's state stays as it was. The default.
     */
    SKIP,
    /** Throw a {@link BadInputException} naming the key and the problem: the task fails (and restarts by the job's restart strategy). */
    FAIL
}
