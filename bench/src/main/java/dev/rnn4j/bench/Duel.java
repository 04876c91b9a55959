package dev.rnn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * rnn4j against ONNX Runtime, interleaved call by call in one JVM: each round times one call of
 * every contender in turn, so that load from other work on the machine falls on all of them alike,
 * and the ratios of the medians hold even where the absolute times drift. A check beside the JMH
 * suite (which runs each benchmark in its own fork, one after another), for shared machines.
 *
 * <pre>
 * Duel [--shapes TxBxd,...] [--seconds S] [--warmup S] [--backend cpu] [--cpu-time]
 * </pre>
 * With {@code --cpu-time} it times the calling thread's CPU time instead of wall time; run it
 * with {@code -Drnn4j.cpu.threads=1 -Drnn4j.bench.ort.threads=1} so that both engines compute on
 * the calling thread: on a machine shared with other work, CPU time barely moves with the load,
 * while wall time swings with it. Warm-up: untimed rounds for {@code --warmup} seconds (default
 * 5) and at least 3 per shape: the cpu backend's kernels take a second or more of calls before
 * the JIT has compiled them (an LSTM forward at 35x1x910 ran at 10 to 14 ms over its first 80
 * calls, 4.5 ms after).
 * Prints, per shape, the median ms per call of rnn4j's LSTM, GRU and SRU forward, ONNX
 * Runtime's LSTM and GRU forward (2 intra-op threads), rnn4j's forward + backward, and the
 * ratios, with the load average before and after.
 */
public final class Duel {
    private Duel() {}

    public static void main(String[] args) throws Exception {
        List<String> shapes = List.of(Shape.ALL);
        double seconds = 20, warmup = 5;
        String backend = "cpu";
        boolean cpuTime = false;
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--shapes" -> shapes = List.of(args[++i].split(","));
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--warmup" -> warmup = Double.parseDouble(args[++i]);
                case "--backend" -> backend = args[++i];
                case "--cpu-time" -> cpuTime = true;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        System.out.println("machine: " + Suite.Machine.describe());
        System.out.println("load average before: " + Suite.Machine.loadAverage() + (cpuTime ? "; CPU time of the calling thread" : "; wall time")
                + ", medians; rnn4j.cpu.threads=" + System.getProperty("rnn4j.cpu.threads", "(cores)")
                + ", ORT intra-op threads " + Integer.getInteger("rnn4j.bench.ort.threads", 2));
        System.out.println("| T x B x d | LSTM rnn4j | LSTM ORT | ORT/rnn4j | GRU rnn4j | GRU ORT | ORT/rnn4j | SRU rnn4j | ORT LSTM/SRU"
                + " | LSTM f+b | GRU f+b | SRU f+b | LSTM/SRU f+b | rounds |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (String sh : shapes) {
            Shape s = Shape.parse(sh);
            Map<String, Callable<?>> calls = new LinkedHashMap<>();
            List<AutoCloseable> open = new ArrayList<>();
            float[] in = Shape.uniform(new SplittableRandom(7), Math.toIntExact(s.tokens() * s.width()), 1);
            OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(in), new long[]{s.seqLen(), s.batch(), s.width()});
            open.add(x);
            for (String model : new String[]{"LSTM", "GRU"}) {
                OrtSession session = OrtBench.session(env, model.equals("LSTM"), s, new SplittableRandom(11));
                open.add(session);
                calls.put(model + " ort", () -> {
                    try (OrtSession.Result r = session.run(Map.of("X", x))) {
                        return r.get(0).getInfo();
                    }
                });
            }
            for (String model : new String[]{"LSTM", "GRU", "SRU"}) {
                LayerBench lb = new LayerBench();
                lb.backend = backend;
                lb.model = model;
                lb.shape = sh;
                lb.setUp();
                open.add(lb::tearDown);
                calls.put(model + " fwd", lb::forward);
                calls.put(model + " fb", lb::forwardBackward);
            }
            Map<String, List<Double>> ms = new LinkedHashMap<>();
            for (String k : calls.keySet()) ms.put(k, new ArrayList<>());
            long end = 0, warmEnd = System.nanoTime() + (long) (warmup * 1e9);
            int rounds = 0, warm = -1;
            for (int r = 0; ; r++) {
                if (warm < 0 && r >= 3 && System.nanoTime() >= warmEnd) {   // warm-up over
                    warm = r;
                    end = System.nanoTime() + (long) (seconds * 1e9);
                }
                for (var e : calls.entrySet()) {
                    long t0 = cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime();
                    e.getValue().call();
                    double t = ((cpuTime ? mx.getCurrentThreadCpuTime() : System.nanoTime()) - t0) / 1e6;
                    if (warm >= 0) ms.get(e.getKey()).add(t);
                }
                if (warm >= 0) rounds++;
                if (warm >= 0 && System.nanoTime() > end && rounds >= 5) break;
            }
            double lf = med(ms.get("LSTM fwd")), lo = med(ms.get("LSTM ort")), gf = med(ms.get("GRU fwd")),
                    go = med(ms.get("GRU ort")), sf = med(ms.get("SRU fwd")), lb = med(ms.get("LSTM fb")),
                    gb = med(ms.get("GRU fb")), sb = med(ms.get("SRU fb"));
            System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f | %.2f | %d |%n",
                    sh, lf, lo, lo / lf, gf, go, go / gf, sf, lo / sf, lb, gb, sb, lb / sb, rounds);
            for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
        }
        System.out.println("load average after: " + Suite.Machine.loadAverage());
    }

    private static double med(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}
