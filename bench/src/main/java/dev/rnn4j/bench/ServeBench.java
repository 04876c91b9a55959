package dev.rnn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.LSTM;
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
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.nio.FloatBuffer;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Serving: one shared {@code LSTM(910, 910)} in eval mode, called by many threads at once, each
 * call a forward of one (35, 1, 910) sequence; beside it one shared ONNX Runtime session (2
 * intra-op threads) doing the same. Throughput in calls/s; JMH's thread count is the number of
 * concurrent callers. {@link #main} runs 1, 2, 4 and 16 callers and prints a table:
 * <pre>
 * java ... dev.rnn4j.bench.ServeBench [--backend cpu] [--threads 1,2,4,16]
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ServeBench {
    @Param({"cpu"})
    public String backend;

    private static final int T = 35, B = 1, D = 910;

    private Device device;
    private LSTM lstm;
    private Tensor x;
    private OrtEnvironment env;
    private OrtSession session;
    private OnnxTensor ox;

    @Setup(Level.Trial)
    public void setUp() throws OrtException {
        device = Device.open(backend);
        lstm = LSTM.builder(D, D).seed(1).build(device);
        lstm.eval();
        float[] in = Shape.uniform(new SplittableRandom(7), T * B * D, 1);
        x = device.tensor(in, T, B, D);
        env = OrtEnvironment.getEnvironment();
        session = OrtBench.session(env, true, new Shape(T, B, D), new SplittableRandom(11));
        ox = OnnxTensor.createTensor(env, FloatBuffer.wrap(in), new long[]{T, B, D});
    }

    @TearDown(Level.Trial)
    public void tearDown() throws OrtException {
        ox.close();
        session.close();
        x.close();
        lstm.close();
        device.close();
    }

    /** One forward call of the shared layer; the last output value read back. */
    @Benchmark
    public float rnn4j() {
        float[] one = new float[1];
        try (RecurrentOutput out = lstm.forward(x)) {
            device.backend().download(out.output().buffer(), out.output().numel() - 1, one, 0, 1);
            return one[0];
        }
    }

    @Benchmark
    public Object onnxruntime() throws OrtException {
        try (OrtSession.Result r = session.run(Map.of("X", ox))) {
            return r.get(0).getInfo();
        }
    }

    public static void main(String[] args) throws Exception {
        String backend = "cpu", threads = "1,2,4,16";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = args[++i];
                case "--threads" -> threads = args[++i];
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        System.out.println("machine: " + Suite.Machine.describe());
        System.out.println("load average before: " + Suite.Machine.loadAverage());
        Map<Integer, double[]> rows = new TreeMap<>();
        for (String ts : threads.split(",")) {
            int t = Integer.parseInt(ts);
            // the two engines alternate iteration by iteration is not possible in JMH; they run
            // back to back per caller count instead
            for (String which : new String[]{"onnxruntime", "rnn4j"}) {
                var opt = new OptionsBuilder()
                        .include("dev\\.rnn4j\\.bench\\.ServeBench\\." + which + "$")
                        .param("backend", backend)
                        .threads(t).forks(1)
                        .warmupIterations(2).warmupTime(TimeValue.seconds(1))
                        .measurementIterations(3).measurementTime(TimeValue.seconds(2))
                        .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                                "--sun-misc-unsafe-memory-access=allow", "-Xmx8g")
                        .build();
                for (RunResult r : new Runner(opt).run())
                    rows.computeIfAbsent(t, k -> new double[2])[which.equals("rnn4j") ? 1 : 0] = r.getPrimaryResult().getScore();
            }
        }
        System.out.println("load average after: " + Suite.Machine.loadAverage());
        System.out.println("\n| callers | ONNX Runtime calls/s | rnn4j " + backend + " calls/s | rnn4j / ORT |\n|---:|---:|---:|---:|");
        for (var e : rows.entrySet())
            System.out.printf(Locale.ROOT, "| %d | %.1f | %.1f | %.2f |%n", e.getKey(), e.getValue()[0], e.getValue()[1],
                    e.getValue()[1] / e.getValue()[0]);
    }
}
