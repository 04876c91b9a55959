// JMH: the baseline of StepBench: the same model stepped one key at a time with the layer's own
// forward, per event: the key's h and input as tensors, one GRU step, the output layer, h back.
package dev.rnn4j.flink.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.flink.ModelSpec;
import dev.rnn4j.flink.StreamingModel;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.RecurrentOutput;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/** Same model, keys and inputs as {@link StepBench}; events/s (one op = one event). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "--sun-misc-unsafe-memory-access=allow"})
public class OneKeyAtATimeBench {
    static final int KEYS = StepBench.KEYS, IN = StepBench.IN, HIDDEN = StepBench.HIDDEN;

    @Param({"cpu"})
    public String backend;

    Device device;
    StreamingModel model;
    float[][] h, inputs;

    @Setup
    public void setup() {
        device = Device.open(backend);
        model = StreamingModel.create(device, ModelSpec.of(ModelSpec.Kind.GRU, IN, HIDDEN, 2).withOutput(StepBench.OUT), 1);
        h = new float[KEYS][2 * HIDDEN];
        inputs = new float[KEYS][IN];
        SplittableRandom r = new SplittableRandom(1);
        for (int k = 0; k < KEYS; k++)
            for (int i = 0; i < IN; i++) inputs[k][i] = (float) (r.nextDouble() * 2 - 1);
    }

    @TearDown
    public void tearDown() {
        model.close();
        device.close();
    }

    @Benchmark
    @OperationsPerInvocation(KEYS)
    public void oneKeyAtATime(Blackhole bh) {
        GRU gru = (GRU) model.rnn();
        for (int k = 0; k < KEYS; k++) {
            try (Tensor x = device.tensor(inputs[k], 1, 1, IN);
                 Tensor h0 = device.tensor(h[k], 2, 1, HIDDEN);
                 RecurrentOutput o = gru.forward(x, h0);
                 Tensor y = model.output().forward(o.output())) {
                h[k] = o.hN().toArray();
                bh.consume(y.toArray());
            }
        }
    }
}
