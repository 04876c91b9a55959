package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code train(b)} and {@code eval()} that leave the mode as it is are no-ops: they never throw
 * for other threads' calls in flight and never hold up their forward calls, so a server may call
 * {@code eval()} on the model it serves; a call that does change the mode is still exclusive.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ModeNoOpTest {
    static final int THREADS = 8, ROUNDS = 40, T = 4, B = 2, IN = 5;

    static Stream<String> backends() { return Device.backends().stream().map(Device.BackendInfo::name); }

    static float[] input(int thread, int round) {
        float[] x = new float[T * B * IN];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.29 * i + 1.1 * thread + 0.07 * round);
        return x;
    }

    static float[] forward(GRU gru, Device dev, float[] x) {
        try (Tensor t = dev.tensor(x, T, B, IN); RecurrentOutput o = gru.forward(t)) {
            float[] y = o.output().toArray(), h = o.hN().toArray(), all = new float[y.length + h.length];
            System.arraycopy(y, 0, all, 0, y.length);
            System.arraycopy(h, 0, all, y.length, h.length);
            return all;
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void eightForwardThreadsCallingEvalOnAnEvalModelAllSucceed(String backend) throws Exception {
        try (Device dev = Outcomes.open(backend);
             GRU gru = GRU.builder(IN, 6).numLayers(2).dropout(0.3).seed(3).build(dev)) {
            gru.eval();
            // The single-threaded results every concurrent call must reproduce bit for bit.
            float[][][] want = new float[THREADS][ROUNDS][];
            for (int t = 0; t < THREADS; t++) for (int r = 0; r < ROUNDS; r++) want[t][r] = forward(gru, dev, input(t, r));
            CyclicBarrier start = new CyclicBarrier(THREADS);
            AtomicInteger failures = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    fs.add(pool.submit(() -> {
                        start.await(60, TimeUnit.SECONDS);
                        for (int r = 0; r < ROUNDS; r++) {
                            try {
                                assertSame(gru, gru.eval());              // every round, while the others run forward
                                gru.train(false);
                                assertArrayEquals(want[thread][r], forward(gru, dev, input(thread, r)),
                                        backend + " thread " + thread + " round " + r);
                            } catch (RuntimeException e) {
                                failures.incrementAndGet();
                                throw e;
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) f.get(180, TimeUnit.SECONDS);
            } finally {
                pool.shutdownNow();
            }
            assertEquals(0, failures.get());
            assertFalse(gru.isTraining());
        }
    }

    /** Holds one eval-mode forward call of {@code m} open on another thread while {@code check} runs. */
    static void whileAForwardIsInFlight(Module m, Runnable check) throws Exception {
        CountDownLatch in = new CountDownLatch(1), release = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            boolean ex = m.enterForward();
            try {
                in.countDown();
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                m.exit(ex);
            }
        }, "reader");
        reader.start();
        try {
            assertTrue(in.await(60, TimeUnit.SECONDS));
            check.run();
        } finally {
            release.countDown();
            reader.join(60_000);
        }
    }

    @Test
    void aModeCallThatChangesNothingIsNeverRefused() throws Exception {
        try (Device dev = Device.reference(); SRU sru = SRU.builder(IN, 4).numLayers(2).dropout(0.2).build(dev)) {
            sru.eval();
            whileAForwardIsInFlight(sru, () -> {
                sru.eval();                                     // no-ops: the forward in flight is not disturbed
                sru.train(false);
                sru.children().values().iterator().next().eval();
                // A real change is still exclusive, and refused before it changes anything.
                SharedModelTest.assertInUse(sru, () -> sru.train(true));
                assertFalse(sru.isTraining());
                for (Module c : sru.children().values()) assertFalse(c.isTraining());
            });
            // In training mode, train(true) during another thread's exclusive use changes nothing either.
            sru.train(true);
            SharedModelTest.whileAnotherThreadHolds(sru, "forward in training mode", () -> {
                sru.train(true);
                SharedModelTest.assertInUse(sru, sru::eval);
                assertTrue(sru.isTraining());
            });
            // A tree in mixed modes is not "already in eval mode": eval() changes it, every child included.
            sru.children().values().iterator().next().eval();
            sru.eval();
            for (Module c : sru.children().values()) assertFalse(c.isTraining());
        }
    }

    @Test
    void aClosedModuleStillRefusesModeCalls() {
        Device dev = Device.reference();
        try (dev) {
            GRU gru = GRU.builder(IN, 3).seed(1).build(dev);
            gru.eval();
            gru.close();
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, gru::eval);
            assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        }
    }
}
