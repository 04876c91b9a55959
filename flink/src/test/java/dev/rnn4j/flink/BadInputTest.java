// Bad events (wrong width, NaN, infinity, unknown token id) are skipped with a reason on the side
// output and leave the key's state untouched, or, under FAIL, stop the job with a clear message.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class BadInputTest {
    static final int WIDTH = 4, VOCAB = 6;

    private static StreamExecutionEnvironment env() {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
        return env;
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

        StreamExecutionEnvironment env = env();
        DataStream<Event> vs = env.fromData(events);
        SingleOutputStreamOperator<Scored> vOut = RecurrentInference.on(vs.keyBy(e -> e.key, Types.INT), ModelSource.file(vecModel, null).onBackend("reference"))
                .vectors(e -> e.vector).maxBatch(4)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class));
        vOut.sinkTo(new Sinks.Collect<>("vec"));
        vOut.getSideOutput(RecurrentInference.BAD_INPUT).sinkTo(new Sinks.Collect<>("vecBad"));
        DataStream<Event> ts = env.fromData(tokEvents);
        SingleOutputStreamOperator<Scored> tOut = RecurrentInference.on(ts.keyBy(e -> e.key, Types.INT), ModelSource.file(tokModel, null).onBackend("reference"))
                .tokens(e -> e.token).maxBatch(4)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class));
        tOut.sinkTo(new Sinks.Collect<>("tok"));
        tOut.getSideOutput(RecurrentInference.BAD_INPUT).sinkTo(new Sinks.Collect<>("tokBad"));
        env.execute("rnn4j bad input");

        List<RejectedEvent> vecBad = Sinks.list("vecBad");
        vecBad.sort(Comparator.comparing(RejectedEvent::event));
        assertEquals(4, vecBad.size(), vecBad.toString());
        List<String> reasons = vecBad.stream().map(RejectedEvent::reason).sorted().toList();
        assertEquals(List.of("null event or vector", "vector element 0 is -Infinity", "vector element 1 is NaN", "vector has width 5, the model expects 4"), reasons);
        List<RejectedEvent> tokBad = Sinks.list("tokBad");
        assertEquals(List.of("token id -1 is outside the vocabulary [0, 6)", "token id 6 is outside the vocabulary [0, 6)"),
                tokBad.stream().map(RejectedEvent::reason).sorted().toList());
        assertTrue(tokBad.stream().allMatch(b -> b.key().equals("7")));

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
    void failPolicyStopsTheJobNamingKeyAndProblem(@TempDir Path dir) throws Exception {
        Path model = ModelFiles.write(dir.resolve("v.safetensors"), ModelSpec.of(ModelSpec.Kind.RNN_TANH, WIDTH, 3, 1), 1);
        StreamExecutionEnvironment env = env();
        DataStream<Event> vs = env.fromData(Event.of(3, 0, WIDTH, 0), new Event(3, 1, new float[2], 0));
        RecurrentInference.on(vs.keyBy(e -> e.key, Types.INT), ModelSource.file(model, null).onBackend("reference"))
                .vectors(e -> e.vector).onBadInput(BadInputPolicy.FAIL)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class))
                .sinkTo(new Sinks.Collect<>("fail"));
        Exception e = assertThrows(Exception.class, () -> env.execute("rnn4j bad input fails"));
        Throwable c = e;
        while (c != null && !(c instanceof BadInputException)) c = c.getCause();
        assertNotNull(c, "a BadInputException in the causes of " + e);
        assertTrue(c.getMessage().startsWith("key 3: vector has width 2, the model expects 4"), c.getMessage());
    }
}
