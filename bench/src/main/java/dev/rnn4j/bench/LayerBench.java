package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One recurrent layer (input = hidden = d, one layer, one direction) on one backend: forward
 * in inference mode, and forward + backward as in a training step. Each call ends by reading
 * one value of the result back, so that queued device work is inside the measured time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class LayerBench {
    @Param({"cpu"})
    public String backend;

    /** SRU: v1; SRU2: the sru 2.x layer (v1=False, sru's defaults: weight_c peepholes, no rescale). */
    @Param({"SRU", "SRU2", "LSTM", "GRU"})
    public String model;

    @Param({"35x32x910"})
    public String shape;

    private Device device;
    private Module layer;
    private Tensor x, gradOut;
    private final float[] one = new float[1];

    @Setup(Level.Trial)
    public void setUp() {
        Shape s = Shape.parse(shape);
        device = Device.open(backend);
        layer = Layers.build(model, s.width(), device);
        SplittableRandom rnd = new SplittableRandom(7);
        int n = Math.toIntExact(s.tokens() * s.width());
        x = device.tensor(Shape.uniform(rnd, n, 1), s.seqLen(), s.batch(), s.width());
        gradOut = device.tensor(Shape.uniform(rnd, n, 1e-3), s.seqLen(), s.batch(), s.width());
    }

    @TearDown(Level.Trial)
    public void tearDown() { Layers.close(x, gradOut, layer, device); }

    @Benchmark
    public float forward() {
        layer.eval();
        try (RecurrentOutput out = Layers.forward(layer, x)) {
            return Layers.sync(device, out.output(), one);
        }
    }

    @Benchmark
    public float forwardBackward() {
        layer.train(true);
        try (RecurrentOutput out = Layers.forward(layer, x); RecurrentGrads g = Layers.backward(layer, out, gradOut)) {
            return Layers.sync(device, g.input(), one);
        }
    }
}
