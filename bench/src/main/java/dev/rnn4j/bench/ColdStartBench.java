package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.serve.Batcher;
import dev.rnn4j.serve.ServedModel;

import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The first requests of a freshly started service (docs/performance.md, "Serving"): in a new JVM,
 * one shared {@code LSTM(910, 910)} in eval mode behind a {@link Batcher} ({@code maxBatch(16)},
 * {@code maxDelay(0)}) built with {@code warmUp(35, CALLS)}, then one caller sending 40
 * (35, 1, 910) sequences one after another. Prints the time {@code build()} took, the first
 * request's latency and the mean latency of requests 1 to 10 and 31 to 40. The JIT's state is
 * the quantity, so each setting needs a JVM of its own:
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp ... dev.rnn4j.bench.ColdStartBench CALLS [BACKEND]
 * </pre>
 */
public final class ColdStartBench {
    private ColdStartBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) throw new IllegalArgumentException("usage: ColdStartBench WARM_UP_CALLS [BACKEND]");
        int calls = Integer.parseInt(args[0]);
        String backend = args.length > 1 ? args[1] : "cpu";
        try (Device dev = Device.open(backend); LSTM lstm = LSTM.builder(910, 910).seed(1).build(dev)) {
            lstm.eval();
            long t0 = System.nanoTime();
            try (Batcher b = Batcher.builder(ServedModel.of(lstm)).maxBatch(16).maxDelay(0, TimeUnit.MILLISECONDS)
                    .warmUp(35, calls).build()) {
                double build = (System.nanoTime() - t0) / 1e6;
                float[] x = new float[35 * 910];
                for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.01 * i);
                double[] ms = new double[40];
                for (int i = 0; i < ms.length; i++) {
                    long s = System.nanoTime();
                    b.submit(x).get();
                    ms[i] = (System.nanoTime() - s) / 1e6;
                }
                System.out.printf(Locale.ROOT, "%s, warm-up calls %d: build %.0f ms; first request %.1f ms; mean of requests 1-10 %.1f ms, 31-40 %.1f ms%n",
                        backend, calls, build, ms[0], mean(ms, 0, 10), mean(ms, 30, 40));
            }
        }
    }

    private static double mean(double[] v, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += v[i];
        return s / (to - from);
    }
}
