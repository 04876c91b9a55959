// A dedicated end-to-end benchmark (not JMH: one Flink job per setting): events/s of the rnn4j
// operator inside a local MiniCluster job at batch bounds 1, 32 and 256, timed from the first to
// the last result reaching the sink, so the job's start-up is not counted.
package dev.rnn4j.flink.bench;

import dev.rnn4j.Device;
import dev.rnn4j.flink.ModelSource;
import dev.rnn4j.flink.ModelSpec;
import dev.rnn4j.flink.RecurrentInference;
import dev.rnn4j.flink.StreamingModel;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code FlinkThroughput [events] [keys] [backend]}: the model of {@link StepBench} (2-layer GRU,
 * input 32, hidden 128, Linear to 8), {@code keys} keys (default 1024) sending {@code events}
 * events (default 100000) round-robin, parallelism 1, latency bound 50 ms.
 */
public final class FlinkThroughput {
    static final AtomicLong FIRST = new AtomicLong(), LAST = new AtomicLong(), COUNT = new AtomicLong();

    /** Records the time of the first and last result and counts them. */
    static final class TimingSink implements Sink<Float> {
        @Override
        public SinkWriter<Float> createWriter(WriterInitContext c) {
            return new SinkWriter<>() {
                @Override
                public void write(Float f, Context ctx) {
                    long now = System.nanoTime();
                    FIRST.compareAndSet(0, now);
                    LAST.set(now);
                    COUNT.incrementAndGet();
                }
                @Override public void flush(boolean end) {}
                @Override public void close() {}
            };
        }
    }

    public static void main(String[] args) throws Exception {
        int events = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int keys = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        String backend = args.length > 2 ? args[2] : ModelSource.defaultBackend();
        Path model = Files.createTempFile("rnn4j-bench", ".safetensors");
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.create(d,
                ModelSpec.of(ModelSpec.Kind.GRU, StepBench.IN, StepBench.HIDDEN, 2).withOutput(StepBench.OUT), 1)) {
            m.save(model);
        }
        float[][] inputs = new float[keys][StepBench.IN];
        SplittableRandom r = new SplittableRandom(1);
        for (float[] row : inputs) for (int i = 0; i < row.length; i++) row[i] = (float) (r.nextDouble() * 2 - 1);
        System.out.printf("rnn4j Flink operator, %d events over %d keys, backend %s, parallelism 1%n", events, keys, backend);
        for (int round = 0; round < 2; round++) {   // round 0 warms the JIT up
            for (int bound : new int[]{1, 32, 256}) {
                FIRST.set(0);
                LAST.set(0);
                COUNT.set(0);
                StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
                int k = keys;
                DataGeneratorSource<Tuple2<Integer, float[]>> src = new DataGeneratorSource<>(
                        i -> Tuple2.of((int) (i % k), inputs[(int) (i % k)]), events,
                        Types.TUPLE(Types.INT, TypeInformation.of(float[].class)));
                var s = env.fromSource(src, WatermarkStrategy.noWatermarks(), "events");
                RecurrentInference.on(s.keyBy(t -> t.f0, Types.INT), ModelSource.file(model, null).onBackend(backend))
                        .vectors(t -> t.f1).maxBatch(bound).maxLatency(Duration.ofMillis(50))
                        .apply((t, out, prev) -> out[0], Types.FLOAT)
                        .sinkTo(new TimingSink());
                env.execute("rnn4j throughput, batch bound " + bound);
                double secs = (LAST.get() - FIRST.get()) / 1e9;
                if (COUNT.get() != events) throw new IllegalStateException(COUNT.get() + " results for " + events + " events");
                if (round == 1)
                    System.out.printf("batch bound %3d: %,10.0f events/s (%d events in %.2f s)%n", bound, events / secs, events, secs);
            }
        }
        Files.deleteIfExists(model);
    }
}
