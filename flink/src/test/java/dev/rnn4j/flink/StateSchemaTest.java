// Loading a model of other sizes against old state (a savepoint) fails with an error naming both
// state layouts, before any event is processed.
package dev.rnn4j.flink;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class StateSchemaTest {
    static final int WIDTH = 3;

    private static void build(StreamExecutionEnvironment env, Path model) {
        DataGeneratorSource<Event> source = new DataGeneratorSource<>(
                i -> Event.of((int) (i % 4), (int) (i / 4), WIDTH, 0), 1_000_000, RateLimiterStrategy.perSecond(200), TypeInformation.of(Event.class));
        var events = env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").uid("events").setParallelism(1);
        RecurrentInference.on(events.keyBy(e -> e.key, Types.INT), ModelSource.file(model, null).onBackend("reference"))
                .vectors(e -> e.vector)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class)).uid("rnn4j")
                .sinkTo(new Sinks.Collect<>("schema")).uid("sink");
    }

    @Test
    void otherSizesAgainstOldStateFailNamingBothLayouts(@TempDir Path dir) throws Exception {
        Sinks.reset();
        Path small = ModelFiles.write(dir.resolve("small.safetensors"), ModelSpec.of(ModelSpec.Kind.GRU, WIDTH, 4, 2), 1);
        Path big = ModelFiles.write(dir.resolve("big.safetensors"), ModelSpec.of(ModelSpec.Kind.GRU, WIDTH, 6, 2), 1);

        StreamExecutionEnvironment env1 = StreamExecutionEnvironment.createLocalEnvironment(1);
        env1.enableCheckpointing(200);
        build(env1, small);
        JobClient job = env1.executeAsync("rnn4j state written");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (Sinks.list("schema").size() < 20 && System.nanoTime() < deadline) Thread.sleep(50);
        assertTrue(Sinks.list("schema").size() >= 20, "the first job produced outputs");
        String savepoint = job.stopWithSavepoint(false, dir.resolve("savepoints").toUri().toString(), SavepointFormatType.CANONICAL).get(60, TimeUnit.SECONDS);

        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        conf.set(ConfigOptions.key("execution.state-recovery.path").stringType().noDefaultValue(), savepoint);
        StreamExecutionEnvironment env2 = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
        build(env2, big);
        Exception e = assertThrows(Exception.class, () -> env2.execute("rnn4j state read by other sizes"));
        Throwable c = e;
        while (c != null && !(c instanceof StateSchemaException)) c = c.getCause();
        assertNotNull(c, "a StateSchemaException in the causes of " + e);
        assertTrue(c.getMessage().contains("[GRU x2 layers, per layer [h:4] = 8 floats per key]"), c.getMessage());
        assertTrue(c.getMessage().contains("[GRU x2 layers, per layer [h:6] = 12 floats per key]"), c.getMessage());
    }
}
