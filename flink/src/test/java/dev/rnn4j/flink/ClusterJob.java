// The job SessionClusterTest submits to its session cluster: KEYS x STEPS events from a
// rate-limited, checkpointed source through the rnn4j operator into an exactly-once FileSink
// (part files are committed on checkpoints), one line per output: "key seq bits bits ...".
package dev.rnn4j.flink;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringEncoder;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

final class ClusterJob {
    static final int WIDTH = 5;

    private ClusterJob() {}

    /** Adds the job to {@code env}: a GRU read from {@code model} on {@code backend}, output lines under {@code out}. */
    static void build(StreamExecutionEnvironment env, Path model, String backend, int keys, int steps, double perSecond, Path out) {
        DataGeneratorSource<Event> source = new DataGeneratorSource<>(
                i -> Event.of((int) (i % keys), (int) (i / keys), WIDTH, 0), (long) keys * steps,
                RateLimiterStrategy.perSecond(perSecond), TypeInformation.of(Event.class));
        var events = env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").uid("events").setParallelism(1);
        RecurrentInference.on(events.keyBy(e -> e.key, Types.INT), ModelSource.file(model, null).onBackend(backend))
                .vectors(e -> e.vector).maxBatch(8).maxLatency(java.time.Duration.ofMillis(20))
                .apply((e, o, prev) -> line(e.key, e.seq, o), Types.STRING).uid("rnn4j")
                .sinkTo(FileSink.forRowFormat(new org.apache.flink.core.fs.Path(out.toUri()), new SimpleStringEncoder<String>())
                        .withRollingPolicy(OnCheckpointRollingPolicy.build()).build()).uid("files");
    }

    static String line(int key, int seq, float[] out) {
        StringBuilder s = new StringBuilder().append(key).append(' ').append(seq);
        for (float f : out) s.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(f)));
        return s.toString();
    }

    /**
     * Every committed line under {@code out} (part files; in-progress ones are hidden, starting
     * with '.'), by "key/seq"; a second line for the same key and step counts in {@code duplicates}.
     */
    static Map<String, float[]> read(Path out, int[] duplicates) throws IOException {
        Map<String, float[]> m = new HashMap<>();
        if (!Files.exists(out)) return m;
        try (Stream<Path> files = Files.walk(out)) {
            for (Path f : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")).toList())
                for (String l : Files.readAllLines(f)) {
                    String[] p = l.split(" ");
                    float[] v = new float[p.length - 2];
                    for (int i = 0; i < v.length; i++) v[i] = Float.intBitsToFloat(Integer.parseUnsignedInt(p[i + 2], 16));
                    if (m.put(p[0] + "/" + p[1], v) != null) duplicates[0]++;
                }
        }
        return m;
    }
}
