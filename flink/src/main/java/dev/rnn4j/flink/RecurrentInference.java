// The entry point a job uses: attaches a RecurrentStepOperator to a keyed stream.
package dev.rnn4j.flink;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stateful streaming inference of an rnn4j model on a keyed stream: each event is one time step
 * of its key; the key's recurrent state lives in Flink keyed state.
 *
 * <pre>{@code
 * RecurrentInference<Integer, Event> inference = RecurrentInference
 *         .on(events, e -> e.user, Types.INT, ModelSource.file(Path.of("gru.safetensors"), null))
 *         .tokens(e -> e.type)                       // or .vectors(e -> e.features)
 *         .maxBatch(256).maxLatency(Duration.ofMillis(20));
 * SingleOutputStreamOperator<Score> scores =
 *         inference.apply((e, out, prev) -> new Score(e.user, e.seq, out[0]), TypeInformation.of(Score.class));
 * DataStream<RejectedEvent<Integer, Event>> rejected = inference.rejected();
 * }</pre>
 *
 * <p>{@link #on(DataStream, KeySelector, TypeInformation, ModelSource)} keys the stream itself,
 * after a check that puts null events and null keys under the {@link BadInputPolicy};
 * {@link #on(KeyedStream, ModelSource)} takes a stream the job keyed, where a null key fails in
 * Flink's partitioner before rnn4j sees the event.
 */
public final class RecurrentInference<K, IN> {
    /** The id of the side output of skipped events ({@link #badInput()}). */
    public static final String BAD_INPUT_ID = "rnn4j-bad-input";

    private final DataStream<IN> unkeyed;
    private final KeySelector<IN, K> keySelector;
    private final TypeInformation<K> keyType;
    private KeyedStream<IN, K> stream;
    private final ModelSource source;
    private EventFunctions.VectorOf<IN> vectorOf;
    private EventFunctions.TokenOf<IN> tokenOf;
    private int maxBatch = 256, maxBuffered = -1;
    private long maxLatencyMs = 20;
    private BadInputPolicy policy = BadInputPolicy.SKIP;
    private String name = "rnn4j-recurrent-step";
    private boolean acceptModelChange;
    private SingleOutputStreamOperator<?> applied;
    private SingleOutputStreamOperator<IN> keyCheck;

    private RecurrentInference(DataStream<IN> unkeyed, KeySelector<IN, K> keySelector, TypeInformation<K> keyType,
                               KeyedStream<IN, K> stream, ModelSource source) {
        if (source == null) throw new NullPointerException("source is null");
        this.unkeyed = unkeyed;
        this.keySelector = keySelector;
        this.keyType = keyType;
        this.stream = stream;
        this.source = source;
    }

    /**
     * Inference on a stream the job has keyed. Flink's partitioner rejects a null key there (a
     * {@code NullPointerException} upstream of rnn4j, outside the {@link BadInputPolicy}): use
     * {@link #on(DataStream, KeySelector, TypeInformation, ModelSource)} where keys can be null.
     */
    public static <K, IN> RecurrentInference<K, IN> on(KeyedStream<IN, K> stream, ModelSource source) {
        if (stream == null) throw new NullPointerException("stream is null");
        return new RecurrentInference<>(null, null, stream.getKeyType(), stream, source);
    }

    /**
     * Inference on {@code events} keyed by {@code key}: a check before the {@code keyBy} treats a
     * null event and an event whose key is null as bad input (skipped to {@link #rejected()} with
     * the reason {@code null event} or {@code null key}, or failing the job under
     * {@link BadInputPolicy#FAIL}); the key selector is called twice per event (the check, then
     * Flink's partitioner), so it must be deterministic, as Flink requires anyway.
     */
    public static <K, IN> RecurrentInference<K, IN> on(DataStream<IN> events, KeySelector<IN, K> key, TypeInformation<K> keyType, ModelSource source) {
        if (events == null) throw new NullPointerException("events is null");
        if (key == null) throw new NullPointerException("key selector is null");
        if (keyType == null) throw new NullPointerException("key type is null");
        return new RecurrentInference<>(events, key, keyType, null, source);
    }

    /**
     * Restoring state written by another model of the same layout (other weights: its
     * {@link StreamingModel#fingerprint()} differs) is intended, e.g. a new version of the model:
     * the operator logs the change (both fingerprints and model origins) instead of failing with a
     * {@link ModelChangedException}. A change of layout still fails ({@link StateSchemaException}).
     */
    public RecurrentInference<K, IN> acceptModelChange() {
        acceptModelChange = true;
        return this;
    }

    /**
     * The side output of the events skipped under {@link BadInputPolicy#SKIP}, typed with the
     * stream's key and event types (id {@value #BAD_INPUT_ID}); {@link #rejected()} is the
     * stream of all of them.
     */
    public OutputTag<RejectedEvent<K, IN>> badInput() {
        TypeInformation<IN> inType = unkeyed != null ? unkeyed.getType() : stream.getType();
        return new OutputTag<>(BAD_INPUT_ID, rejectedType(keyType, inType));
    }

    /** The type of {@code RejectedEvent<K, IN>}: a Flink POJO of the key's, a string's and the event's types. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static <K, IN> TypeInformation<RejectedEvent<K, IN>> rejectedType(TypeInformation<K> keyType, TypeInformation<IN> inType) {
        Map<String, TypeInformation<?>> fields = new LinkedHashMap<>();
        fields.put("key", keyType);
        fields.put("reason", Types.STRING);
        fields.put("event", inType);
        return (TypeInformation) Types.POJO(RejectedEvent.class, fields);
    }

    /**
     * Every event skipped as bad input, after {@link #apply}: the operator's side output
     * {@link #badInput()}, and with {@link #on(DataStream, KeySelector, TypeInformation, ModelSource)}
     * also the null events and null keys of the check before the {@code keyBy}.
     */
    public DataStream<RejectedEvent<K, IN>> rejected() {
        if (applied == null) throw new IllegalStateException("call apply(...) first");
        OutputTag<RejectedEvent<K, IN>> tag = badInput();
        DataStream<RejectedEvent<K, IN>> r = applied.getSideOutput(tag);
        return keyCheck == null ? r : r.union(keyCheck.getSideOutput(tag));
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

    /** Adds the operator (once); {@code resultOf} makes each step's record (null = emit nothing). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public <OUT> SingleOutputStreamOperator<OUT> apply(EventFunctions.ResultOf<IN, OUT> resultOf, TypeInformation<OUT> type) {
        if (vectorOf == null && tokenOf == null) throw new IllegalStateException("call vectors(...) or tokens(...) first");
        if (applied != null) throw new IllegalStateException("apply(...) was called already");
        OutputTag<RejectedEvent<K, IN>> tag = badInput();
        if (unkeyed != null) {
            keyCheck = unkeyed.process(new KeyCheck<>(keySelector, policy, tag), unkeyed.getType()).name(name + "-key-check");
            stream = keyCheck.keyBy(keySelector, keyType);
        }
        RecurrentStepOperator<IN, OUT> op = new RecurrentStepOperator<>(source, vectorOf, tokenOf, resultOf, maxBatch,
                maxBuffered > 0 ? maxBuffered : (int) Math.min(Integer.MAX_VALUE, 16L * maxBatch), maxLatencyMs, policy,
                (OutputTag) tag, acceptModelChange);
        SingleOutputStreamOperator<OUT> out = stream.transform(name, type, op);
        applied = out;
        return out;
    }

    /** Before the keyBy: null events and null keys go by the policy, since Flink's partitioner cannot take them. */
    static final class KeyCheck<K, IN> extends ProcessFunction<IN, IN> {
        private final KeySelector<IN, K> key;
        private final BadInputPolicy policy;
        private final OutputTag<RejectedEvent<K, IN>> tag;
        private transient Counter skipped;

        KeyCheck(KeySelector<IN, K> key, BadInputPolicy policy, OutputTag<RejectedEvent<K, IN>> tag) {
            this.key = key;
            this.policy = policy;
            this.tag = tag;
        }

        @Override
        public void open(OpenContext context) {
            skipped = getRuntimeContext().getMetricGroup().counter("rnn4jSkippedEvents");
        }

        @Override
        public void processElement(IN e, Context ctx, Collector<IN> out) throws Exception {
            String bad = e == null ? "null event" : key.getKey(e) == null ? "null key" : null;
            if (bad == null) {
                out.collect(e);
            } else if (policy == BadInputPolicy.FAIL) {
                throw new BadInputException(bad + " (event " + e + ")");
            } else {
                skipped.inc();
                ctx.output(tag, new RejectedEvent<>(null, bad, e));
            }
        }
    }
}
