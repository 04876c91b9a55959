// The keyed Flink operator: one recurrent state per key in keyed state, events of many keys
// micro-batched into one batched model step, flushed on a batch bound, a processing-time latency
// bound, a watermark, a checkpoint barrier and the end of input.
package dev.rnn4j.flink;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a {@link StreamingModel} over a keyed stream, one event = one time step of its key.
 *
 * <p>Buffering: an accepted event joins an in-memory buffer (its key's state is read from keyed
 * state the first time the key appears in the buffer). The buffer is flushed when it holds events
 * of {@code maxBatch} distinct keys or {@code maxBuffered} events, when the oldest buffered event has waited {@code maxLatencyMs}
 * (processing time), before a watermark is forwarded, before a checkpoint barrier
 * ({@link #prepareSnapshotPreBarrier}: so a checkpoint never holds buffered events, only
 * states) and at the end of input. A flush steps "waves": each wave takes the next event of every
 * buffered key (at most {@code maxBatch} keys) as one batched step, so a key's events are applied
 * in order; then it writes every touched key's state back to keyed state.
 *
 * <p>BATCH execution mode: Flink sorts a keyed input by key (and timestamp) and keeps state only
 * for the current key; the operator writes the most recent key's state last, which is the only key
 * whose events can still come, so the same code is correct there.
 */
public final class RecurrentStepOperator<IN, OUT> extends AbstractStreamOperator<OUT>
        implements OneInputStreamOperator<IN, OUT>, BoundedOneInput {

    static final String STATE_NAME = "rnn4j-recurrent-state";
    static final String LAYOUT_NAME = "rnn4j-recurrent-state-layout";
    static final String FINGERPRINT_NAME = "rnn4j-model-fingerprint";
    private static final Logger LOG = LoggerFactory.getLogger(RecurrentStepOperator.class);

    private final ModelSource source;
    private final EventFunctions.VectorOf<IN> vectorOf;
    private final EventFunctions.TokenOf<IN> tokenOf;
    private final EventFunctions.ResultOf<IN, OUT> resultOf;
    private final int maxBatch, maxBuffered;
    private final long maxLatencyMs;
    private final BadInputPolicy policy;
    private final OutputTag<RejectedEvent<Object, IN>> badInput;
    private final boolean acceptModelChange;

    private transient ModelSource.Loaded loaded;
    private transient ModelSpec spec;
    private transient ValueState<float[]> state;
    private transient ListState<String> layoutState, fingerprintState;
    private transient List<Pending<IN>> buffer;
    private transient LinkedHashMap<Object, float[]> hostStates;
    private transient Object lastKey;
    private transient boolean timerSet;
    private transient Counter events, batches, skipped;

    /** One buffered event: its key, the event and its decoded input. */
    private record Pending<IN>(Object key, IN event, float[] vector, int token, long timestamp, boolean hasTimestamp) {}

    RecurrentStepOperator(ModelSource source, EventFunctions.VectorOf<IN> vectorOf, EventFunctions.TokenOf<IN> tokenOf,
                          EventFunctions.ResultOf<IN, OUT> resultOf, int maxBatch, int maxBuffered, long maxLatencyMs, BadInputPolicy policy,
                          OutputTag<RejectedEvent<Object, IN>> badInput, boolean acceptModelChange) {
        this.source = source;
        this.vectorOf = vectorOf;
        this.tokenOf = tokenOf;
        this.resultOf = resultOf;
        this.maxBatch = maxBatch;
        this.maxBuffered = maxBuffered;
        this.maxLatencyMs = maxLatencyMs;
        this.policy = policy;
        this.badInput = badInput;
        this.acceptModelChange = acceptModelChange;
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        if (loaded == null) loaded = source.open(getUserCodeClassloader());
        spec = loaded.model().spec();
        if (spec.tokens() ? tokenOf == null : vectorOf == null)
            throw new IllegalArgumentException("the model takes " + (spec.tokens() ? "token ids (it has an embedding): use tokens(...)" : "float vectors: use vectors(...)"));
        String layout = spec.stateLayout();
        layoutState = context.getOperatorStateStore().getUnionListState(new ListStateDescriptor<>(LAYOUT_NAME, Types.STRING));
        fingerprintState = context.getOperatorStateStore().getUnionListState(new ListStateDescriptor<>(FINGERPRINT_NAME, Types.STRING));
        // "sha256:<hex> <origin>": the fingerprint, then where the model came from (for the messages only).
        String model = loaded.model().fingerprint() + " " + source.origin();
        if (context.isRestored()) {
            for (String old : layoutState.get())
                checkLayout(old, spec);
            Set<String> olds = new LinkedHashSet<>();
            for (String old : fingerprintState.get()) olds.add(old);
            checkFingerprint(olds, model, acceptModelChange);
        }
        layoutState.update(List.of(layout));
        fingerprintState.update(List.of(model));
    }

    /**
     * Compares the fingerprints kept with restored state ({@code "sha256:<hex> <origin>"} each) with
     * the loaded model's: another model fails with a {@link ModelChangedException} naming both,
     * unless {@code accept}, when the change is logged. State written before fingerprints were
     * kept has none: logged, accepted. Returns what was logged (null: the same model).
     */
    static String checkFingerprint(Set<String> olds, String model, boolean accept) {
        String fp = fingerprintOf(model);
        if (olds.isEmpty()) {
            String m = "rnn4j: the restored state keeps no model fingerprint (written before fingerprints were kept); restoring it with model " + model;
            LOG.info(m);
            return m;
        }
        String logged = null;
        for (String old : olds) {
            if (fingerprintOf(old).equals(fp)) continue;
            if (!accept)
                throw new ModelChangedException("restored rnn4j state was written by another model: the state's model is " + old
                        + ", the loaded model is " + model + " (same state layout, other weights). Load the model the state was written with, "
                        + "or, if the change is intended (a new version of the model), call acceptModelChange() on RecurrentInference.");
            logged = "rnn4j: restoring state written by model " + old + " with another model, " + model + ", as acceptModelChange() allows";
            LOG.warn(logged);
        }
        return logged;
    }

    private static String fingerprintOf(String entry) {
        int sp = entry.indexOf(' ');
        return sp < 0 ? entry : entry.substring(0, sp);
    }

    /** Throws a {@link StateSchemaException} naming both layouts when {@code old} is not this model's. */
    static void checkLayout(String old, ModelSpec spec) {
        if (!old.equals(spec.stateLayout()))
            throw new StateSchemaException("restored rnn4j state does not fit the loaded model: the state was written by a model with layout ["
                    + old + "], the loaded model has layout [" + spec.stateLayout() + "]. Load the model the state was written with, or start without that state.");
    }

    @Override
    public void open() throws Exception {
        super.open();
        if (getKeyedStateBackend() == null)
            throw new IllegalStateException("the rnn4j operator needs a keyed stream: apply it after keyBy()");
        state = getPartitionedState(new ValueStateDescriptor<>(STATE_NAME, PrimitiveArrayTypeInfo.FLOAT_PRIMITIVE_ARRAY_TYPE_INFO));
        buffer = new ArrayList<>();
        hostStates = new LinkedHashMap<>();
        events = getMetricGroup().counter("rnn4jEvents");
        batches = getMetricGroup().counter("rnn4jBatches");
        skipped = getMetricGroup().counter("rnn4jSkippedEvents");
    }

    @Override
    public void processElement(StreamRecord<IN> record) throws Exception {
        IN e = record.getValue();
        Object key = getCurrentKey();
        float[] vec = null;
        int token = 0;
        String bad;
        // A keyed stream carries no null event (Flink's key selector meets it first); kept for a chained caller.
        if (e == null) {
            bad = "null event";
        } else if (spec.tokens()) {
            token = tokenOf.apply(e);
            bad = token < 0 || token >= spec.vocabSize() ? "token id " + token + " is outside the vocabulary [0, " + spec.vocabSize() + ")" : null;
        } else {
            vec = vectorOf.apply(e);
            bad = checkVector(vec, spec.inputSize());
        }
        if (bad != null) {
            if (policy == BadInputPolicy.FAIL) throw new BadInputException("key " + key + ": " + bad + " (event " + e + ")");
            skipped.inc();
            output.collect(badInput, new StreamRecord<>(new RejectedEvent<>(key, bad, e)));
            return;
        }
        if (!hostStates.containsKey(key)) {
            float[] s = state.value();
            if (s == null) s = loaded.model().initialState();
            else if (s.length != spec.stateFloats())
                throw new StateSchemaException("key " + key + ": its state holds " + s.length + " floats, the loaded model has layout ["
                        + spec.stateLayout() + "]");
            else s = s.clone();   // the heap backend hands out its own array: never change it in place
            hostStates.put(key, s);
        }
        buffer.add(new Pending<>(key, e, vec == null ? null : vec.clone(), token, record.getTimestamp(), record.hasTimestamp()));
        lastKey = key;
        if (hostStates.size() >= maxBatch || buffer.size() >= maxBuffered || maxLatencyMs == 0) {
            flush();
        } else if (!timerSet) {
            timerSet = true;
            long now = getProcessingTimeService().getCurrentProcessingTime();
            getProcessingTimeService().registerTimer(now + maxLatencyMs, t -> {
                timerSet = false;
                flush();
            });
        }
    }

    /** Why a vector cannot go to the model, or null. */
    static String checkVector(float[] v, int width) {
        if (v == null) return "null vector";
        if (v.length != width) return "vector has width " + v.length + ", the model expects " + width;
        for (int i = 0; i < v.length; i++)
            if (!Float.isFinite(v[i])) return "vector element " + i + " is " + v[i];
        return null;
    }

    /** Steps every buffered event (in waves of at most one event per key), emits, writes the states back. */
    private void flush() throws Exception {
        if (buffer.isEmpty()) return;
        LinkedHashMap<Object, ArrayDeque<Pending<IN>>> byKey = new LinkedHashMap<>();
        for (Pending<IN> p : buffer) byKey.computeIfAbsent(p.key(), k -> new ArrayDeque<>()).add(p);
        buffer.clear();
        StreamingModel model = loaded.model();
        boolean prev = spec.keepPreviousOutput();
        List<Pending<IN>> wave = new ArrayList<>(Math.min(maxBatch, byKey.size()));
        while (!byKey.isEmpty()) {
            var it = byKey.values().iterator();
            while (it.hasNext() && wave.size() < maxBatch) {
                ArrayDeque<Pending<IN>> q = it.next();
                wave.add(q.poll());
                if (q.isEmpty()) it.remove();
            }
            int n = wave.size();
            float[][] states = new float[n][];
            float[][] vectors = spec.tokens() ? null : new float[n][];
            int[] tokens = spec.tokens() ? new int[n] : null;
            float[][] previous = prev ? new float[n][] : null;
            for (int i = 0; i < n; i++) {
                Pending<IN> p = wave.get(i);
                states[i] = hostStates.get(p.key());
                if (vectors != null) vectors[i] = p.vector();
                else tokens[i] = p.token();
                if (prev) previous[i] = model.previousOutput(states[i]);
            }
            float[][] outs = model.step(states, vectors, tokens);
            batches.inc();
            events.inc(n);
            for (int i = 0; i < n; i++) {
                Pending<IN> p = wave.get(i);
                OUT r = resultOf.apply(p.event(), outs[i], prev ? previous[i] : null);
                if (r != null)
                    output.collect(p.hasTimestamp() ? new StreamRecord<>(r, p.timestamp()) : new StreamRecord<>(r));
            }
            wave.clear();
        }
        // The most recent key last: in BATCH mode only its state survives a key switch, and only it can still get events.
        float[] last = hostStates.remove(lastKey);
        for (Map.Entry<Object, float[]> en : hostStates.entrySet()) {
            setCurrentKey(en.getKey());
            state.update(en.getValue());
        }
        if (last != null) {
            setCurrentKey(lastKey);
            state.update(last);
        }
        hostStates.clear();
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        flush();   // outputs of events before the watermark must not become late
        super.processWatermark(mark);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        flush();   // a checkpoint holds only states, never buffered events
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void endInput() throws Exception {
        flush();
    }

    @Override
    public void finish() throws Exception {
        flush();
        super.finish();
    }

    @Override
    public void close() throws Exception {
        try {
            super.close();
        } finally {
            if (loaded != null) {
                loaded.close();
                loaded = null;
            }
        }
    }
}
