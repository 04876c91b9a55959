package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The serving contract of {@link Module} (README, "Serving"): one model in eval mode shared by
 * 16 threads calling forward at once gives, on every backend, exactly the single-threaded
 * results and leaves no buffer behind; the uses that may not overlap (backward, training-mode
 * forward, zeroGrad, mode changes, re-initialisation) throw IllegalStateException naming the
 * module instead of corrupting anything; a model closed while calls are in flight lets them
 * finish and frees its memory after the last one. Every test has a timeout, so a deadlock fails.
 */
class SharedModelTest {
    static final int THREADS = 16, ROUNDS = 6, T = 5, B = 2, IN = 6;

    /** A model under test and its forward call, input -> every output flattened. */
    record Model(Module module, Function<Tensor, float[]> forward) {}

    static float[] flat(RecurrentOutput o) {
        List<float[]> parts = new ArrayList<>();
        parts.add(o.output().toArray());
        if (o.hN() != null) parts.add(o.hN().toArray());
        if (o.cN() != null) parts.add(o.cN().toArray());
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] all = new float[n];
        int at = 0;
        for (float[] p : parts) { System.arraycopy(p, 0, all, at, p.length); at += p.length; }
        return all;
    }

    static Model model(String kind, Device dev) {
        return switch (kind) {
            case "lstm" -> { LSTM m = LSTM.builder(IN, 7).seed(1).build(dev); yield new Model(m, x -> { try (var o = m.forward(x)) { return flat(o); } }); }
            case "gru" -> { GRU m = GRU.builder(IN, 7).seed(2).build(dev); yield new Model(m, x -> { try (var o = m.forward(x)) { return flat(o); } }); }
            case "stacked-bidirectional-lstm" -> {
                LSTM m = LSTM.builder(IN, 5).numLayers(3).bidirectional(true).dropout(0.3).projSize(3).seed(3).build(dev);
                yield new Model(m, x -> { try (var o = m.forward(x)) { return flat(o); } });
            }
            case "stacked-bidirectional-gru" -> {
                GRU m = GRU.builder(IN, 5).numLayers(2).bidirectional(true).dropout(0.3).seed(4).build(dev);
                yield new Model(m, x -> { try (var o = m.forward(x)) { return flat(o); } });
            }
            case "sru" -> {
                SRU m = SRU.builder(IN, 6).numLayers(3).bidirectional(true).dropout(0.2).rnnDropout(0.1).build(dev);
                m.initWeight(5);
                yield new Model(m, x -> { try (var o = m.forward(x, null)) { return flat(o); } });
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static Tensor input(Device dev, int thread, int round) {
        float[] x = new float[T * B * IN];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.37 * i + 1.3 * thread + 0.11 * round);
        return dev.tensor(x, T, B, IN);
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void sixteenThreadsShareOneModelInEvalMode(String backend) throws Exception {
        try (Device dev = Outcomes.open(backend)) {
            long base = DeviceAccess.backend(dev).liveBuffers();
            for (String kind : List.of("lstm", "gru", "stacked-bidirectional-lstm", "stacked-bidirectional-gru", "sru")) {
                Model m = model(kind, dev);
                try (Module module = m.module()) {
                    module.eval();
                    float[][][] expected = new float[THREADS][ROUNDS][];
                    for (int t = 0; t < THREADS; t++)
                        for (int r = 0; r < ROUNDS; r++)
                            try (Tensor x = input(dev, t, r)) { expected[t][r] = m.forward().apply(x); }
                    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                    try {
                        CountDownLatch start = new CountDownLatch(1);
                        List<Future<float[][]>> got = new ArrayList<>();
                        for (int t = 0; t < THREADS; t++) {
                            int thread = t;
                            got.add(pool.submit(() -> {
                                start.await();
                                float[][] out = new float[ROUNDS][];
                                for (int r = 0; r < ROUNDS; r++)
                                    try (Tensor x = input(dev, thread, r)) { out[r] = m.forward().apply(x); }
                                return out;
                            }));
                        }
                        start.countDown();
                        for (int t = 0; t < THREADS; t++) {
                            float[][] out = got.get(t).get(240, TimeUnit.SECONDS);
                            for (int r = 0; r < ROUNDS; r++)
                                assertArrayEquals(expected[t][r], out[r], kind + " on " + backend + ", thread " + t + ", round " + r);
                        }
                    } finally {
                        pool.shutdownNow();
                        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "worker threads did not stop");
                    }
                }
            }
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "buffers left behind on " + backend);
        }
    }

    /** An input closed by another thread during forward: the call returns the right result or throws IllegalStateException; nothing leaks. */
    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void anInputClosedDuringForwardFailsCleanly(String backend) throws Exception {
        try (Device dev = Outcomes.open(backend)) {
            long base = DeviceAccess.backend(dev).liveBuffers();
            try (GRU gru = GRU.builder(IN, 8).numLayers(2).seed(3).build(dev)) {
                gru.eval();
                float[] expected;
                try (Tensor x = input(dev, 4, 0); RecurrentOutput o = gru.forward(x)) { expected = flat(o); }
                int ok = 0, refused = 0;
                for (int round = 0; round < 40; round++) {
                    Tensor x = input(dev, 4, 0);
                    int spin = round * 2_000;
                    Thread closer = new Thread(() -> {
                        for (int i = 0; i < spin; i++) Thread.onSpinWait();
                        x.close();
                    });
                    closer.start();
                    try (RecurrentOutput o = gru.forward(x)) {
                        assertArrayEquals(expected, flat(o), "round " + round);
                        ok++;
                    } catch (IllegalStateException e) {
                        assertTrue(e.getMessage().contains("closed"), e.getMessage());
                        refused++;
                    }
                    closer.join(60_000);
                    assertTrue(x.isClosed());
                }
                assertEquals(40, ok + refused);
            }
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "buffers left behind on " + backend);
        }
    }

    // ------------------------------------------------------------------ uses that may not overlap

    /** Runs {@code hold} on another thread inside an exclusive use of {@code m}, and {@code check} while it holds it. */
    static void whileAnotherThreadHolds(Module m, String what, Runnable check) throws Exception {
        CountDownLatch held = new CountDownLatch(1), done = new CountDownLatch(1);
        Thread other = new Thread(() -> {
            m.enterExclusive(what);
            try {
                held.countDown();
                done.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                m.exit(true);
            }
        }, "holder");
        other.start();
        try {
            assertTrue(held.await(60, TimeUnit.SECONDS));
            check.run();
        } finally {
            done.countDown();
            other.join(60_000);
        }
    }

    static void assertInUse(Module m, Runnable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
        assertTrue(e.getMessage().startsWith(m.toString() + ": "), e.getMessage());
        assertTrue(e.getMessage().contains("another thread uses the module"), e.getMessage());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void backwardAndTrainingForwardAreExclusive() throws Exception {
        try (Device dev = Device.reference();
             LSTM lstm = LSTM.builder(IN, 4).numLayers(2).dropout(0.5).seed(7).build(dev);
             Tensor x = input(dev, 0, 0);
             RecurrentOutput out = lstm.forward(x);            // training mode
             Tensor g = out.output().copy()) {
            float[] w = lstm.namedParameters().get("weight_hh_l1").value().toArray();
            // Another thread is in backward: a second backward, a training-mode forward, zeroGrad,
            // a mode change, a re-initialisation, a seed change and a state dict load all throw.
            whileAnotherThreadHolds(lstm, "backward", () -> {
                assertInUse(lstm, () -> lstm.backward(out, g, null, null));
                assertInUse(lstm, () -> lstm.forward(x));
                assertInUse(lstm, lstm::zeroGrad);
                assertInUse(lstm, lstm::eval);
                assertInUse(lstm, () -> lstm.resetParameters(3));
                assertInUse(lstm, () -> lstm.setDropoutSeed(3));
                assertInUse(lstm, () -> lstm.loadStateDict(lstm.stateDict()));
            });
            // Nothing was changed by the refused calls: same weights, still training, no gradient yet.
            assertArrayEquals(w, lstm.namedParameters().get("weight_hh_l1").value().toArray());
            assertTrue(lstm.isTraining());
            assertTrue(!lstm.namedParameters().get("weight_hh_l1").hasGrad());
            // Once the other thread is done, this thread may do all of it.
            try (RecurrentGrads gr = lstm.backward(out, g, null, null)) { assertEquals(x.numel(), gr.input().numel()); }
            lstm.zeroGrad();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void evalForwardsExcludeExclusiveUsesAndTheReverse() throws Exception {
        try (Device dev = Device.reference();
             SRU sru = SRU.builder(IN, 4).build(dev);
             GRUCell cell = GRUCell.builder(IN, 3).seed(1).build(dev);
             Tensor x = input(dev, 1, 1);
             Tensor xc = dev.zeros(B, IN)) {
            sru.eval();
            cell.eval();
            // An eval-mode forward is in flight on another thread: exclusive uses throw.
            CountDownLatch in = new CountDownLatch(1), release = new CountDownLatch(1);
            Thread reader = new Thread(() -> {
                boolean ex = sru.enterForward();
                try {
                    in.countDown();
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    sru.exit(ex);
                }
            });
            reader.start();
            try {
                assertTrue(in.await(60, TimeUnit.SECONDS));
                try (RecurrentOutput o = sru.forward(x, null)) {       // another eval forward: allowed
                    assertEquals(T, o.output().size(0));
                    assertInUse(sru, () -> sru.backward(o, o.output(), null));
                }
                assertInUse(sru, () -> sru.train(true));
                assertInUse(sru, () -> sru.initWeight(1));
                assertInUse(sru, () -> sru.setBias(1f));
                assertInUse(sru, sru::zeroGrad);
            } finally {
                release.countDown();
                reader.join(60_000);
            }
            // A cell in backward on another thread: its eval forward throws too.
            whileAnotherThreadHolds(cell, "backward", () -> assertInUse(cell, () -> cell.forward(xc, null).close()));
            try (CellOutput o = cell.forward(xc, null)) { assertEquals(B * 3, o.h().numel()); }
        }
    }

    /** Real backward calls racing on one module: each either runs or is refused cleanly; the ones that ran are exact. */
    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void racingBackwardCallsRunOrAreRefusedNeverCorrupt() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 16).numLayers(2).seed(9).build(dev);
             Tensor x = input(dev, 2, 0);
             RecurrentOutput out = gru.forward(x);
             Tensor g = out.output().copy()) {
            gru.zeroGrad();
            AtomicInteger ran = new AtomicInteger(), refused = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < 4; t++)
                    fs.add(pool.submit(() -> {
                        for (int i = 0; i < 10; i++) {
                            try (RecurrentGrads gr = gru.backward(out, g, null)) {
                                ran.incrementAndGet();
                            } catch (IllegalStateException e) {
                                assertTrue(e.getMessage().startsWith(gru + ": backward"), e.getMessage());
                                refused.incrementAndGet();
                            }
                        }
                        return null;
                    }));
                for (Future<?> f : fs) f.get(200, TimeUnit.SECONDS);
            } finally {
                pool.shutdownNow();
            }
            assertEquals(40, ran.get() + refused.get());
            // The gradient is exactly that of ran.get() backward passes made one after another.
            float[] raced = gru.namedParameters().get("weight_ih_l0").grad().toArray();
            gru.zeroGrad();
            for (int k = 0; k < ran.get(); k++) gru.backward(out, g, null).close();
            float[] expect = gru.namedParameters().get("weight_ih_l0").grad().toArray();
            assertTrue(ran.get() >= 1);
            assertArrayEquals(expect, raced);
        }
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void closedWhileInUseFinishesThenFreesAndRefuses(String backend) throws Exception {
        try (Device dev = Outcomes.open(backend)) {
            long base = DeviceAccess.backend(dev).liveBuffers();
            LSTM lstm = LSTM.builder(IN, 4).seed(5).build(dev);
            lstm.eval();
            Tensor x = input(dev, 3, 0);
            float[] expected;
            try (RecurrentOutput o = lstm.forward(x)) { expected = flat(o); }
            boolean ex = lstm.enterForward();          // a call in flight
            lstm.close();
            assertTrue(lstm.isClosed());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> lstm.forward(x));
            assertEquals(lstm + " is closed", e.getMessage());
            // The call in flight still sees open parameters, and computes the same.
            try (RecurrentOutput o = lstm.forwardInUse(x, null, null)) {
                assertArrayEquals(expected, flat(o));
            } catch (IllegalStateException closed) {
                throw new AssertionError("the call in flight must still run", closed);
            }
            assertTrue(DeviceAccess.backend(dev).liveBuffers() > base + 1, "parameters freed while a call was in flight");
            lstm.exit(ex);                             // the last call leaves: parameters freed
            x.close();
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "buffers left behind on " + backend);
            assertThrows(IllegalStateException.class, lstm::zeroGrad);
            lstm.close();                              // idempotent
        }
    }
}
