// Old state (a savepoint) restored with another model: other sizes fail naming both state layouts,
// the same sizes with other weights fail naming both model fingerprints unless the change is
// accepted (then it is logged and the job runs); each failure before any event, and final under
// Flink's default restart strategy instead of restarting forever.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class StateSchemaTest {
    static final int WIDTH = 3;
    static final ModelSpec SMALL = ModelSpec.of(ModelSpec.Kind.GRU, WIDTH, 4, 2);

    @TempDir
    static Path dir;
    static Path written;
    static String savepoint;

    private static void build(StreamExecutionEnvironment env, Path model, String sink, boolean accept) {
        DataGeneratorSource<Event> source = new DataGeneratorSource<>(
                i -> Event.of((int) (i % 4), (int) (i / 4), WIDTH, 0), 1_000_000, RateLimiterStrategy.perSecond(200), TypeInformation.of(Event.class));
        var events = env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").uid("events").setParallelism(1);
        var inference = RecurrentInference.on(events.keyBy(e -> e.key, Types.INT), ModelSource.file(model, null).onBackend("reference"))
                .vectors(e -> e.vector);
        if (accept) inference.acceptModelChange();
        inference.apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class)).uid("rnn4j")
                .sinkTo(new Sinks.Collect<>(sink)).uid("sink");
    }

    /** A restoring job with checkpoints and Flink's default restart strategy (restarts a recoverable failure forever). */
    private static StreamExecutionEnvironment restoring() {
        Configuration conf = new Configuration();
        conf.set(ConfigOptions.key("execution.state-recovery.path").stringType().noDefaultValue(), savepoint);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
        env.enableCheckpointing(200);
        return env;
    }

    private static void awaitOutputs(String sink, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (Sinks.list(sink).size() < n && System.nanoTime() < deadline) Thread.sleep(50);
        assertTrue(Sinks.list(sink).size() >= n, sink + ": the job produced outputs");
    }

    @BeforeAll
    static void writeSavepoint() throws Exception {
        Sinks.reset();
        written = ModelFiles.write(dir.resolve("small.safetensors"), SMALL, 1);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        env.enableCheckpointing(200);
        build(env, written, "written", false);
        JobClient job = env.executeAsync("rnn4j state written");
        awaitOutputs("written", 20);
        savepoint = job.stopWithSavepoint(false, dir.resolve("savepoints").toUri().toString(), SavepointFormatType.CANONICAL).get(60, TimeUnit.SECONDS);
    }

    @Test
    void otherSizesAgainstOldStateFailNamingBothLayouts() throws Exception {
        Path big = ModelFiles.write(dir.resolve("big.safetensors"), ModelSpec.of(ModelSpec.Kind.GRU, WIDTH, 6, 2), 1);
        StreamExecutionEnvironment env = restoring();
        build(env, big, "big", false);
        StateSchemaException c = BadInputTest.failureOf(env, "rnn4j state read by other sizes", StateSchemaException.class);
        assertTrue(c.getMessage().contains("[GRU x2 layers, per layer [h:4] = 8 floats per key]"), c.getMessage());
        assertTrue(c.getMessage().contains("[GRU x2 layers, per layer [h:6] = 12 floats per key]"), c.getMessage());
        assertTrue(Sinks.list("big").isEmpty(), "no event was processed");
    }

    @Test
    void otherWeightsOfTheSameShapeFailNamingBothFingerprints() throws Exception {
        Path other = ModelFiles.write(dir.resolve("other.safetensors"), SMALL, 2);
        String writtenFp, otherFp;
        try (Device d = Device.reference(); StreamingModel a = StreamingModel.load(d, written); StreamingModel b = StreamingModel.load(d, other)) {
            writtenFp = a.fingerprint();
            otherFp = b.fingerprint();
        }
        assertNotEquals(writtenFp, otherFp);
        StreamExecutionEnvironment env = restoring();
        build(env, other, "other", false);
        ModelChangedException c = BadInputTest.failureOf(env, "rnn4j state read by another model", ModelChangedException.class);
        assertTrue(c.getMessage().contains(writtenFp + " file " + written.toAbsolutePath()), c.getMessage());
        assertTrue(c.getMessage().contains(otherFp + " file " + other.toAbsolutePath()), c.getMessage());
        assertTrue(c.getMessage().contains("acceptModelChange()"), c.getMessage());
        assertTrue(Sinks.list("other").isEmpty(), "no event was processed");
    }

    @Test
    void anAcceptedModelChangeRestoresTheStateAndRuns() throws Exception {
        Path next = ModelFiles.write(dir.resolve("next.safetensors"), SMALL, 3);
        StreamExecutionEnvironment env = restoring();
        build(env, next, "accepted", true);
        JobClient job = env.executeAsync("rnn4j state read by an accepted new model");
        try {
            awaitOutputs("accepted", 8);
        } finally {
            job.cancel().get(60, TimeUnit.SECONDS);
        }
        List<Scored> out = Sinks.list("accepted");
        // The source resumed from the savepoint, and key 0's first output continues from its restored state:
        // it is not what the new model gives for that event from a zero state.
        Scored first = out.stream().filter(s -> s.key == 0).findFirst().orElseThrow();
        assertTrue(first.seq > 0, "resumed after the savepoint's position, got step " + first.seq);
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.load(d, next)) {
            float[] fromZero = m.sequence(new float[][]{Event.of(0, first.seq, WIDTH, 0).vector}, null)[0];
            assertFalse(java.util.Arrays.equals(fromZero, first.output), "the state was restored, not reset");
        }
    }

    @Test
    void fingerprintCheckLogsAnAcceptedChangeAndAcceptsTheSameModel() {
        assertNull(RecurrentStepOperator.checkFingerprint(Set.of("sha256:aa file /a"), "sha256:aa file /moved", false));
        String logged = RecurrentStepOperator.checkFingerprint(Set.of("sha256:aa file /a"), "sha256:bb file /b", true);
        assertTrue(logged.contains("sha256:aa file /a") && logged.contains("sha256:bb file /b"), logged);
        assertThrows(ModelChangedException.class, () -> RecurrentStepOperator.checkFingerprint(Set.of("sha256:aa file /a"), "sha256:bb file /b", false));
        assertTrue(RecurrentStepOperator.checkFingerprint(Set.of(), "sha256:bb file /b", false).contains("no model fingerprint"));
    }
}
