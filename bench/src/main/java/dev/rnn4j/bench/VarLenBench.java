package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import org.openjdk.jmh.annotations.AuxCounters;
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

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * A variable-length batch against the same batch padded: one layer (input = hidden = d) at a
 * benchmark shape T x B x d, each sequence's length drawn uniformly from [T/8, T] (fixed
 * seed, so every run and every model sees the same lengths, {@link #lengths}). {@code lengths
 * = padded} runs the right-padded batch as if every sequence had T steps; {@code varlen} passes
 * the lengths. The time ratio varlen / padded is to be read against the token ratio
 * real / padded ({@link #tokenRatio}).
 *
 * <p>On a shared machine wall time swings with the other processes' load, so on the cpu backend
 * the benchmark also reports the CPU time of the calling thread per call ({@link Cpu}): the
 * Suite runs it single-threaded ({@code -Drnn4j.cpu.threads=1}, OpenBLAS set to one thread in
 * {@link #setUp}), so that thread does all the work and its CPU time is the cost of the call,
 * whatever else runs on the machine.
 *
 * <p>SRU: the lengths go through {@code SRU.forward(Tensor, Tensor, int[])} when the SRU has
 * it; without it ({@link #sruHasLengths} false) the varlen run is the padded call, and the
 * report says so.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class VarLenBench {
    @Param({"cpu"})
    public String backend;

    @Param({"SRU", "LSTM", "GRU"})
    public String model;

    @Param({"35x32x910"})
    public String shape;

    @Param({"padded", "varlen"})
    public String lengths;

    private Device device;
    private Module layer;
    private Tensor x, gradOut;
    private int[] len;
    private Method sruLengths;
    private final float[] one = new float[1];
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** CPU time of the benchmark thread over the calls of an iteration (secondary results "cpuNanos" and "calls"). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Cpu {
        public long cpuNanos, calls;

        @Setup(Level.Iteration)
        public void clear() {
            cpuNanos = 0;
            calls = 0;
        }
    }

    /** The lengths of the benchmark's batch at a shape: uniform in [max(1, T/8), T], seed 12. */
    static int[] lengths(Shape s) {
        SplittableRandom rnd = new SplittableRandom(12);
        int lo = Math.max(1, s.seqLen() / 8), hi = s.seqLen();
        int[] l = new int[s.batch()];
        for (int b = 0; b < l.length; b++) l[b] = lo + rnd.nextInt(hi - lo + 1);
        return l;
    }

    /** Real tokens / padded tokens of {@link #lengths}. */
    static double tokenRatio(Shape s) {
        long real = 0;
        for (int l : lengths(s)) real += l;
        return (double) real / s.tokens();
    }

    /** SRU.forward(Tensor x, Tensor c0, int[] lengths), or null where the SRU has no lengths. */
    static Method sruLengthsMethod() {
        try {
            return SRU.class.getMethod("forward", Tensor.class, Tensor.class, int[].class);
        } catch (NoSuchMethodException e) {
            return null;
        }
    }

    static boolean sruHasLengths() { return sruLengthsMethod() != null; }

    @Setup(Level.Trial)
    public void setUp() {
        Shape s = Shape.parse(shape);
        device = Device.open(backend);
        int d = s.width();
        layer = Layers.build(model, d, device);
        len = switch (lengths) {
            case "padded" -> null;
            case "varlen" -> lengths(s);
            default -> throw new IllegalArgumentException("lengths " + lengths);
        };
        sruLengths = sruLengthsMethod();
        SplittableRandom rnd = new SplittableRandom(7);
        int n = Math.toIntExact(s.tokens() * d);
        float[] xs = Shape.uniform(rnd, n, 1), gs = Shape.uniform(rnd, n, 1e-3);
        if (len != null)   // right-padded: zeros after each sequence's end, as a real batch would be
            for (int t = 0; t < s.seqLen(); t++)
                for (int b = 0; b < s.batch(); b++)
                    if (t >= len[b])
                        for (int j = 0; j < d; j++) xs[(t * s.batch() + b) * d + j] = gs[(t * s.batch() + b) * d + j] = 0;
        x = device.tensor(xs, s.seqLen(), s.batch(), d);
        gradOut = device.tensor(gs, s.seqLen(), s.batch(), d);
    }

    @TearDown(Level.Trial)
    public void tearDown() { Layers.close(x, gradOut, layer, device); }

    private RecurrentOutput forwardCall() {
        return switch (layer) {
            case SRU sru when len != null && sruLengths != null -> sruWithLengths(sru);
            case LSTM lstm when len != null -> lstm.forward(x, len);
            case GRU gru when len != null -> gru.forward(x, len);
            default -> Layers.forward(layer, x);
        };
    }

    private RecurrentOutput sruWithLengths(SRU sru) {
        try {
            return (RecurrentOutput) sruLengths.invoke(sru, x, null, len);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    @Benchmark
    public float forward(Cpu cpu) {
        layer.eval();
        long t0 = THREADS.getCurrentThreadCpuTime();
        try (RecurrentOutput out = forwardCall()) {
            return Layers.sync(device, out.output(), one);
        } finally {
            cpu.cpuNanos += THREADS.getCurrentThreadCpuTime() - t0;
            cpu.calls++;
        }
    }

    @Benchmark
    public float forwardBackward(Cpu cpu) {
        layer.train(true);
        long t0 = THREADS.getCurrentThreadCpuTime();
        try (RecurrentOutput out = forwardCall(); RecurrentGrads g = Layers.backward(layer, out, gradOut)) {
            return Layers.sync(device, g.input(), one);
        } finally {
            cpu.cpuNanos += THREADS.getCurrentThreadCpuTime() - t0;
            cpu.calls++;
        }
    }
}
