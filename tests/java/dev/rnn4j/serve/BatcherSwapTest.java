package dev.rnn4j.serve;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Batcher#swap}: new weights under load. The round running at the swap finishes on the
 * old model, later ones run on the new one, no request fails, every result is its model's
 * unbatched result, and the old model is handed back once nothing uses it.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class BatcherSwapTest {
    static final int IN = BatcherTest.IN, CALLERS = 6, PER_CALLER = 40, HIDDEN = 5;

    static Stream<String> backends() { return Device.backends().stream().map(Device.BackendInfo::name); }

    static GRU gru(Device dev, long seed) {
        GRU g = GRU.builder(IN, HIDDEN).numLayers(2).seed(seed).build(dev);
        g.eval();
        return g;
    }

    static float[] input(int caller, int i) { return BatcherTest.seq(1 + (caller + i) % 4, 100 * caller + i); }

    /** Whether {@code got} is {@code want} (bit for bit where tol is 0). */
    static boolean same(Batcher.Result want, Batcher.Result got, float tol) {
        try {
            BatcherTest.assertSameResult(want, got, tol, "");
            return true;
        } catch (AssertionError e) {
            return false;
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void swappingUnderLoadFailsNothingAndEachResultIsItsModels(String backend) throws Exception {
        float tol = backend.equals("reference") || backend.equals("cpu") ? 0f : 2e-5f;
        try (Device dev = Outcomes.open(backend); GRU a = gru(dev, 1); GRU b = gru(dev, 2)) {
            ServedModel oldModel = ServedModel.of(a), newModel = ServedModel.of(b);
            Batcher.Result[][] wantOld = new Batcher.Result[CALLERS][PER_CALLER], wantNew = new Batcher.Result[CALLERS][PER_CALLER];
            for (int c = 0; c < CALLERS; c++)
                for (int i = 0; i < PER_CALLER; i++) {
                    wantOld[c][i] = BatcherTest.direct(oldModel, input(c, i), null);
                    wantNew[c][i] = BatcherTest.direct(newModel, input(c, i), null);
                    // The two models must be told apart by every result.
                    assertFalse(same(wantOld[c][i], wantNew[c][i], tol));
                }
            AtomicInteger failures = new AtomicInteger(), done = new AtomicInteger(), onOld = new AtomicInteger(), onNew = new AtomicInteger();
            List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
            // swapCalled: set just before swap(); swapped: set once it returned.
            boolean[] flags = new boolean[2];
            Object flagLock = new Object();
            try (Batcher batcher = Batcher.builder(oldModel).maxBatch(8).maxDelay(1, TimeUnit.MILLISECONDS).build()) {
                ExecutorService pool = Executors.newFixedThreadPool(CALLERS);
                try {
                    List<Future<?>> fs = new ArrayList<>();
                    for (int c = 0; c < CALLERS; c++) {
                        int caller = c;
                        fs.add(pool.submit(() -> {
                            boolean seenNew = false;
                            for (int i = 0; i < PER_CALLER; i++) {
                                boolean afterSwap;
                                synchronized (flagLock) { afterSwap = flags[1]; }
                                Batcher.Result r;
                                try {
                                    r = batcher.submit(input(caller, i)).get(60, TimeUnit.SECONDS);
                                } catch (Exception e) {
                                    failures.incrementAndGet();
                                    problems.add("caller " + caller + " request " + i + " failed: " + e);
                                    continue;
                                }
                                boolean beforeSwap;
                                synchronized (flagLock) { beforeSwap = !flags[0]; }
                                done.incrementAndGet();
                                boolean isOld = same(wantOld[caller][i], r, tol), isNew = same(wantNew[caller][i], r, tol);
                                String what = "caller " + caller + " request " + i;
                                if (isOld == isNew) problems.add(what + ": the result is neither model's unbatched result");
                                else if (isOld && (afterSwap || seenNew)) problems.add(what + ": ran on the old model after the swap");
                                else if (isNew && beforeSwap) problems.add(what + ": ran on the new model before the swap");
                                seenNew |= isNew;
                                (isOld ? onOld : onNew).incrementAndGet();
                            }
                            return null;
                        }));
                    }
                    // Swap in the middle of the load.
                    while (done.get() < CALLERS * PER_CALLER / 3) Thread.sleep(1);
                    synchronized (flagLock) { flags[0] = true; }
                    CompletableFuture<ServedModel> retired = batcher.swap(newModel);
                    synchronized (flagLock) { flags[1] = true; }
                    assertSame(oldModel, retired.get(60, TimeUnit.SECONDS));
                    // Nothing uses the old model any more: closing it must not fail a request.
                    a.close();
                    for (Future<?> f : fs) f.get(180, TimeUnit.SECONDS);
                } finally {
                    pool.shutdownNow();
                }
            }
            assertEquals(List.of(), problems);
            assertEquals(0, failures.get());
            assertEquals(CALLERS * PER_CALLER, onOld.get() + onNew.get());
            assertTrue(onOld.get() >= CALLERS * PER_CALLER / 3 && onNew.get() > 0, onOld + " on the old model, " + onNew + " on the new");
        }
    }

    /** A model whose forward calls wait at a gate, so that a round can be held in flight. */
    static final class Gated implements ServedModel {
        final ServedModel inner;
        final CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);

        Gated(ServedModel inner) { this.inner = inner; }

        @Override public int inputSize() { return inner.inputSize(); }
        @Override public int outputSize() { return inner.outputSize(); }
        @Override public List<StateSpec> states() { return inner.states(); }
        @Override public boolean takesLengths() { return inner.takesLengths(); }

        @Override
        public BatchOutput forward(float[] input, int steps, int batch, int[] lengths, List<float[]> initial) {
            entered.countDown();
            try {
                assertTrue(release.await(60, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new IllegalStateException("interrupted", e);
            }
            return inner.forward(input, steps, batch, lengths, initial);
        }

        @Override public String toString() { return "gated " + inner; }
    }

    @Test
    void theRoundInFlightFinishesOnTheOldModelAndQueuedRequestsRunOnTheNew() throws Exception {
        try (Device dev = Device.reference(); GRU a = gru(dev, 1); GRU b = gru(dev, 2)) {
            Gated old = new Gated(ServedModel.of(a));
            ServedModel next = ServedModel.of(b);
            float[] x1 = input(0, 0), x2 = input(1, 1);
            try (Batcher batcher = Batcher.builder(old).maxBatch(1).maxDelay(0, TimeUnit.MILLISECONDS).build()) {
                CompletableFuture<Batcher.Result> r1 = batcher.submit(x1);
                assertTrue(old.entered.await(60, TimeUnit.SECONDS));          // r1's round is running on the old model
                CompletableFuture<Batcher.Result> r2 = batcher.submit(x2);    // waits in the queue
                CompletableFuture<ServedModel> retired;
                try {
                    retired = batcher.swap(next);
                    assertFalse(retired.isDone(), "the old model is still in use");
                } finally {
                    old.release.countDown();
                }
                BatcherTest.assertSameResult(BatcherTest.direct(old.inner, x1, null), r1.get(60, TimeUnit.SECONDS), 0f, "in flight");
                BatcherTest.assertSameResult(BatcherTest.direct(next, x2, null), r2.get(60, TimeUnit.SECONDS), 0f, "queued");
                assertSame(old, retired.get(60, TimeUnit.SECONDS));
                // Idle: the model swapped out is handed back at once.
                CompletableFuture<ServedModel> back = batcher.swap(old);
                assertSame(next, back.get(60, TimeUnit.SECONDS));
                BatcherTest.assertSameResult(BatcherTest.direct(old.inner, x2, null), batcher.submit(x2).get(60, TimeUnit.SECONDS), 0f, "swapped back");
                assertEquals(3, batcher.stats().requests());
            }
        }
    }

    /** The swap example of README.md's "Serving" section, as shown there, inside the serving example's setup. */
    @Test
    void readmeSwapExample() throws Exception {
        try (Device device = Device.reference();
             LSTM lstm = LSTM.builder(8, 16).numLayers(2).seed(1).build(device);
             LSTM source = LSTM.builder(8, 16).numLayers(2).seed(2).build(device)) {
            lstm.eval();
            source.eval();
            java.util.Map<String, dev.rnn4j.HostTensor> newWeights = source.stateDict();
            float[] x = new float[5 * 8];
            java.util.Arrays.fill(x, 0.5f);
            try (Batcher batcher = Batcher.builder(ServedModel.of(lstm)).build()) {
                BatcherTest.assertSameResult(BatcherTest.direct(ServedModel.of(lstm), x, null), batcher.submit(x).get(), 0f, "before");

                LSTM updated = LSTM.builder(8, 16).numLayers(2).build(device);   // the served model's configuration
                updated.loadStateDict(newWeights);                    // e.g. SafeTensors.read(path).tensors()
                updated.eval();
                batcher.swap(ServedModel.of(updated)).get();          // returns once no round runs on lstm any more
                lstm.close();

                try (updated) {
                    BatcherTest.assertSameResult(BatcherTest.direct(ServedModel.of(source), x, null), batcher.submit(x).get(), 0f, "after");
                }
            }
        }
    }

    @Test
    void aModelOfOtherSizesOrAfterShutdownIsRefused() throws Exception {
        try (Device dev = Device.reference(); GRU a = gru(dev, 1);
             GRU wider = GRU.builder(IN, HIDDEN + 1).numLayers(2).seed(3).build(dev);
             GRU deeper = GRU.builder(IN, HIDDEN).numLayers(3).seed(3).build(dev);
             LSTM lstm = LSTM.builder(IN, HIDDEN).numLayers(2).seed(3).build(dev)) {
            ServedModel m = ServedModel.of(a);
            Batcher batcher = Batcher.builder(m).build();
            try {
                assertThrows(NullPointerException.class, () -> batcher.swap(null));
                for (ServedModel other : List.of(ServedModel.of(wider), ServedModel.of(deeper), ServedModel.of(lstm))) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> batcher.swap(other));
                    assertTrue(e.getMessage().contains("in place of"), e.getMessage());
                }
                // Nothing was swapped: requests still run on the first model.
                float[] x = input(2, 3);
                BatcherTest.assertSameResult(BatcherTest.direct(m, x, null), batcher.submit(x).get(60, TimeUnit.SECONDS), 0f, "unchanged");
            } finally {
                batcher.close();
            }
            assertThrows(IllegalStateException.class, () -> batcher.swap(ServedModel.of(a)));
        }
    }
}
