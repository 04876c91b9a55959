package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
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
        int d = s.width();
        layer = switch (model) {
            case "SRU" -> SRU.builder(d, d).numLayers(1).build(device);
            case "SRU2" -> SRU.builder(d, d).v1(false).numLayers(1).build(device);
            case "LSTM" -> LSTM.builder(d, d).seed(1).build(device);
            case "GRU" -> GRU.builder(d, d).seed(1).build(device);
            default -> throw new IllegalArgumentException("model " + model);
        };
        SplittableRandom rnd = new SplittableRandom(7);
        int n = Math.toIntExact(s.tokens() * d);
        x = device.tensor(Shape.uniform(rnd, n, 1), s.seqLen(), s.batch(), d);
        gradOut = device.tensor(Shape.uniform(rnd, n, 1e-3), s.seqLen(), s.batch(), d);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        gradOut.close();
        layer.close();
        device.close();
    }

    private RecurrentOutput forwardCall() {
        return switch (layer) {
            case SRU sru -> sru.forward(x, null);
            case LSTM lstm -> lstm.forward(x);
            case GRU gru -> gru.forward(x);
            default -> throw new IllegalStateException();
        };
    }

    private RecurrentGrads backwardCall(RecurrentOutput out) {
        return switch (layer) {
            case SRU sru -> sru.backward(out, gradOut, null);
            case LSTM lstm -> lstm.backward(out, gradOut, null, null);
            case GRU gru -> gru.backward(out, gradOut, null);
            default -> throw new IllegalStateException();
        };
    }

    private float sync(Tensor t) {
        device.backend().download(t.buffer(), t.numel() - 1, one, 0, 1);
        return one[0];
    }

    @Benchmark
    public float forward() {
        layer.eval();
        try (RecurrentOutput out = forwardCall()) {
            return sync(out.output());
        }
    }

    @Benchmark
    public float forwardBackward() {
        layer.train(true);
        try (RecurrentOutput out = forwardCall(); RecurrentGrads g = backwardCall(out)) {
            return sync(g.input());
        }
    }
}
