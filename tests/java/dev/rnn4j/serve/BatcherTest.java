package dev.rnn4j.serve;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The request batcher: results equal to unbatched forward calls (bit for bit on the reference
 * and cpu backends, within float tolerance elsewhere), streaming with carried states, the latency bound,
 * merging, back-pressure, errors confined to their forward call, and shutdown. Every test has a
 * timeout, so a lost future or a deadlock fails.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class BatcherTest {
    static final int IN = 5;

    static float[] seq(int steps, int seed) {
        float[] x = new float[steps * IN];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(0.41 * i + 0.9 * seed);
        return x;
    }

    static float[] state(int n, int seed) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) s[i] = (float) Math.cos(0.3 * i + seed) * 0.5f;
        return s;
    }

    /** The unbatched call: one sequence as a batch of one, straight through the model. */
    static Batcher.Result direct(ServedModel m, float[] x, List<float[]> init) {
        int steps = x.length / m.inputSize();
        ServedModel.BatchOutput o = m.forward(x, steps, 1, null, init);
        return new Batcher.Result(o.output(), o.finalStates());
    }

    static void assertSameResult(Batcher.Result want, Batcher.Result got, float tol, String what) {
        if (tol == 0) assertArrayEquals(want.output(), got.output(), what);
        else assertArrayEquals(want.output(), got.output(), tol, what);
        assertEquals(want.finalStates().size(), got.finalStates().size());
        for (int i = 0; i < want.finalStates().size(); i++) {
            if (tol == 0) assertArrayEquals(want.finalStates().get(i), got.finalStates().get(i), what + " state " + i);
            else assertArrayEquals(want.finalStates().get(i), got.finalStates().get(i), tol, what + " state " + i);
        }
    }

    static List<Module> models(Device dev) {
        LSTM lstm = LSTM.builder(IN, 6).numLayers(2).bidirectional(true).seed(3).build(dev);
        GRU gru = GRU.builder(IN, 4).batchFirst(true).seed(4).build(dev);
        SRU sru = SRU.builder(IN, 3).numLayers(2).build(dev);
        sru.initWeight(8);
        for (Module m : List.of(lstm, gru, sru)) m.eval();
        return List.of(lstm, gru, sru);
    }

    static ServedModel served(Module m) {
        return m instanceof SRU s ? ServedModel.of(s) : ServedModel.of((dev.rnn4j.nn.RNNBase) m);
    }

    /**
     * On the cpu backend a sequence's result does not depend on the batch it runs in: every
     * product computes each element as one FMA chain in k order, at batch 1 too (weights packed),
     * so batched results equal unbatched calls bit for bit. Widths above a vector's 16 lanes, where
     * a lane-split dot product would round differently.
     */
    @Test
    void onCpuBatchedResultsEqualUnbatchedCallsBitForBit() throws Exception {
        try (Device dev = Device.open("cpu");
             LSTM lstm = LSTM.builder(24, 40).seed(5).build(dev);
             GRU gru = GRU.builder(24, 33).numLayers(2).seed(6).build(dev)) {
            for (Module module : List.<Module>of(lstm, gru)) {
                module.eval();
                ServedModel m = served(module);
                int n = 12;
                List<float[]> xs = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    float[] x = new float[(1 + i % 5) * 24];
                    for (int j = 0; j < x.length; j++) x[j] = (float) Math.sin(0.37 * j + i);
                    xs.add(x);
                }
                List<CompletableFuture<Batcher.Result>> fs = new ArrayList<>();
                try (Batcher b = Batcher.builder(m).maxBatch(n).maxDelay(200, TimeUnit.MILLISECONDS).build()) {
                    for (float[] x : xs) fs.add(b.submit(x));
                    for (int i = 0; i < n; i++)
                        assertSameResult(direct(m, xs.get(i), null), fs.get(i).get(60, TimeUnit.SECONDS), 0f, module + " request " + i);
                    assertTrue(b.stats().forwardCalls() < n, "requests were merged: " + b.stats());
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    void batchedResultsEqualUnbatchedCalls(String backend) throws Exception {
        float tol = backend.equals("reference") || backend.equals("cpu") ? 0f : 2e-5f;
        try (Device dev = Outcomes.open(backend)) {
            long base = DeviceAccess.backend(dev).liveBuffers();
            List<Module> ms = models(dev);
            try {
                for (Module module : ms) {
                    ServedModel m = served(module);
                    int n = 24;
                    float[][] xs = new float[n][];
                    List<List<float[]>> inits = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        xs[i] = seq(1 + i % 4, i);                     // lengths 1..4 mixed in one round
                        List<float[]> init = null;
                        if (i % 3 == 1) {                              // some streams carry states, some start at zero
                            float[][] s = new float[m.states().size()][];
                            for (int k = 0; k < s.length; k++) s[k] = state(m.states().get(k).perSequence(), i + k);
                            init = Arrays.asList(s);
                        }
                        inits.add(init);
                    }
                    List<CompletableFuture<Batcher.Result>> fs = new ArrayList<>();
                    try (Batcher b = Batcher.builder(m).maxBatch(n).maxDelay(200, TimeUnit.MILLISECONDS).build()) {
                        for (int i = 0; i < n; i++) fs.add(b.submit(xs[i], inits.get(i)));
                        for (int i = 0; i < n; i++)
                            assertSameResult(direct(m, xs[i], inits.get(i)), fs.get(i).get(60, TimeUnit.SECONDS), tol,
                                    module + " request " + i + " on " + backend);
                        assertTrue(b.stats().forwardCalls() < n, "requests were merged: " + b.stats());
                        // The SRU takes lengths: its round of mixed lengths is one padded call.
                        if (m.takesLengths()) assertEquals(1, b.stats().forwardCalls(), module + ": " + b.stats());
                    }
                }
            } finally {
                for (Module m : ms) m.close();
            }
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers(), "buffers left behind on " + backend);
        }
    }

    @Test
    void streamingInChunksEqualsOneCall() throws Exception {
        try (Device dev = Device.reference();
             LSTM lstm = LSTM.builder(IN, 6).numLayers(2).seed(1).build(dev)) {
            lstm.eval();
            ServedModel m = ServedModel.of(lstm);
            float[] whole = seq(9, 2);
            Batcher.Result all = direct(m, whole, null);
            try (Batcher b = Batcher.builder(m).maxDelay(1, TimeUnit.MILLISECONDS).build()) {
                List<float[]> states = null;
                float[] out = new float[0];
                for (int[] chunk : new int[][]{{0, 4}, {4, 5}, {5, 9}}) {
                    Batcher.Result r = b.submit(Arrays.copyOfRange(whole, chunk[0] * IN, chunk[1] * IN), states).get(60, TimeUnit.SECONDS);
                    states = r.finalStates();
                    float[] grown = Arrays.copyOf(out, out.length + r.output().length);
                    System.arraycopy(r.output(), 0, grown, out.length, r.output().length);
                    out = grown;
                }
                assertArrayEquals(all.output(), out);
                assertArrayEquals(all.finalStates().get(0), states.get(0));
                assertArrayEquals(all.finalStates().get(1), states.get(1));
            }
        }
    }

    @Test
    void aLoneRequestWaitsNoLongerThanTheLatencyBound() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            long bound = TimeUnit.MILLISECONDS.toNanos(100);
            try (Batcher b = Batcher.builder(ServedModel.of(gru)).maxBatch(64).maxDelay(100, TimeUnit.MILLISECONDS).build()) {
                b.submit(seq(3, 1)).get(60, TimeUnit.SECONDS);
                long waited = b.stats().maxWaitNanos();
                // Alone and below maxBatch, it waits for company until the bound, then runs (scheduling slack allowed).
                assertTrue(waited >= bound, "ran after " + waited + " ns, before the bound");
                assertTrue(waited < bound + TimeUnit.MILLISECONDS.toNanos(400), "waited " + waited + " ns");
            }
            // A full batch does not wait for the bound.
            try (Batcher b = Batcher.builder(ServedModel.of(gru)).maxBatch(2).maxDelay(30, TimeUnit.SECONDS).build()) {
                var f1 = b.submit(seq(2, 1));
                var f2 = b.submit(seq(2, 2));
                f1.get(20, TimeUnit.SECONDS);
                f2.get(20, TimeUnit.SECONDS);
                assertEquals(1, b.stats().forwardCalls());
            }
        }
    }

    /**
     * A round closes before the bound once it holds as many requests as the previous round
     * (two or more); a round smaller than the previous one, or after a round of one, waits for
     * the bound as before.
     */
    @Test
    void aRoundAsLargeAsThePreviousOneDoesNotWaitForTheBound() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            long bound = TimeUnit.MILLISECONDS.toNanos(1500);
            try (Batcher b = Batcher.builder(ServedModel.of(gru)).maxBatch(64).maxDelay(1500, TimeUnit.MILLISECONDS).build()) {
                long[] took = new long[4];
                int[] sizes = {3, 3, 2, 2};
                // round 1: three requests, no previous round: waits for the bound
                // round 2: three again: closes as soon as the three are in
                // round 3: two after a round of three: waits for the bound
                // round 4: two after a round of two: closes at once
                for (int r = 0; r < 4; r++) {
                    List<CompletableFuture<Batcher.Result>> fs = new ArrayList<>();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < sizes[r]; i++) fs.add(b.submit(seq(3, 10 * r + i)));
                    for (var f : fs) f.get(60, TimeUnit.SECONDS);
                    took[r] = System.nanoTime() - t0;
                }
                assertEquals(4, b.stats().forwardCalls(), "one call per round");
                assertTrue(took[0] >= bound, "round 1 ran after " + took[0] + " ns, before the bound");
                assertTrue(took[1] < bound / 2, "round 2 (as large as round 1) took " + took[1] + " ns");
                assertTrue(took[2] >= bound, "round 3 (smaller than round 2) ran after " + took[2] + " ns, before the bound");
                assertTrue(took[3] < bound / 2, "round 4 (as large as round 3) took " + took[3] + " ns");
            }
            // after a round of one, a lone request still waits for the bound (no early close below two)
            try (Batcher b = Batcher.builder(ServedModel.of(gru)).maxBatch(64).maxDelay(300, TimeUnit.MILLISECONDS).build()) {
                for (int r = 0; r < 2; r++) {
                    long t0 = System.nanoTime();
                    b.submit(seq(3, r)).get(60, TimeUnit.SECONDS);
                    long took = System.nanoTime() - t0;
                    assertTrue(took >= TimeUnit.MILLISECONDS.toNanos(300), "lone request " + r + " ran after " + took + " ns");
                }
            }
        }
    }

    /** A served model's forward call, as a lambda. */
    interface Forward {
        ServedModel.BatchOutput forward(float[] input, int steps, int batch, int[] lengths, List<float[]> initial);
    }

    /** A model with {@code inner}'s sizes and states whose forward is {@code f}: for tests that watch or alter the calls. */
    static ServedModel around(ServedModel inner, boolean takesLengths, Forward f) {
        return new ServedModel() {
            @Override public int inputSize() { return inner.inputSize(); }
            @Override public int outputSize() { return inner.outputSize(); }
            @Override public List<StateSpec> states() { return inner.states(); }
            @Override public boolean takesLengths() { return takesLengths; }
            @Override
            public BatchOutput forward(float[] input, int steps, int batch, int[] lengths, List<float[]> initial) {
                return f.forward(input, steps, batch, lengths, initial);
            }
        };
    }

    /** A model whose forward waits on a latch, to hold the worker inside a call. */
    static final class Gate implements ServedModel {
        final ServedModel inner;
        final CountDownLatch entered = new CountDownLatch(1), release = new CountDownLatch(1);
        final AtomicInteger calls = new AtomicInteger();

        Gate(ServedModel inner) { this.inner = inner; }

        @Override public int inputSize() { return inner.inputSize(); }
        @Override public int outputSize() { return inner.outputSize(); }
        @Override public List<StateSpec> states() { return inner.states(); }

        @Override
        public BatchOutput forward(float[] input, int steps, int batch, int[] lengths, List<float[]> initial) {
            calls.incrementAndGet();
            entered.countDown();
            try {
                if (!release.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            return inner.forward(input, steps, batch, lengths, initial);
        }
    }

    @Test
    void aFullQueueBlocksSubmitUntilThereIsRoom() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            Gate gate = new Gate(ServedModel.of(gru));
            try (Batcher b = Batcher.builder(gate).maxBatch(1).queueCapacity(2).maxDelay(0, TimeUnit.MILLISECONDS).build()) {
                var running = b.submit(seq(2, 0));
                assertTrue(gate.entered.await(60, TimeUnit.SECONDS));
                var q1 = b.submit(seq(2, 1));
                var q2 = b.submit(seq(2, 2));
                assertEquals(2, b.queued());
                CompletableFuture<CompletableFuture<Batcher.Result>> third = CompletableFuture.supplyAsync(() -> {
                    try {
                        return b.submit(seq(2, 3));
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                Thread.sleep(300);
                assertFalse(third.isDone(), "submit returned although the queue was full");
                gate.release.countDown();
                for (var f : List.of(running, q1, q2, third.get(60, TimeUnit.SECONDS)))
                    assertEquals(2 * 3, f.get(60, TimeUnit.SECONDS).output().length);
            }
        }
    }

    @Test
    void anExceptionFailsExactlyTheFuturesOfItsCall() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            ServedModel real = ServedModel.of(gru);
            IllegalArgumentException boom = new IllegalArgumentException("no batches of 3 steps today");
            ServedModel failing = around(real, false, (input, steps, batch, lengths, initial) -> {
                if (steps == 3) throw boom;
                return real.forward(input, steps, batch, lengths, initial);
            });
            try (Batcher b = Batcher.builder(failing).maxBatch(8).maxDelay(300, TimeUnit.MILLISECONDS).build()) {
                List<CompletableFuture<Batcher.Result>> fs = new ArrayList<>();
                for (int i = 0; i < 8; i++) fs.add(b.submit(seq(i % 2 == 0 ? 3 : 2, i)));   // one round, two calls
                for (int i = 0; i < 8; i++) {
                    if (i % 2 == 0) {
                        ExecutionException e = assertThrows(ExecutionException.class, fs.get(i)::get);
                        assertSame(boom, e.getCause());
                    } else {
                        assertSameResult(direct(real, seq(2, i), null), fs.get(i).get(60, TimeUnit.SECONDS), 0f, "request " + i);
                    }
                }
                // The worker goes on.
                assertSameResult(direct(real, seq(2, 9), null), b.submit(seq(2, 9)).get(60, TimeUnit.SECONDS), 0f, "after the failure");
            }
        }
    }

    /**
     * A model that takes lengths gets a whole round of mixed lengths as one padded call. The model
     * here runs each sequence of the batch alone through a real GRU (its own oracle), so the
     * results must equal unbatched calls bit for bit; what is tested is the batcher's padding,
     * lengths and splitting.
     */
    @Test
    void aModelThatTakesLengthsGetsTheRoundAsOnePaddedCall() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).numLayers(2).seed(2).build(dev)) {
            gru.eval();
            ServedModel real = ServedModel.of(gru);
            List<int[]> seen = new ArrayList<>();
            ServedModel packed = around(real, true, (input, steps, batch, lengths, initial) -> {
                seen.add(lengths == null ? null : lengths.clone());
                int out = real.outputSize();
                ServedModel.StateSpec h = real.states().get(0);
                float[] y = new float[steps * batch * out], hN = new float[h.rows() * batch * h.width()];
                for (int b = 0; b < batch; b++) {
                    int len = lengths == null ? steps : lengths[b];
                    float[] x = new float[len * IN];
                    for (int t = 0; t < len; t++) System.arraycopy(input, (t * batch + b) * IN, x, t * IN, IN);
                    float[] h0 = null;
                    if (initial != null && initial.get(0) != null) {
                        h0 = new float[h.perSequence()];
                        for (int r = 0; r < h.rows(); r++) System.arraycopy(initial.get(0), (r * batch + b) * h.width(), h0, r * h.width(), h.width());
                    }
                    ServedModel.BatchOutput one = real.forward(x, len, 1, null, h0 == null ? null : Arrays.asList(h0));
                    for (int t = 0; t < len; t++) System.arraycopy(one.output(), t * out, y, (t * batch + b) * out, out);
                    for (int r = 0; r < h.rows(); r++) System.arraycopy(one.finalStates().get(0), r * h.width(), hN, (r * batch + b) * h.width(), h.width());
                }
                return new ServedModel.BatchOutput(y, List.of(hN));
            });
            int n = 6;
            List<CompletableFuture<Batcher.Result>> fs = new ArrayList<>();
            List<List<float[]>> inits = new ArrayList<>();
            try (Batcher b = Batcher.builder(packed).maxBatch(n).maxDelay(10, TimeUnit.SECONDS).build()) {
                for (int i = 0; i < n; i++) {
                    List<float[]> init = i % 2 == 0 ? null : List.of(state(packed.states().get(0).perSequence(), i));
                    inits.add(init);
                    fs.add(b.submit(seq(1 + (i * 5) % 7, i), init));
                }
                for (int i = 0; i < n; i++)
                    assertSameResult(direct(real, seq(1 + (i * 5) % 7, i), inits.get(i)), fs.get(i).get(60, TimeUnit.SECONDS), 0f, "request " + i);
                assertEquals(1, b.stats().forwardCalls());
            }
            assertEquals(1, seen.size());
            assertArrayEquals(new int[]{1, 6, 4, 2, 7, 5}, seen.get(0));
        }
    }

    @Test
    void aModelInTrainingModeFailsItsRequestsClearly() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev);
             Batcher b = Batcher.builder(ServedModel.of(gru)).build()) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> b.submit(seq(2, 0)).get(60, TimeUnit.SECONDS));
            assertInstanceOf(IllegalStateException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("eval mode"), e.getCause().getMessage());
        }
    }

    /**
     * Warm-up: build() makes the asked forward calls (alternately a batch of one and of
     * maxBatch, zeros, zero states) before it returns, counts none of them, and later results
     * are those of an unbatched call; a warm-up call that fails fails build() and leaves no
     * worker thread behind; bad counts are refused.
     */
    @Test
    void warmUpCallsRunInBuildAndAreNotCounted() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            ServedModel inner = ServedModel.of(gru);
            List<int[]> seen = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Boolean> zeros = java.util.Collections.synchronizedList(new ArrayList<>());
            ServedModel counting = around(inner, inner.takesLengths(), (input, steps, batch, lengths, initial) -> {
                seen.add(new int[]{steps, batch});
                boolean z = initial == null;
                for (float v : input) z &= v == 0f;
                zeros.add(z);
                return inner.forward(input, steps, batch, lengths, initial);
            });
            try (Batcher b = Batcher.builder(counting).maxBatch(5).maxDelay(0, TimeUnit.MILLISECONDS).warmUp(3, 4).build()) {
                assertEquals(4, seen.size(), "warm-up calls made by build()");
                int[][] want = {{3, 1}, {3, 5}, {3, 1}, {3, 5}};
                for (int i = 0; i < 4; i++) assertArrayEquals(want[i], seen.get(i), "warm-up call " + i);
                assertFalse(zeros.contains(false), "warm-up inputs and states are zeros");
                assertEquals(0, b.stats().forwardCalls());
                assertEquals(0, b.stats().requests());
                float[] x = seq(4, 7);
                assertSameResult(direct(inner, x, null), b.submit(x).get(60, TimeUnit.SECONDS), 0f, "after warm-up");
                assertEquals(1, b.stats().forwardCalls());
            }
            assertThrows(IllegalArgumentException.class, () -> Batcher.builder(inner).warmUp(3, -1));
            assertThrows(IllegalArgumentException.class, () -> Batcher.builder(inner).warmUp(0, 2));
            Batcher.builder(inner).warmUp(0, 0).build().close();   // no warm-up: any steps
            IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                    () -> Batcher.builder(inner).maxBatch(1 << 20).warmUp(1 << 20, 1).build());
            assertTrue(big.getMessage().contains("does not fit"), big.getMessage());
            // a model in training mode: build() fails with the forward's error, and no worker runs
            gru.train(true);
            long before = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("rnn4j-batcher-")).count();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Batcher.builder(inner).warmUp(2, 1).build());
            assertTrue(e.getMessage().contains("eval mode"), e.getMessage());
            long after = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("rnn4j-batcher-")).count();
            assertTrue(after <= before, "a worker thread was left behind");
        }
    }

    @Test
    void closeRunsWhatWasAcceptedThenRefuses() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            ServedModel m = ServedModel.of(gru);
            Batcher b = Batcher.builder(m).maxBatch(4).maxDelay(10, TimeUnit.SECONDS).build();
            List<CompletableFuture<Batcher.Result>> fs = new ArrayList<>();
            for (int i = 0; i < 10; i++) fs.add(b.submit(seq(2, i)));
            b.close();                                  // does not wait the 10 s bound
            assertTrue(b.isShutdown());
            for (int i = 0; i < 10; i++) assertSameResult(direct(m, seq(2, i), null), fs.get(i).getNow(null), 0f, "request " + i);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.submit(seq(2, 0)));
            assertTrue(e.getMessage().contains("shut down"), e.getMessage());
            b.close();                                  // idempotent
        }
    }

    @Test
    void shutdownNowFailsWhatHasNotStarted() throws Exception {
        try (Device dev = Device.reference();
             GRU gru = GRU.builder(IN, 3).seed(2).build(dev)) {
            gru.eval();
            Gate gate = new Gate(ServedModel.of(gru));
            Batcher b = Batcher.builder(gate).maxBatch(1).maxDelay(0, TimeUnit.MILLISECONDS).build();
            var running = b.submit(seq(2, 0));
            assertTrue(gate.entered.await(60, TimeUnit.SECONDS));
            List<CompletableFuture<Batcher.Result>> waiting = new ArrayList<>();
            for (int i = 1; i < 5; i++) waiting.add(b.submit(seq(2, i)));
            Thread stopper = new Thread(b::shutdownNow);
            stopper.start();
            while (!b.isShutdown()) Thread.onSpinWait();
            gate.release.countDown();                   // the call in progress finishes
            stopper.join(60_000);
            assertFalse(stopper.isAlive());
            assertEquals(2 * 3, running.get(60, TimeUnit.SECONDS).output().length);
            for (var f : waiting) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
                assertInstanceOf(IllegalStateException.class, e.getCause());
            }
            assertEquals(1, gate.calls.get());
            assertThrows(IllegalStateException.class, () -> b.submit(seq(2, 0)));
        }
    }

    @Test
    void manyConcurrentSubmittersAllGetTheirOwnResults() throws Exception {
        try (Device dev = Device.reference();
             LSTM lstm = LSTM.builder(IN, 4).seed(6).build(dev)) {
            lstm.eval();
            ServedModel m = ServedModel.of(lstm);
            int threads = 32, each = 12;
            Batcher.Result[][] want = new Batcher.Result[threads][each];
            for (int t = 0; t < threads; t++)
                for (int i = 0; i < each; i++) want[t][i] = direct(m, seq(1 + (t + i) % 3, t * 100 + i), null);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try (Batcher b = Batcher.builder(m).maxBatch(16).queueCapacity(8).maxDelay(2, TimeUnit.MILLISECONDS).build()) {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int thread = t;
                    fs.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < each; i++)
                            assertSameResult(want[thread][i], b.submit(seq(1 + (thread + i) % 3, thread * 100 + i)).get(60, TimeUnit.SECONDS),
                                    0f, "thread " + thread + " request " + i);
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> f : fs) f.get(180, TimeUnit.SECONDS);
                assertEquals(threads * each, b.stats().requests());
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void badSubmissionsAreRefusedAtOnce() throws Exception {
        try (Device dev = Device.reference();
             LSTM lstm = LSTM.builder(IN, 4).seed(6).build(dev);
             Batcher b = Batcher.builder(ServedModel.of(lstm)).build()) {
            assertThrows(NullPointerException.class, () -> b.submit(null));
            assertThrows(IllegalArgumentException.class, () -> b.submit(new float[IN + 1]));
            assertThrows(IllegalArgumentException.class, () -> b.submit(new float[0]));
            assertThrows(IllegalArgumentException.class, () -> b.submit(new float[IN], List.of(new float[4])));
            assertThrows(IllegalArgumentException.class, () -> b.submit(new float[IN], Arrays.asList(new float[3], null)));
            assertThrows(IllegalArgumentException.class, () -> Batcher.builder(ServedModel.of(lstm)).maxBatch(0));
            assertThrows(IllegalArgumentException.class, () -> Batcher.builder(ServedModel.of(lstm)).queueCapacity(0));
        }
        assertThrows(NullPointerException.class, () -> ServedModel.of((SRU) null));
    }

    @Test
    void theAdapterFreesItsTensorsAndMatchesAPlainForward() {
        try (Device dev = Device.reference();
             LSTM lstm = LSTM.builder(IN, 4).seed(6).build(dev)) {
            lstm.eval();
            long base = DeviceAccess.backend(dev).liveBuffers();
            direct(ServedModel.of(lstm), seq(3, 0), null);
            assertEquals(base, DeviceAccess.backend(dev).liveBuffers());
            try (Tensor x = dev.tensor(seq(3, 0), 3, 1, IN); RecurrentOutput o = lstm.forward(x)) {
                assertArrayEquals(o.output().toArray(), direct(ServedModel.of(lstm), seq(3, 0), null).output());
            }
        }
    }

    /** The example of README.md's "Serving" section, as shown there. */
    @Test
    void readmeServingExample() throws Exception {
        try (Device device = Device.reference();                  // or Device.open("cpu")
             LSTM lstm = LSTM.builder(8, 16).numLayers(2).seed(1).build(device)) {
            lstm.eval();                                          // eval mode: forward calls may share it
            try (Batcher batcher = Batcher.builder(ServedModel.of(lstm))
                    .maxBatch(64)                                 // at most 64 requests per round
                    .maxDelay(2, TimeUnit.MILLISECONDS)           // a request waits at most 2 ms for others
                    .queueCapacity(1024)                          // submit blocks beyond 1024 waiting requests
                    .warmUp(35, 20)                               // build() first makes 20 calls of 35 steps (see below)
                    .build()) {
                // From any number of request threads: one sequence (T, 8) each, row-major.
                Batcher.Result r = batcher.submit(new float[5 * 8]).get();
                float[] output = r.output();                      // (5, 16)
                List<float[]> state = r.finalStates();            // h_n (2, 16) and c_n (2, 16) of this sequence
                // Streaming: the next chunk of the same stream continues from its state.
                Batcher.Result next = batcher.submit(new float[3 * 8], state).get();

                assertEquals(5 * 16, output.length);
                assertEquals(List.of(2 * 16, 2 * 16), state.stream().map(a -> a.length).toList());
                assertEquals(3 * 16, next.output().length);
            }                                                     // close: runs what was accepted, then refuses
        }
    }
}
