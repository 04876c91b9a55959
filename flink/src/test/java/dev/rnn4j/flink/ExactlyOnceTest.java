// A MiniCluster job with checkpoints and a failure injected mid-stream: after the restore every
// key's outputs equal its offline run (bitwise, reference backend), none lost, none duplicated.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class ExactlyOnceTest {
    static final int KEYS = 16, STEPS = 50, N = KEYS * STEPS, WIDTH = 6;

    /** Throws once (in one of its two tasks), after a checkpoint has completed and N / 8 records passed that task. */
    static final class FailOnce extends RichMapFunction<Scored, Scored> implements CheckpointListener {
        static final AtomicBoolean FAILED = new AtomicBoolean();
        static final AtomicInteger COMPLETED_BEFORE_FAILURE = new AtomicInteger();
        static final AtomicInteger SEEN_AT_FAILURE = new AtomicInteger();
        private int seen;
        private boolean checkpointed;

        @Override
        public Scored map(Scored s) {
            seen++;
            if (checkpointed && seen >= N / 8 && FAILED.compareAndSet(false, true)) {
                SEEN_AT_FAILURE.set(seen);
                throw new RuntimeException("injected failure");
            }
            return s;
        }

        @Override
        public void notifyCheckpointComplete(long id) {
            checkpointed = true;
            if (!FAILED.get()) COMPLETED_BEFORE_FAILURE.incrementAndGet();
        }
    }

    @Test
    void failureAndRestoreGiveEveryOutputOnceEqualToTheOfflineRun(@TempDir Path dir) throws Exception {
        Sinks.reset();
        FailOnce.FAILED.set(false);
        FailOnce.COMPLETED_BEFORE_FAILURE.set(0);
        ModelSpec spec = ModelSpec.of(ModelSpec.Kind.LSTM, WIDTH, 12, 2).withOutput(3);
        Path model = ModelFiles.write(dir.resolve("lstm.safetensors"), spec, 21);

        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(100));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2, conf);
        env.enableCheckpointing(100);

        // One source task, so each key's events come in order: event i is step i / KEYS of key i % KEYS.
        // 160 events/s makes the stream last 5 s, so checkpoints complete (every 100 ms) before it ends even on a loaded machine.
        DataGeneratorSource<Event> source = new DataGeneratorSource<>(
                i -> Event.of((int) (i % KEYS), (int) (i / KEYS), WIDTH, 0), N, RateLimiterStrategy.perSecond(160), TypeInformation.of(Event.class));
        DataStream<Event> events = env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").setParallelism(1);
        RecurrentInference.on(events.keyBy(e -> e.key, Types.INT), ModelSource.file(model, null).onBackend("reference"))
                .vectors(e -> e.vector)
                .maxBatch(8)
                .maxLatency(Duration.ofMillis(30))
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class))
                .uid("rnn4j")
                .map(new FailOnce()).returns(Scored.class)
                .sinkTo(new Sinks.Idempotent());
        env.execute("rnn4j exactly-once");

        assertTrue(FailOnce.FAILED.get(), "the failure was injected");
        assertTrue(FailOnce.COMPLETED_BEFORE_FAILURE.get() > 0, "a checkpoint completed before the failure");
        assertTrue(FailOnce.SEEN_AT_FAILURE.get() < N, "the failure came mid-stream");
        assertEquals(N, Sinks.STORE.size(), "every (key, step) once");
        assertEquals(0, Sinks.CONFLICTS.get(), "replayed outputs are bitwise the first ones");
        assertEquals(Sinks.WRITES.get() - N, Sinks.REWRITES.get());
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.load(d, model)) {
            for (int k = 0; k < KEYS; k++) {
                float[][] x = new float[STEPS][];
                for (int t = 0; t < STEPS; t++) x[t] = Event.of(k, t, WIDTH, 0).vector;
                float[][] want = m.sequence(x, null);
                for (int t = 0; t < STEPS; t++) {
                    float[] got = Sinks.STORE.get(k + "/" + t);
                    assertNotNull(got, "key " + k + " step " + t);
                    for (int i = 0; i < want[t].length; i++)
                        assertEquals(Float.floatToRawIntBits(want[t][i]), Float.floatToRawIntBits(got[i]), "key " + k + " step " + t + " element " + i);
                }
            }
        }
        System.out.println("exactly-once: " + Sinks.WRITES.get() + " writes for " + N + " results (" + Sinks.REWRITES.get()
                + " replayed after the restore), " + FailOnce.COMPLETED_BEFORE_FAILURE.get() + " checkpoints before the failure");
    }
}
