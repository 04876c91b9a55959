// The side-output record for an event skipped as bad input: its key, why, and the event itself.
package dev.rnn4j.flink;

/**
 * An event the operator skipped under {@link BadInputPolicy#SKIP}.
 *
 * @param key    the event's key, as the job's key selector gave it; null when the key itself was
 *               the problem (a null key, only seen by {@link RecurrentInference#on(org.apache.flink.streaming.api.datastream.DataStream,
 *               org.apache.flink.api.java.functions.KeySelector, org.apache.flink.api.common.typeinfo.TypeInformation, ModelSource)})
 * @param reason why the model could not take it (see the bad-input table of the module's README)
 * @param event  the event as it arrived (typed: the stream's own record)
 * @param <K>    the key type
 * @param <IN>   the event type
 */
public record RejectedEvent<K, IN>(K key, String reason, IN event) {}
