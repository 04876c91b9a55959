// The entry point a job uses: attaches a RecurrentStepOperator to a keyed stream.
package dev.rnn4j.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.util.OutputTag;

import java.time.Duration;

/**
 * Stateful streaming inference of an rnn4j model on a keyed stream: each event is one time step
 * of its key; the key's recurrent state lives in Flink keyed state.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<Score> scores = RecurrentInference
 *         .on(events.keyBy(e -> e.user), ModelSource.file(Path.of("gru.safetensors"), null))
 *         .tokens(e -> e.type)                       // or .vectors(e -> e.features)
 *         .maxBatch(256).maxLatency(Duration.ofMillis(20))
 *         .apply((e, out, prev) -> new Score(e.user, e.seq, out[0]), TypeInformation.of(Score.class));
 * DataStream<RejectedEvent> rejected = scores.getSideOutput(RecurrentInference.BAD_INPUT);
 * }</pre>
 */
public final class RecurrentInference<K, IN> {
    /** Side output of the events skipped under {@link BadInputPolicy#SKIP}. */
    public static final OutputTag<RejectedEvent> BAD_INPUT = new OutputTag<>("rnn4j-bad-input", TypeInformation.of(RejectedEvent.class));

    private final KeyedStream<IN, K> stream;
    private final ModelSource source;
    private EventFunctions.VectorOf<IN> vectorOf;
    private EventFunctions.TokenOf<IN> tokenOf;
    private int maxBatch = 256, maxBuffered = -1;
    private long maxLatencyMs = 20;
    private BadInputPolicy policy = BadInputPolicy.SKIP;
    private String name = "rnn4j-recurrent-step";

    private RecurrentInference(KeyedStream<IN, K> stream, ModelSource source) {
        if (stream == null) throw new NullPointerException("stream is null");
        if (source == null) throw new NullPointerException("source is null");
        this.stream = stream;
        this.source = source;
    }

    public static <K, IN> RecurrentInference<K, IN> on(KeyedStream<IN, K> stream, ModelSource source) {
        return new RecurrentInference<>(stream, source);
    }

    /** Events are float vectors of the model's input width. */
    public RecurrentInference<K, IN> vectors(EventFunctions.VectorOf<IN> f) {
        vectorOf = f;
        tokenOf = null;
        return this;
    }

    /** Events are token ids, looked up in the model's embedding. */
    public RecurrentInference<K, IN> tokens(EventFunctions.TokenOf<IN> f) {
        tokenOf = f;
        vectorOf = null;
        return this;
    }

    /**
     * At most this many keys (one event each) in one batched step; the buffer is flushed once it
     * holds events of this many keys. Default 256; 1 = one key at a time.
     */
    public RecurrentInference<K, IN> maxBatch(int n) {
        if (n < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + n);
        maxBatch = n;
        return this;
    }

    /**
     * The buffer is also flushed once it holds this many events (of any keys): bounds memory when
     * few keys send many events (BATCH mode, where each key's events arrive together). Default
     * 16 * maxBatch.
     */
    public RecurrentInference<K, IN> maxBuffered(int n) {
        if (n < 1) throw new IllegalArgumentException("maxBuffered must be >= 1, got " + n);
        maxBuffered = n;
        return this;
    }

    /** At most this long (processing time) between an event's arrival and its step; default 20 ms; 0 = step at once. */
    public RecurrentInference<K, IN> maxLatency(Duration d) {
        if (d.isNegative()) throw new IllegalArgumentException("maxLatency must be >= 0, got " + d);
        maxLatencyMs = d.toMillis();
        return this;
    }

    public RecurrentInference<K, IN> onBadInput(BadInputPolicy p) {
        if (p == null) throw new NullPointerException("policy is null");
        policy = p;
        return this;
    }

    /** The operator's name in the job graph. */
    public RecurrentInference<K, IN> name(String n) {
        name = n;
        return this;
    }

    /** Adds the operator; {@code resultOf} makes each step's record (null = emit nothing). */
    public <OUT> SingleOutputStreamOperator<OUT> apply(EventFunctions.ResultOf<IN, OUT> resultOf, TypeInformation<OUT> type) {
        if (vectorOf == null && tokenOf == null) throw new IllegalStateException("call vectors(...) or tokens(...) first");
        RecurrentStepOperator<IN, OUT> op = new RecurrentStepOperator<>(source, vectorOf, tokenOf, resultOf, maxBatch,
                maxBuffered > 0 ? maxBuffered : (int) Math.min(Integer.MAX_VALUE, 16L * maxBatch), maxLatencyMs, policy);
        return stream.transform(name, type, op);
    }
}
