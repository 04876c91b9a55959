package dev.rnn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
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
 * java ... dev.rnn4j.bench.ServeBench [--backend cpu] [--threads 1,2,4,16] [--interleaved [--seconds S] [--rounds R]]
 * </pre>
 * {@code --interleaved} runs without JMH, for machines shared with other work: round after
 * round, each caller count for each engine in turn for S seconds, and reports per caller count
 * the best round's calls per wall second and the median calls per second of the process's CPU
 * time (which other work on the machine barely moves; threads that spin or fight show up there).
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
            DeviceAccess.backend(device).download(DeviceAccess.buffer(out.output()), out.output().numel() - 1, one, 0, 1);
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
                case "--interleaved" -> { }
                case "--seconds", "--rounds" -> i++;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (java.util.Arrays.asList(args).contains("--interleaved")) {
            interleaved(args, backend, threads);
            return;
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

    private static void interleaved(String[] args, String backend, String threads) throws Exception {
        double seconds = 3;
        int rounds = 3;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--seconds")) seconds = Double.parseDouble(args[++i]);
            if (args[i].equals("--rounds")) rounds = Integer.parseInt(args[++i]);
        }
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        System.out.println("machine: " + Suite.Machine.describe());
        System.out.println("load average before: " + Suite.Machine.loadAverage());
        ServeBench b = new ServeBench();
        b.backend = backend;
        b.setUp();
        int[] counts = java.util.Arrays.stream(threads.split(",")).mapToInt(Integer::parseInt).toArray();
        // [engine][count] -> per round: calls per wall s, calls per CPU s
        Map<String, java.util.List<double[]>> res = new TreeMap<>();
        java.util.concurrent.Callable<?>[] engines = {b::onnxruntime, b::rnn4j};
        String[] names = {"onnxruntime", "rnn4j"};
        for (int e = 0; e < 2; e++) for (int r = 0; r < 20; r++) engines[e].call();   // warm-up
        for (int round = 0; round < rounds; round++) {
            for (int t : counts) {
                for (int e = 0; e < 2; e++) {
                    java.util.concurrent.Callable<?> call = engines[e];
                    java.util.concurrent.atomic.AtomicLong calls = new java.util.concurrent.atomic.AtomicLong();
                    long stop = System.nanoTime() + (long) (seconds * 1e9);
                    Thread[] ts = new Thread[t];
                    long cpu0 = os.getProcessCpuTime(), w0 = System.nanoTime();
                    for (int i = 0; i < t; i++) {
                        ts[i] = Thread.ofPlatform().start(() -> {
                            try {
                                while (System.nanoTime() < stop) {
                                    call.call();
                                    calls.incrementAndGet();
                                }
                            } catch (Exception ex) {
                                throw new IllegalStateException(ex);
                            }
                        });
                    }
                    for (Thread th : ts) th.join();
                    double wall = (System.nanoTime() - w0) / 1e9, cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
                    res.computeIfAbsent(names[e] + " " + t, k -> new java.util.ArrayList<>())
                            .add(new double[]{calls.get() / wall, calls.get() / cpu});
                }
            }
        }
        b.tearDown();
        System.out.println("load average after: " + Suite.Machine.loadAverage());
        System.out.println("\n| callers | ORT calls/s (best round) | rnn4j calls/s (best round) | ORT calls per CPU s | rnn4j calls per CPU s |"
                + "\n|---:|---:|---:|---:|---:|");
        for (int t : counts) {
            double[] o = summary(res.get("onnxruntime " + t)), r = summary(res.get("rnn4j " + t));
            System.out.printf(Locale.ROOT, "| %d | %.1f | %.1f | %.1f | %.1f |%n", t, o[0], r[0], o[1], r[1]);
        }
    }

    /** Best calls per wall second and median calls per CPU second over the rounds. */
    private static double[] summary(java.util.List<double[]> rounds) {
        double best = 0;
        double[] perCpu = new double[rounds.size()];
        for (int i = 0; i < rounds.size(); i++) {
            best = Math.max(best, rounds.get(i)[0]);
            perCpu[i] = rounds.get(i)[1];
        }
        java.util.Arrays.sort(perCpu);
        return new double[]{best, perCpu[perCpu.length / 2]};
    }
}
