// Bad events (wrong width, NaN, infinity, null vector, unknown token id, and before the keyBy a
// null key) are skipped with a reason and the typed event on the side output and leave the key's
// state untouched, or, under FAIL, fail the job with a clear message, without restarting it
// forever under the default restart strategy.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

class BadInputTest {
    static final int WIDTH = 4, VOCAB = 6;

    private static StreamExecutionEnvironment env() {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
        return env;
    }

    /** A job with checkpoints and no restart strategy set: Flink's default then restarts a failing job forever. */
    private static StreamExecutionEnvironment envWithDefaultRestarts() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        env.enableCheckpointing(200);
        return env;
    }

    /** Runs the job, bounded in time: a non-recoverable error must fail it, not restart it. */
    static <T extends Throwable> T failureOf(StreamExecutionEnvironment env, String name, Class<T> type) throws Exception {
        JobClient job = env.executeAsync(name);
        try {
            job.getJobExecutionResult().get(90, TimeUnit.SECONDS);
            return fail("the job finished, it should have failed with a " + type.getSimpleName());
        } catch (TimeoutException t) {
            job.cancel().get(60, TimeUnit.SECONDS);
            return fail("the job neither failed nor finished in 90 s: it kept restarting (status " + job.getJobStatus().get(10, TimeUnit.SECONDS) + ")");
        } catch (ExecutionException e) {
            Throwable c = e;
            while (c != null && !type.isInstance(c)) c = c.getCause();
            assertNotNull(c, "a " + type.getSimpleName() + " in the causes of " + e);
            return type.cast(c);
        }
    }

    @Test
    void badEventsAreSkippedWithReasonAndStateIsUntouched(@TempDir Path dir) throws Exception {
        Sinks.reset();
        ModelSpec vecSpec = ModelSpec.of(ModelSpec.Kind.GRU, WIDTH, 5, 1);
        ModelSpec tokSpec = ModelSpec.of(ModelSpec.Kind.LSTM, 3, 5, 1).withEmbedding(VOCAB).withOutput(VOCAB);
        Path vecModel = ModelFiles.write(dir.resolve("v.safetensors"), vecSpec, 1);
        Path tokModel = ModelFiles.write(dir.resolve("t.safetensors"), tokSpec, 2);

        // Key 0 and 1: good events with bad ones between them.
        List<Event> events = new ArrayList<>();
        int seq = 0;
        for (int t = 0; t < 6; t++) {
            for (int k = 0; k < 2; k++) events.add(Event.of(k, seq, WIDTH, VOCAB));
            seq++;
            if (t == 2) {
                events.add(new Event(0, -1, new float[WIDTH + 1], 0));                        // wrong width
                events.add(new Event(1, -2, new float[]{0, Float.NaN, 0, 0}, 0));              // NaN
                events.add(new Event(0, -3, new float[]{Float.NEGATIVE_INFINITY, 0, 0, 0}, 0)); // infinity
                events.add(new Event(1, -4, null, 0));                                         // no vector
            }
        }
        List<Event> tokEvents = new ArrayList<>();
        for (int t = 0; t < 5; t++) tokEvents.add(new Event(7, t, null, (t * 5) % VOCAB));
        tokEvents.add(2, new Event(7, -5, null, VOCAB));   // unknown id
        tokEvents.add(4, new Event(7, -6, null, -1));      // negative id
        tokEvents.add(1, new Event(-1, -7, null, 3));      // a null key (the key selector below maps key -1 to null)

        StreamExecutionEnvironment env = env();
        DataStream<Event> vs = env.fromData(events);
        var vInference = RecurrentInference.on(vs.keyBy(e -> e.key, Types.INT), ModelSource.file(vecModel, null).onBackend("reference"))
                .vectors(e -> e.vector).maxBatch(4);
        SingleOutputStreamOperator<Scored> vOut = vInference.apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class));
        vOut.sinkTo(new Sinks.Collect<>("vec"));
        vInference.rejected().sinkTo(new Sinks.Collect<>("vecBad"));
        // The token stream is keyed by rnn4j, so its null keys (key -1 here) are bad input too.
        DataStream<Event> ts = env.fromData(tokEvents);
        var tInference = RecurrentInference.on(ts, e -> e.key < 0 ? null : e.key, Types.INT, ModelSource.file(tokModel, null).onBackend("reference"))
                .tokens(e -> e.token).maxBatch(4);
        SingleOutputStreamOperator<Scored> tOut = tInference.apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class));
        tOut.sinkTo(new Sinks.Collect<>("tok"));
        tInference.rejected().sinkTo(new Sinks.Collect<>("tokBad"));
        env.execute("rnn4j bad input");

        List<RejectedEvent<Integer, Event>> vecBad = new ArrayList<>(Sinks.list("vecBad"));
        vecBad.sort(Comparator.comparingInt(r -> -r.event().seq));
        assertEquals(4, vecBad.size(), vecBad.toString());
        assertEquals(List.of("vector has width 5, the model expects 4", "vector element 1 is NaN", "vector element 0 is -Infinity", "null vector"),
                vecBad.stream().map(RejectedEvent::reason).toList());
        // The typed event and key came through Flink's serializers (the side output is a network edge).
        assertEquals(List.of(0, 1, 0, 1), vecBad.stream().map(RejectedEvent::key).toList());
        assertEquals(WIDTH + 1, vecBad.get(0).event().vector.length);
        assertTrue(Float.isNaN(vecBad.get(1).event().vector[1]));
        assertNull(vecBad.get(3).event().vector);
        List<RejectedEvent<Integer, Event>> tokBad = new ArrayList<>(Sinks.list("tokBad"));
        tokBad.sort(Comparator.comparingInt(r -> -r.event().seq));
        assertEquals(List.of("token id 6 is outside the vocabulary [0, 6)", "token id -1 is outside the vocabulary [0, 6)", "null key"),
                tokBad.stream().map(RejectedEvent::reason).toList());
        assertEquals(Arrays.asList(7, 7, null), tokBad.stream().map(RejectedEvent::key).toList());
        assertEquals(-1, tokBad.get(2).event().key);
        assertEquals(3, tokBad.get(2).event().token);

        // The good events' outputs equal the offline run of the good events alone: the bad ones changed no state.
        List<Scored> vec = Sinks.list("vec");
        assertEquals(12, vec.size());
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.load(d, vecModel); StreamingModel tm = StreamingModel.load(d, tokModel)) {
            for (int k = 0; k < 2; k++) {
                float[][] x = new float[6][];
                for (int t = 0; t < 6; t++) x[t] = Event.of(k, t, WIDTH, VOCAB).vector;
                float[][] want = m.sequence(x, null);
                for (Scored s : vec) if (s.key == k) assertArrayEquals(want[s.seq], s.output, 0f, "key " + k + " step " + s.seq);
            }
            List<Scored> tok = Sinks.list("tok");
            assertEquals(5, tok.size());
            int[] ids = new int[5];
            for (int t = 0; t < 5; t++) ids[t] = (t * 5) % VOCAB;
            float[][] want = tm.sequence(null, ids);
            for (Scored s : tok) assertArrayEquals(want[s.seq], s.output, 0f, "token step " + s.seq);
        }
    }

    @Test
    void failPolicyFailsTheJobNamingKeyAndProblemWithoutRestarting(@TempDir Path dir) throws Exception {
        Path model = ModelFiles.write(dir.resolve("v.safetensors"), ModelSpec.of(ModelSpec.Kind.RNN_TANH, WIDTH, 3, 1), 1);
        StreamExecutionEnvironment env = envWithDefaultRestarts();
        DataStream<Event> vs = env.fromData(Event.of(3, 0, WIDTH, 0), new Event(3, 1, new float[2], 0));
        RecurrentInference.on(vs.keyBy(e -> e.key, Types.INT), ModelSource.file(model, null).onBackend("reference"))
                .vectors(e -> e.vector).onBadInput(BadInputPolicy.FAIL)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class))
                .sinkTo(new Sinks.Collect<>("fail"));
        BadInputException c = failureOf(env, "rnn4j bad input fails", BadInputException.class);
        assertTrue(c.getMessage().startsWith("key 3: vector has width 2, the model expects 4"), c.getMessage());
    }

    @Test
    void failPolicyFailsTheJobOnANullKey(@TempDir Path dir) throws Exception {
        Path model = ModelFiles.write(dir.resolve("v.safetensors"), ModelSpec.of(ModelSpec.Kind.GRU, WIDTH, 3, 1), 1);
        StreamExecutionEnvironment env = envWithDefaultRestarts();
        DataStream<Event> vs = env.fromData(Event.of(3, 0, WIDTH, 0), Event.of(-1, 1, WIDTH, 0));
        RecurrentInference.on(vs, e -> e.key < 0 ? null : e.key, Types.INT, ModelSource.file(model, null).onBackend("reference"))
                .vectors(e -> e.vector).onBadInput(BadInputPolicy.FAIL)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class))
                .sinkTo(new Sinks.Collect<>("failNullKey"));
        BadInputException c = failureOf(env, "rnn4j null key fails", BadInputException.class);
        assertTrue(c.getMessage().startsWith("null key (event Event(-1, 1, "), c.getMessage());
    }
}
