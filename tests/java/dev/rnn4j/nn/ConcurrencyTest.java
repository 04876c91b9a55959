package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The threading model of docs/reliability.md: one device shared by 8 threads, each with its own
 * layers and tensors, running forward and backward over and over. Every thread's results must
 * equal, bit for bit, those of the same work run on one thread, nothing may deadlock (each
 * thread has a deadline), and no buffer may be left behind.
 */
class ConcurrencyTest {
    static final int THREADS = 8;
    static final int ROUNDS = 15;

    /** The work of one thread: an LSTM and an SRU (seeded alike in every thread), ROUNDS times; returns a fingerprint. */
    static float[] work(Device dev, int thread) {
        List<float[]> parts = new ArrayList<>();
        float[] x = new float[4 * 2 * 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.cos(i + thread);
        try (LSTM lstm = LSTM.builder(3, 5).numLayers(2).bidirectional(true).dropout(0.25).seed(11).build(dev);
             SRU sru = SRU.builder(3, 4).numLayers(2).dropout(0.2).build(dev);
             Tensor in = dev.tensor(x, 4, 2, 3)) {
            sru.initWeight(5);
            lstm.setDropoutSeed(thread);
            sru.setDropoutSeed(thread);
            for (int r = 0; r < ROUNDS; r++) {
                try (RecurrentOutput o = lstm.forward(in); Tensor g = o.output().copy();
                     RecurrentGrads gr = lstm.backward(o, g, o.hN(), o.cN());
                     RecurrentOutput s = sru.forward(in, null); Tensor sg = s.output().copy();
                     RecurrentGrads sgr = sru.backward(s, sg, null)) {
                    if (r == ROUNDS - 1) {
                        parts.add(o.output().toArray());
                        parts.add(gr.input().toArray());
                        parts.add(s.output().toArray());
                        parts.add(sgr.input().toArray());
                    }
                }
            }
            parts.add(lstm.namedParameters().get("weight_hh_l1_reverse").grad().toArray());
            parts.add(sru.namedParameters().get("rnn_lst.0.weight").grad().toArray());
        }
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] all = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    void threadsSharingOneDeviceComputeWhatOneThreadComputes(String backend) throws Exception {
        try (Device dev = Outcomes.open(backend)) {
            long base = DeviceAccess.backend(dev).liveBuffers();
            float[][] expected = new float[THREADS][];
            for (int t = 0; t < THREADS; t++) expected[t] = work(dev, t);

            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<float[]>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    results.add(pool.submit(() -> {
                        start.await();
                        return work(dev, thread);
                    }));
                }
                start.countDown();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
                for (int t = 0; t < THREADS; t++) {
                    float[] got;
                    try {
                        got = results.get(t).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    } catch (TimeoutException e) {
                        fail("thread " + t + " did not finish in time on " + backend + " (deadlock?)");
                        return;
                    }
                    assertArrayEquals(expected[t], got, "thread " + t + " on " + backend);
                }
            } finally {
                pool.shutdownNow();
                if (!pool.awaitTermination(30, TimeUnit.SECONDS)) fail("worker threads did not stop");
            }
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "buffers left behind on " + backend);
        }
    }
}
