package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.backend.DeviceAccess;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Runs the benchmark suite through JMH's API (JMH's own output goes to jmh-*.log in the output
 * directory; one line per group is printed) and writes the report ({@link Report}): the layers
 * on every available backend, the SRU recurrence alone, the 6-layer SRU language-model step, ONNX
 * Runtime's LSTM and GRU, the cpu backend's SGEMM at the layers' matrix shapes and the copy bandwidth,
 * all in one run.
 *
 * <pre>
 * Suite [--full] [--out DIR] [--backends a,b] [--shapes TxBxd,...] [--no-lm] [--no-peers] [--varlen-only]
 * Suite --redraw DIR      (report.md and chart.png again from DIR/results.csv)
 * </pre>
 * The default is the short suite (about five minutes on 2 cores): the cpu backend and the peers
 * at all four shapes, one short fork each. {@code --full} adds every other available backend and
 * the language-model step, with longer measurement.
 */
public final class Suite {
    private Suite() {}

    record Settings(boolean full, Path out, List<String> backends, List<String> shapes, boolean lm, boolean peers, boolean varlenOnly) {}

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--redraw")) {   // the report again from a results.csv
            Path dir = Path.of(args[1]);
            Report.load(dir.resolve("results.csv")).write(dir, System.out);
            return;
        }
        Settings s = parse(args);
        Files.createDirectories(s.out());
        Report report = new Report(s.full());
        report.machine(Machine.describe());
        System.out.println("rnn4j bench (" + (s.full() ? "full" : "short") + "): " + report.machine());
        System.out.println("load average before: " + Machine.loadAverage());
        report.loadBefore(Machine.loadAverage());
        if (s.peers() && !s.varlenOnly()) System.out.println(PeerCheck.run());

        String[] shapes = s.shapes().toArray(String[]::new);
        String[] backends = s.backends().toArray(String[]::new);
        List<RunResult> all = new ArrayList<>();
        if (s.varlenOnly()) {   // the variable-length benchmark alone, measured longer
            for (String be : backends) all.addAll(varLengths(s, be, shapes, opt -> opt.measurementIterations(s.full() ? 10 : 6)));
            report.loadAfter(Machine.loadAverage());
            System.out.println("load average after: " + Machine.loadAverage());
            report.add(all);
            report.write(s.out(), System.out);
            return;
        }
        all.addAll(run(s, "MachineBench.copy", opt -> {}));
        // the short suite measures only the SGEMM of the SRU's lower bound; --full every shape the layers use
        all.addAll(run(s, "MachineBench.sgemm", opt -> opt.param("mnk", s.full() ? Report.gemmShapes(s.shapes())
                : s.shapes().stream().map(Shape::parse).map(x -> x.tokens() + "x" + 3 * x.width() + "x" + x.width())
                        .distinct().toArray(String[]::new))));
        for (String be : backends) {
            // The reference backend is the readable oracle, not a fast path: about a minute per LSTM
            // forward at 35x32x910 on 2 cores. It runs at the smallest shape only, one call, no LM step.
            // OpenCL on PoCL (a CPU) takes seconds per call at the larger shapes: fewer iterations.
            boolean slow = be.equals("reference"), seconds = be.equals("opencl");
            String[] its = slow ? new String[]{smallest(s.shapes())} : shapes;
            Tweak iterations = opt -> {
                if (slow) opt.warmupIterations(0).measurementIterations(1).measurementTime(TimeValue.milliseconds(1));
                else if (seconds) opt.warmupIterations(1).measurementIterations(3).measurementTime(TimeValue.seconds(1));
            };
            all.addAll(run(s, "LayerBench", opt -> iterations.apply(opt.param("backend", be).param("shape", its))));
            all.addAll(run(s, "SruKernelBench", opt -> iterations.apply(opt.param("backend", be).param("shape", its))));
            all.addAll(varLengths(s, be, its, iterations));
            if (s.lm() && !slow) all.addAll(run(s, "LmBench", opt -> iterations.apply(opt.param("backend", be))));
        }
        if (s.peers()) all.addAll(run(s, "OrtBench", opt -> opt.param("shape", shapes)));

        report.loadAfter(Machine.loadAverage());
        System.out.println("load average after: " + Machine.loadAverage());
        report.add(all);
        report.write(s.out(), System.out);
    }

    /**
     * VarLenBench, one JMH run per model and shape, so that the padded and the variable-length
     * call of each pair run one after the other (JMH varies the first parameters slowest): a
     * change in the machine's load between them would skew their ratio.
     */
    private static List<RunResult> varLengths(Settings s, String be, String[] shapes, Tweak tweak) throws RunnerException {
        List<RunResult> all = new ArrayList<>();
        for (String sh : shapes)
            for (String model : List.of("SRU", "LSTM", "GRU"))
                all.addAll(run(s, "VarLenBench", opt -> {
                    tweak.apply(opt.param("backend", be).param("shape", sh).param("model", model));
                    // one thread does all the work, so its CPU time is the call's cost (see VarLenBench)
                    if (be.equals("cpu")) opt.jvmArgsAppend("-Drnn4j.cpu.threads=1");
                }));
        return all;
    }

    /** The shape with the fewest multiply-adds per call (T*B*d*d). */
    static String smallest(List<String> shapes) {
        String best = shapes.get(0);
        for (String sh : shapes) {
            Shape a = Shape.parse(sh), b = Shape.parse(best);
            if (a.tokens() * a.width() * a.width() < b.tokens() * b.width() * b.width()) best = sh;
        }
        return best;
    }

    private interface Tweak {
        void apply(ChainedOptionsBuilder opt);
    }

    /** Number of JMH runs so far (each writes its log to jmh-NN-name.log in the output directory). */
    private static int runs;

    private static Collection<RunResult> run(Settings s, String include, Tweak tweak) throws RunnerException {
        ChainedOptionsBuilder opt = new OptionsBuilder()
                .include("dev\\.rnn4j\\.bench\\." + include.replace(".", "\\.") + "\\b")
                .forks(1)
                .warmupIterations(s.full() ? 3 : 2).warmupTime(TimeValue.seconds(1))
                .measurementIterations(s.full() ? 5 : 3).measurementTime(TimeValue.seconds(s.full() ? 2 : 1))
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                        "--sun-misc-unsafe-memory-access=allow",
                        "-Xmx12g", "-Djava.awt.headless=true")
                .shouldFailOnError(true)
                .output(s.out().resolve(String.format(Locale.ROOT, "jmh-%02d-%s.log", ++runs, include.replace('.', '-'))).toString())
                .verbosity(VerboseMode.NORMAL);
        tweak.apply(opt);
        long t0 = System.nanoTime();
        System.out.print(include + ": ");
        System.out.flush();
        Collection<RunResult> results = new Runner(opt.build()).run();
        System.out.printf(Locale.ROOT, "%d benchmarks in %.0f s%n", results.size(), (System.nanoTime() - t0) / 1e9);
        return results;
    }

    static Settings parse(String[] args) {
        boolean full = false, lm = true, peers = true, lmSet = false, varlenOnly = false;
        Path out = Path.of("target", "bench");
        List<String> backends = null, shapes = List.of(Shape.ALL);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--full" -> full = true;
                case "--short" -> full = false;
                case "--out" -> out = Path.of(value(args, ++i, "--out"));
                case "--backends" -> backends = List.of(value(args, ++i, "--backends").split(","));
                case "--shapes" -> shapes = List.of(value(args, ++i, "--shapes").split(","));
                case "--lm" -> { lm = true; lmSet = true; }
                case "--no-lm" -> { lm = false; lmSet = true; }
                case "--no-peers" -> peers = false;
                case "--varlen-only" -> varlenOnly = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --full, --out DIR, --backends a,b, --shapes TxBxd,..., --lm, --no-lm, --no-peers, --varlen-only)");
            }
        }
        for (String sh : shapes) Shape.parse(sh);
        Set<String> available = new LinkedHashSet<>();
        for (Device.BackendInfo b : Device.backends()) if (b.available()) available.add(b.name());
        if (backends == null) backends = full ? List.copyOf(available) : List.of("cpu");
        for (String b : backends)
            if (!available.contains(b)) throw new IllegalArgumentException("backend " + b + " is not available here; available: " + available);
        if (!lmSet) lm = full;
        return new Settings(full, out, backends, shapes, lm, peers, varlenOnly);
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) throw new IllegalArgumentException(opt + " needs a value");
        return args[i];
    }

    /** What the report says about the machine. */
    static final class Machine {
        static String describe() {
            String cpu = "unknown CPU";
            try {
                for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                    if (line.startsWith("model name")) { cpu = line.substring(line.indexOf(':') + 1).strip(); break; }
            } catch (IOException ignored) {
                // not Linux: the model stays unknown
            }
            String kernels;
            try (Device d = Device.open("cpu")) {
                kernels = DeviceAccess.backend(d).description();
            }
            return String.format(Locale.ROOT, "%s, %d cores, %s %s, Java %s; cpu backend: %s",
                    cpu, Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                    System.getProperty("os.arch"), Runtime.version(), kernels);
        }

        static String loadAverage() {
            try {
                String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
                return f[0] + " " + f[1] + " " + f[2];
            } catch (IOException | RuntimeException e) {
                return "unknown";
            }
        }
    }
}
