package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.serve.Batcher;
import dev.rnn4j.serve.ServedModel;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Serving benchmark (docs/performance.md, "Serving"): one shared LSTM in eval mode, N caller
 * threads each sending one sequence after another (closed loop), with the calls made directly
 * on the model (batching off) or through a {@link Batcher} (batching on). Prints one markdown
 * row per (backend, shape, callers, batching): calls/s and the p50/p99 latency of a call.
 * Also measures the per-step cost of a 2-layer d = 256 streaming step at batch 1.
 *
 * <p>A dedicated program rather than JMH because the quantity is a latency distribution under
 * N concurrent callers, which JMH's per-thread harness does not give as one population.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp 'bench/target/classes:bench/target/lib/*' dev.rnn4j.bench.BatcherBench \
 *     [--backends cpu,opencl] [--callers 1,4,16,64] [--seconds 4] [--shapes issue,small] [--delay-ms 2] [--step]
 * </pre>
 */
public final class BatcherBench {
    record Shape(String name, int layers, int d, int steps) {}

    static final Shape ISSUE = new Shape("LSTM(910, 910), 35 steps", 1, 910, 35);
    static final Shape SMALL = new Shape("LSTM(256, 256) x 2 layers, 35 steps", 2, 256, 35);

    public static void main(String[] args) throws Exception {
        List<String> backends = List.of("cpu", "opencl");
        int[] callers = {1, 4, 16, 64};
        double seconds = 4;
        List<Shape> shapes = List.of(ISSUE, SMALL);
        boolean step = false, serve = true;
        double delayMs = 2;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backends" -> backends = List.of(args[++i].split(","));
                case "--callers" -> callers = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--shapes" -> shapes = Arrays.stream(args[++i].split(",")).map(s -> s.equals("issue") ? ISSUE : SMALL).toList();
                case "--delay-ms" -> delayMs = Double.parseDouble(args[++i]);
                case "--step" -> step = true;
                case "--step-only" -> { step = true; serve = false; }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        System.out.println("| backend | model | callers | batching | calls/s | p50 ms | p99 ms | forward calls | mean batch |");
        System.out.println("|---|---|---:|---|---:|---:|---:|---:|---:|");
        for (String backend : backends) {
            try (Device dev = Device.open(backend)) {
                if (serve) for (Shape s : shapes) for (int n : callers) for (boolean on : new boolean[]{false, true})
                    run(dev, s, n, on, seconds, (long) (delayMs * 1e6));
                if (step) step(dev, seconds);
            }
        }
    }

    static float[] input(int steps, int d, int seed) {
        float[] x = new float[steps * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.01 * i + seed);
        return x;
    }

    /** One configuration: warm-up for a third of the time, then measure. */
    static void run(Device dev, Shape s, int callers, boolean batching, double seconds, long delayNanos) throws Exception {
        try (LSTM lstm = LSTM.builder(s.d(), s.d()).numLayers(s.layers()).seed(1).build(dev)) {
            lstm.eval();
            Batcher batcher = batching
                    ? Batcher.builder(ServedModel.of(lstm)).maxBatch(64).maxDelay(delayNanos, TimeUnit.NANOSECONDS).build() : null;
            try {
                long warm = (long) (seconds / 3 * 1e9), measure = (long) (seconds * 1e9);
                Thread[] ts = new Thread[callers];
                long[] counts = new long[callers];
                long[][] lats = new long[callers][];
                long[] window = new long[2];
                long start = System.nanoTime() + 200_000_000L;
                window[0] = start + warm;
                window[1] = window[0] + measure;
                Throwable[] error = new Throwable[1];
                for (int c = 0; c < callers; c++) {
                    int me = c;
                    ts[c] = new Thread(() -> {
                        float[] x = input(s.steps(), s.d(), me);
                        long[] mine = new long[1 << 16];
                        int n = 0;
                        try {
                            while (System.nanoTime() < start) Thread.onSpinWait();
                            while (true) {
                                long t0 = System.nanoTime();
                                if (t0 >= window[1]) break;
                                if (batching) batcher.submit(x).get();
                                else try (Tensor xt = dev.tensor(x, s.steps(), 1, s.d()); RecurrentOutput o = lstm.forward(xt)) {
                                    o.output().toArray();
                                }
                                long t1 = System.nanoTime();
                                // A call counts where it ends inside the window: slow calls (seconds, with
                                // many unbatched callers) would otherwise never fit in it.
                                if (t1 >= window[0] && t1 <= window[1] && n < mine.length) mine[n++] = t1 - t0;
                            }
                        } catch (Throwable e) {
                            synchronized (error) { error[0] = e; }
                        }
                        counts[me] = n;
                        lats[me] = Arrays.copyOf(mine, n);
                    }, "caller-" + c);
                    ts[c].start();
                }
                Batcher.Stats before = null;
                if (batching) {
                    while (System.nanoTime() < window[0]) Thread.sleep(5);
                    before = batcher.stats();
                }
                for (Thread t : ts) t.join();
                if (error[0] != null) throw new IllegalStateException("a caller failed", error[0]);
                long total = 0;
                for (long n : counts) total += n;
                long[] all = new long[(int) total];
                int at = 0;
                for (long[] l : lats) { System.arraycopy(l, 0, all, at, l.length); at += l.length; }
                Arrays.sort(all);
                double perSec = total / (measure / 1e9);
                String calls = "-", mean = "-";
                if (batching) {
                    Batcher.Stats after = batcher.stats();
                    long fc = after.forwardCalls() - before.forwardCalls();
                    calls = Long.toString(fc);
                    mean = fc == 0 ? "-" : String.format(Locale.ROOT, "%.1f", (after.requests() - before.requests()) / (double) fc);
                }
                System.out.printf(Locale.ROOT, "| %s | %s | %d | %s | %.1f | %.1f | %.1f | %s | %s |%n", dev.name(), s.name(), callers,
                        batching ? "on" : "off", perSec, pct(all, 0.50), pct(all, 0.99), calls, mean);
            } finally {
                if (batcher != null) batcher.close();
            }
        }
    }

    static double pct(long[] sorted, double q) {
        if (sorted.length == 0) return Double.NaN;
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * sorted.length))] / 1e6;
    }

    /** A 2-layer LSTM, d = 256, batch 1: one step of a stream (states in, states out), as microseconds per step. */
    static void step(Device dev, double seconds) {
        int d = 256;
        try (LSTM lstm = LSTM.builder(d, d).numLayers(2).seed(1).build(dev);
             Tensor x = dev.tensor(input(1, d, 0), 1, 1, d)) {
            lstm.eval();
            Tensor h = dev.zeros(2, 1, d), c = dev.zeros(2, 1, d);
            long end = System.nanoTime() + (long) (seconds / 3 * 1e9);
            long n = 0;
            boolean measuring = false;
            long t0 = 0;
            while (true) {
                long now = System.nanoTime();
                if (!measuring && now >= end) {
                    measuring = true;
                    t0 = now;
                    n = 0;
                    end = now + (long) (seconds * 1e9);
                } else if (measuring && now >= end) break;
                RecurrentOutput o = lstm.forward(x, h, c);
                Tensor h2 = o.hN().copy(), c2 = o.cN().copy();
                o.close();
                h.close();
                c.close();
                h = h2;
                c = c2;
                n++;
            }
            h.toArray();
            double us = (System.nanoTime() - t0) / 1e3 / n;
            System.out.printf(Locale.ROOT, "%n%s: 2-layer LSTM d=256, batch 1, one streaming step: %.1f us/step (%d steps)%n", dev.name(), us, n);
            h.close();
            c.close();
        }
    }
}
