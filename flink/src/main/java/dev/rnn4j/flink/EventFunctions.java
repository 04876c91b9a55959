// The small serializable functions a job passes to the operator: how to read an event's input
// (a float vector or a token id) and how to turn a step's output into the emitted record.
package dev.rnn4j.flink;

import java.io.Serializable;

/** Function interfaces of {@link RecurrentInference}; each is serializable so Flink can ship it. */
public final class EventFunctions {
    private EventFunctions() {}

    /** The event's input vector (width = the model's inputSize). */
    @FunctionalInterface
    public interface VectorOf<IN> extends Serializable {
        float[] apply(IN event) throws Exception;
    }

    /** The event's token id (in [0, vocabSize)). */
    @FunctionalInterface
    public interface TokenOf<IN> extends Serializable {
        int apply(IN event) throws Exception;
    }

    /**
     * The record to emit for an event: {@code output} is the model's output at this step;
     * {@code previousOutput} is the key's output at its previous event (zeros before the first),
     * or null when the spec does not keep it.
     */
    @FunctionalInterface
    public interface ResultOf<IN, OUT> extends Serializable {
        OUT apply(IN event, float[] output, float[] previousOutput) throws Exception;
    }
}
