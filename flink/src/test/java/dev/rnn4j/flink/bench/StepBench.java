// JMH: events/s of the operator's batched step (gather B keys' states, one step at batch B,
// scatter back) at batch bounds 1, 32 and 256; OneKeyAtATimeBench is the same model stepped one
// key at a time with the layer's own forward (what a plain KeyedProcessFunction would do).
package dev.rnn4j.flink.bench;

import dev.rnn4j.Device;
import dev.rnn4j.flink.ModelSpec;
import dev.rnn4j.flink.StreamingModel;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * A 2-layer GRU (input 32, hidden 128) with a Linear(128, 8) output; 256 keys, each with its own
 * state; one invocation steps every key by one event. Scores are events/s (one op = one event).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow"})
public class StepBench {
    static final int KEYS = 256, IN = 32, HIDDEN = 128, OUT = 8;

    @Param({"cpu"})
    public String backend;

    /** The batch bound: keys per batched step. */
    @Param({"1", "32", "256"})
    public int batch;

    Device device;
    StreamingModel model;
    float[][] states, inputs;

    @Setup
    public void setup() {
        device = Device.open(backend);
        model = StreamingModel.create(device, ModelSpec.of(ModelSpec.Kind.GRU, IN, HIDDEN, 2).withOutput(OUT), 1);
        states = new float[KEYS][];
        inputs = new float[KEYS][IN];
        SplittableRandom r = new SplittableRandom(1);
        for (int k = 0; k < KEYS; k++) {
            states[k] = model.initialState();
            for (int i = 0; i < IN; i++) inputs[k][i] = (float) (r.nextDouble() * 2 - 1);
        }
    }

    @TearDown
    public void tearDown() {
        model.close();
        device.close();
    }

    /** The operator's path: KEYS events in batched steps of {@code batch} keys. */
    @Benchmark
    @OperationsPerInvocation(KEYS)
    public void batched(Blackhole bh) {
        for (int from = 0; from < KEYS; from += batch) {
            int n = Math.min(batch, KEYS - from);
            float[][] s = new float[n][], x = new float[n][];
            for (int i = 0; i < n; i++) {
                s[i] = states[from + i];
                x[i] = inputs[from + i];
            }
            bh.consume(model.step(s, x, null));
        }
    }
}
