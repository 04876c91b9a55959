package dev.rnn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.RecurrentOutput;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One streaming step of a stacked LSTM at batch 1 (default 2 layers, d = 256), rnn4j against ONNX
 * Runtime on the same weights: one time step in, the states carried to the next step, as a
 * service that feeds a stream token by token runs it. rnn4j calls {@code lstm.forward(x, h, c)}
 * and keeps copies of h_n and c_n; ONNX Runtime runs a model of one LSTM node per layer
 * ({@link OnnxModels#lstmStep}) whose state outputs are the next step's inputs.
 *
 * <p>A dedicated program rather than JMH, for machines shared with other work: the engines run in
 * alternating blocks of S seconds, and per block it records microseconds per step on the wall
 * clock and in the calling thread's CPU time; it prints the medians over the rounds and their
 * ratio. Before timing it checks that both compute the same states.
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp 'bench/target/classes:bench/target/lib/*' \
 *     dev.rnn4j.bench.StreamStepBench [--backend cpu] [--layers 2] [--d 256] [--seconds 2] [--rounds 5]
 * </pre>
 * With {@code -Drnn4j.cpu.threads=1 -Drnn4j.bench.ort.threads=1} both run on the calling thread,
 * which makes the CPU-time column the whole cost of a step.
 */
public final class StreamStepBench {
    private StreamStepBench() {}

    /** rnn4j's side: the layer, the step input and the carried states. */
    static final class Rnn4jStream implements AutoCloseable {
        final Device dev;
        final LSTM lstm;
        final Tensor x;
        Tensor h, c;

        Rnn4jStream(String backend, int layers, int d, float[] in) {
            dev = Device.open(backend);
            lstm = LSTM.builder(d, d).numLayers(layers).seed(1).build(dev);
            lstm.eval();
            x = dev.tensor(in, 1, 1, d);
            h = dev.zeros(layers, 1, d);
            c = dev.zeros(layers, 1, d);
        }

        void step() {
            try (RecurrentOutput o = lstm.forward(x, h, c)) {
                Tensor h2 = o.hN().copy(), c2 = o.cN().copy();
                h.close();
                c.close();
                h = h2;
                c = c2;
            }
        }

        @Override
        public void close() {
            h.close();
            c.close();
            x.close();
            lstm.close();
            dev.close();
        }
    }

    /** ONNX Runtime's side: the session, the step input and the carried states (the last result). */
    static final class OrtStream implements AutoCloseable {
        final OrtEnvironment env = OrtEnvironment.getEnvironment();
        final OrtSession session;
        final int layers;
        final OnnxTensor x;
        final OnnxTensor[] zeros;
        OrtSession.Result last;

        OrtStream(Map<String, HostTensor> w, int layers, int d, float[] in) throws OrtException {
            this.layers = layers;
            float[][] wIh = new float[layers][], wHh = new float[layers][], bIh = new float[layers][], bHh = new float[layers][];
            for (int l = 0; l < layers; l++) {
                wIh[l] = w.get("weight_ih_l" + l).data();
                wHh[l] = w.get("weight_hh_l" + l).data();
                bIh[l] = w.get("bias_ih_l" + l).data();
                bHh[l] = w.get("bias_hh_l" + l).data();
            }
            session = OrtBench.session(env, OnnxModels.lstmStep(d, wIh, wHh, bIh, bHh));
            x = OnnxTensor.createTensor(env, FloatBuffer.wrap(in), new long[]{1, 1, d});
            zeros = new OnnxTensor[2 * layers];
            for (int i = 0; i < zeros.length; i++) zeros[i] = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[d]), new long[]{1, 1, d});
        }

        void step() throws OrtException {
            Map<String, OnnxTensor> feed = new HashMap<>();
            feed.put("X", x);
            for (int l = 0; l < layers; l++) {
                feed.put("h0_" + l, last == null ? zeros[2 * l] : (OnnxTensor) last.get("h_" + l).orElseThrow());
                feed.put("c0_" + l, last == null ? zeros[2 * l + 1] : (OnnxTensor) last.get("c_" + l).orElseThrow());
            }
            OrtSession.Result r = session.run(feed);
            if (last != null) last.close();
            last = r;
        }

        float[] h(int layer) throws OrtException {
            return ((OnnxTensor) last.get("h_" + layer).orElseThrow()).getFloatBuffer().array();
        }

        @Override
        public void close() throws OrtException {
            if (last != null) last.close();
            for (OnnxTensor z : zeros) z.close();
            x.close();
            session.close();
        }
    }

    public static void main(String[] args) throws Exception {
        String backend = "cpu";
        int layers = 2, d = 256, rounds = 5;
        double seconds = 2;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = args[++i];
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--d" -> d = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --backend B --layers N --d D --seconds S --rounds R)");
            }
        }
        System.out.println("machine: " + Suite.Machine.describe());
        System.out.println("load average before: " + Suite.Machine.loadAverage());
        float[] in = Shape.uniform(new SplittableRandom(5), d, 1);
        try (Rnn4jStream mine = new Rnn4jStream(backend, layers, d, in);
             OrtStream ort = new OrtStream(mine.lstm.stateDict(), layers, d, in)) {
            // same function: three steps from zero states, every layer's h compared
            double err = 0;
            for (int s = 0; s < 3; s++) {
                mine.step();
                ort.step();
            }
            float[] h = mine.h.toArray();
            for (int l = 0; l < layers; l++) {
                float[] o = ort.h(l);
                for (int i = 0; i < d; i++) err = Math.max(err, Math.abs(h[l * d + i] - o[i]));
            }
            System.out.printf(Locale.ROOT, "check: states after 3 steps, max |rnn4j - ORT| = %.2g%n", err);
            if (!(err < 1e-4)) throw new IllegalStateException("rnn4j and ONNX Runtime disagree: " + err);

            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            double[][] wall = new double[2][rounds], cpu = new double[2][rounds];
            for (int r = -1; r < rounds; r++) {      // round -1 warms both up
                for (int e = 0; e < 2; e++) {
                    long n = 0, end = System.nanoTime() + (long) (seconds * 1e9);
                    long w0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
                    while (System.nanoTime() < end) {
                        if (e == 0) mine.step(); else ort.step();
                        n++;
                    }
                    if (e == 0) mine.h.toArray();    // queued device work inside the block
                    if (r >= 0) {
                        wall[e][r] = (System.nanoTime() - w0) / 1e3 / n;
                        cpu[e][r] = (mx.getCurrentThreadCpuTime() - c0) / 1e3 / n;
                    }
                }
            }
            System.out.println("load average after: " + Suite.Machine.loadAverage());
            double mw = median(wall[0]), ow = median(wall[1]), mc = median(cpu[0]), oc = median(cpu[1]);
            System.out.printf(Locale.ROOT, "%n%d-layer LSTM d=%d, batch 1, one streaming step (median of %d rounds of %.1f s):%n",
                    layers, d, rounds, seconds);
            System.out.println("| engine | us/step (wall) | us/step (calling thread CPU) |\n|---|---:|---:|");
            System.out.printf(Locale.ROOT, "| rnn4j %s | %.1f | %.1f |%n", backend, mw, mc);
            System.out.printf(Locale.ROOT, "| ONNX Runtime | %.1f | %.1f |%n", ow, oc);
            System.out.printf(Locale.ROOT, "ORT / rnn4j (wall): %.2f%n", ow / mw);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
