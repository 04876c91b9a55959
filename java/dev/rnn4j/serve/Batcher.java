package dev.rnn4j.serve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serves one model to many threads by merging their requests into batched forward calls.
 * Callers {@link #submit} single sequences (with their own initial states when they stream)
 * and get a {@link CompletableFuture} of the output and the final states. One worker thread
 * takes what arrives within {@code maxDelay} of the oldest waiting request, up to
 * {@code maxBatch} requests, runs them as few batched forward calls as it can, and splits the
 * results back. A round closes before {@code maxDelay} once it holds as many requests as the
 * previous round did (when that was two or more): under steady load from N callers each round
 * then starts as soon as the N are in instead of idling to the bound, and a round can still
 * grow, since it takes everything already queued.
 *
 * <p>Grouping: a model that takes lengths ({@link ServedModel#takesLengths()}) gets the whole
 * round as one call, padded to its longest sequence; otherwise sequences of equal length share
 * one forward call. Requests without initial states run from zeros, exactly as an unbatched
 * call with null states does.
 *
 * <p>Back-pressure: at most {@code queueCapacity} requests wait; {@link #submit} blocks while
 * the queue is full. Errors: an exception in one forward call fails exactly the futures of that
 * call's requests, and the worker goes on. Shutdown: {@link #close()} stops accepting requests,
 * runs every request already accepted and waits for the worker; {@link #shutdownNow()} fails
 * the waiting ones with {@link IllegalStateException}; a submit after either throws
 * {@link IllegalStateException}. Futures are completed on the worker thread: dependent stages
 * that take time belong on an executor ({@code thenApplyAsync}).
 *
 * <p>New weights under load: {@link #swap} replaces the served model between two rounds. The
 * round running when it is called finishes on the old model, every later round (requests
 * already queued included) runs on the new one, and no request fails or waits for it; the
 * future it returns hands back the old model once no forward call uses it, to be closed.
 */
public final class Batcher implements AutoCloseable {

    /**
     * One sequence's result.
     *
     * @param output      (T, outputSize) row-major
     * @param finalStates the final states, (rows, width) each, in {@link ServedModel#states()} order
     */
    public record Result(float[] output, List<float[]> finalStates) {}

    /**
     * Counters since the batcher started.
     *
     * @param requests     requests completed or failed
     * @param forwardCalls forward calls made, failed ones too
     * @param maxWaitNanos the longest time a request waited before its call began
     */
    public record Stats(long requests, long forwardCalls, long maxWaitNanos) {}

    private static final class Request {
        final float[] input;
        final int steps;
        final List<float[]> initial;
        final long submitted = System.nanoTime();
        final CompletableFuture<Result> future = new CompletableFuture<>();

        Request(float[] input, int steps, List<float[]> initial) {
            this.input = input;
            this.steps = steps;
            this.initial = initial;
        }
    }

    /** The model the next round runs on; {@link #swap} replaces it. */
    private volatile ServedModel model;
    /** Guards {@link #roundModel} and {@link #retiring}. */
    private final Object swapLock = new Object();
    /** The model of the round in progress, or null between rounds. */
    private ServedModel roundModel;
    /** Futures of the models swapped out while the round in progress ran on them: completed with it when it ends. */
    private final List<CompletableFuture<ServedModel>> retiring = new ArrayList<>();
    private final int maxBatch;
    private final long maxDelayNanos;
    private final BlockingQueue<Request> queue;
    private final Thread worker;
    /** Submits between their check of {@code closing} and their enqueue; the worker drains until none is left. */
    private final AtomicInteger submitting = new AtomicInteger();
    private volatile boolean closing, abort;
    private final AtomicLong requests = new AtomicLong(), calls = new AtomicLong(), maxWait = new AtomicLong();

    private Batcher(Builder b) {
        this.model = b.model;
        this.maxBatch = b.maxBatch;
        this.maxDelayNanos = b.maxDelayNanos;
        this.queue = new ArrayBlockingQueue<>(b.queueCapacity);
        if (b.warmUpCalls > 0 && (long) b.warmUpSteps * maxBatch * model.inputSize() > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("warm-up input of " + b.warmUpSteps + " steps x maxBatch " + maxBatch
                    + " x input size " + model.inputSize() + " floats does not fit one array");
        for (int i = 0; i < b.warmUpCalls; i++) {
            // alternately one sequence and a full batch: the kernels of both get compiled
            int batch = i % 2 == 0 ? 1 : maxBatch;
            model.forward(new float[b.warmUpSteps * batch * model.inputSize()], b.warmUpSteps, batch, null, null);
        }
        this.worker = new Thread(this::work, "rnn4j-batcher-" + b.model);
        worker.setDaemon(true);
        worker.start();
    }

    /**
     * A builder for a batcher of {@code model}, with the defaults: {@code maxBatch} 32,
     * {@code maxDelay} 2 ms, {@code queueCapacity} 1024, no warm-up.
     *
     * @throws NullPointerException if {@code model} is null
     */
    public static Builder builder(ServedModel model) { return new Builder(model); }

    /** Options: batch size, latency bound, queue capacity and warm-up, each checked when set. */
    public static final class Builder {
        private final ServedModel model;
        private int maxBatch = 32, queueCapacity = 1024;
        private long maxDelayNanos = TimeUnit.MILLISECONDS.toNanos(2);
        private int warmUpSteps, warmUpCalls;

        private Builder(ServedModel model) { this.model = Objects.requireNonNull(model, "model is null"); }

        /** Most requests merged into one round of forward calls; default 32. */
        public Builder maxBatch(int n) {
            if (n < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + n);
            maxBatch = n;
            return this;
        }

        /**
         * Longest time a request waits for others before its forward call starts; default 2 ms.
         * A round may start sooner: when it is full, or when it holds as many requests as the
         * previous round (see the class comment).
         */
        public Builder maxDelay(long amount, TimeUnit unit) {
            if (amount < 0) throw new IllegalArgumentException("maxDelay must be >= 0, got " + amount);
            maxDelayNanos = Objects.requireNonNull(unit, "unit is null").toNanos(amount);
            return this;
        }

        /** Requests that may wait; {@link Batcher#submit} blocks beyond that. Default 1024. */
        public Builder queueCapacity(int n) {
            if (n < 1) throw new IllegalArgumentException("queueCapacity must be >= 1, got " + n);
            queueCapacity = n;
            return this;
        }

        /**
         * Forward calls that {@link #build()} makes before the batcher takes requests, so that
         * the first requests do not run while the JIT is still compiling the kernels (on the cpu
         * backend about a second of calls): {@code calls} calls of zeros, {@code steps} steps
         * each, alternately a batch of one and a batch of {@code maxBatch}, from zero states.
         * They are not counted in {@link Batcher#stats()}. Default: none.
         */
        public Builder warmUp(int steps, int calls) {
            if (calls < 0) throw new IllegalArgumentException("warm-up calls must be >= 0, got " + calls);
            if (calls > 0 && steps < 1) throw new IllegalArgumentException("warm-up steps must be >= 1, got " + steps);
            warmUpSteps = steps;
            warmUpCalls = calls;
            return this;
        }

        /**
         * The batcher, its worker started, after the warm-up calls if any.
         *
         * @throws RuntimeException what the model's forward throws in a warm-up call (a model in
         *                          training mode, a closed one); no worker is left running then
         */
        public Batcher build() { return new Batcher(this); }
    }

    /** {@link #submit(float[], List)} from zero initial states. */
    public CompletableFuture<Result> submit(float[] input) throws InterruptedException { return submit(input, null); }

    /**
     * Queues one sequence, blocking while the queue is full.
     *
     * @param input   (T, inputSize) row-major, {@code T >= 1}; copied
     * @param initial null for zero states, or one (rows, width) array per {@link ServedModel#states()}
     *                entry (an entry may be null for zeros), e.g. the previous {@link Result#finalStates()}
     * @throws IllegalStateException after {@link #close()} or {@link #shutdownNow()}
     */
    public CompletableFuture<Result> submit(float[] input, List<float[]> initial) throws InterruptedException {
        if (input == null) throw new NullPointerException("input is null");
        int in = model.inputSize();
        if (input.length == 0 || input.length % in != 0)
            throw new IllegalArgumentException("input: expected (T, " + in + ") values with T >= 1, got " + input.length + " values");
        List<float[]> init = null;
        if (initial != null) {
            List<ServedModel.StateSpec> specs = model.states();
            if (initial.size() != specs.size())
                throw new IllegalArgumentException("initial: expected " + specs.size() + " states " + specs + ", got " + initial.size());
            float[][] copy = new float[specs.size()][];
            for (int i = 0; i < copy.length; i++) {
                float[] s = initial.get(i);
                if (s == null) continue;
                if (s.length != specs.get(i).perSequence())
                    throw new IllegalArgumentException("initial state " + specs.get(i).name() + ": expected " + specs.get(i).rows()
                            + " x " + specs.get(i).width() + " values, got " + s.length);
                copy[i] = s.clone();
            }
            init = Arrays.asList(copy);
        }
        Request r = new Request(input.clone(), input.length / in, init);
        submitting.incrementAndGet();
        try {
            if (closing) throw new IllegalStateException("the batcher for " + model + " is shut down");
            queue.put(r);
        } finally {
            submitting.decrementAndGet();
        }
        return r.future;
    }

    /**
     * Serves {@code next} instead of the current model from the next round on, atomically and
     * without failing a request: the round running now (if any) finishes on the old model, and
     * every later round, including requests already waiting in the queue, runs on {@code next}.
     * The typical use is new weights for a served module: build a second module with the same
     * configuration, load the weights into it ({@code loadStateDict}), put it in eval mode, and
     * swap its adapter in; then close the old module when the returned future completes.
     *
     * @param next a model with the same {@link ServedModel#inputSize()}, {@link ServedModel#outputSize()}
     *             and {@link ServedModel#states()} (requests already accepted were checked against them)
     * @return a future that completes with the model replaced once no forward call of this batcher
     *         uses it any more (at once when no round is running on it). It may complete on the
     *         worker thread, so waiting for it in a dependent stage of a request's future would
     *         never end
     * @throws NullPointerException     if {@code next} is null
     * @throws IllegalArgumentException if its sizes or states differ from the current model's
     * @throws IllegalStateException    after {@link #close()} or {@link #shutdownNow()}
     */
    public CompletableFuture<ServedModel> swap(ServedModel next) {
        Objects.requireNonNull(next, "next model is null");
        CompletableFuture<ServedModel> retired = new CompletableFuture<>();
        ServedModel old;
        boolean inUse;
        synchronized (swapLock) {
            old = model;
            if (closing) throw new IllegalStateException("the batcher for " + old + " is shut down");
            if (next.inputSize() != old.inputSize() || next.outputSize() != old.outputSize() || !next.states().equals(old.states()))
                throw new IllegalArgumentException("cannot serve " + next + " (input " + next.inputSize() + ", output "
                        + next.outputSize() + ", states " + next.states() + ") in place of " + old + " (input "
                        + old.inputSize() + ", output " + old.outputSize() + ", states " + old.states() + ")");
            model = next;
            inUse = roundModel == old;
            if (inUse) retiring.add(retired);
        }
        if (!inUse) retired.complete(old);
        return retired;
    }

    /** Requests waiting now. */
    public int queued() { return queue.size(); }

    /** The counters since the batcher started (warm-up calls left out), read now; each is exact, the three not read at one instant. */
    public Stats stats() { return new Stats(requests.get(), calls.get(), maxWait.get()); }

    // ------------------------------------------------------------------ the worker

    private void work() {
        List<Request> batch = new ArrayList<>(maxBatch);
        int lastRound = 0;   // requests in the previous round (see the class comment)
        try {
            while (!abort) {
                Request first = queue.poll(20, TimeUnit.MILLISECONDS);
                if (first == null) {
                    if (closing && submitting.get() == 0 && queue.isEmpty()) return;
                    continue;
                }
                batch.add(first);
                long deadline = first.submitted + maxDelayNanos;
                while (batch.size() < maxBatch) {
                    queue.drainTo(batch, maxBatch - batch.size());
                    long wait = deadline - System.nanoTime();
                    if (wait <= 0 || closing || batch.size() >= maxBatch || (lastRound >= 2 && batch.size() >= lastRound)) break;
                    // Waits in slices so that a shutdown is seen within 20 ms.
                    Request r = queue.poll(Math.min(wait, TimeUnit.MILLISECONDS.toNanos(20)), TimeUnit.NANOSECONDS);
                    if (r != null) batch.add(r);
                }
                lastRound = batch.size();
                if (abort) failAll(batch, new IllegalStateException("the batcher for " + model + " was shut down before this request ran"));
                else runRound(batch);
                batch.clear();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();   // nobody interrupts this thread but the JVM's end; fail what is left
        } finally {
            IllegalStateException gone = new IllegalStateException("the batcher for " + model + " was shut down before this request ran");
            failAll(batch, gone);
            // Submitters blocked on a full queue may still enqueue: fail theirs too.
            do {
                List<Request> rest = new ArrayList<>();
                queue.drainTo(rest);
                failAll(rest, gone);
                if (submitting.get() > 0) Thread.onSpinWait();
            } while (submitting.get() > 0 || !queue.isEmpty());
        }
    }

    private void failAll(List<Request> rs, Throwable t) {
        // Counted before completing, so that a caller who sees its future done also sees it counted.
        for (Request r : rs) {
            requests.incrementAndGet();
            r.future.completeExceptionally(t);
        }
    }

    /**
     * Splits one round of requests into forward calls: all of them in one call when the model
     * takes lengths, else one call per distinct length, in order of first arrival.
     */
    private static List<List<Request>> groups(List<Request> batch, ServedModel model) {
        if (model.takesLengths()) return List.of(batch);
        Map<Integer, List<Request>> byLength = new LinkedHashMap<>();
        for (Request r : batch) byLength.computeIfAbsent(r.steps, k -> new ArrayList<>()).add(r);
        return new ArrayList<>(byLength.values());
    }

    /** The lengths argument of a group's forward call: null when every sequence has T steps. */
    private static int[] lengthsOf(List<Request> group, int steps) {
        boolean equal = true;
        for (Request r : group) equal &= r.steps == steps;
        if (equal) return null;
        int[] lengths = new int[group.size()];
        for (int b = 0; b < lengths.length; b++) lengths[b] = group.get(b).steps;
        return lengths;
    }

    /** One round on the model current when it starts; a model swapped out meanwhile is handed back when it ends. */
    private void runRound(List<Request> batch) {
        ServedModel m;
        synchronized (swapLock) {
            m = model;
            roundModel = m;
        }
        try {
            run(batch, m);
        } finally {
            List<CompletableFuture<ServedModel>> done;
            synchronized (swapLock) {
                roundModel = null;
                done = new ArrayList<>(retiring);
                retiring.clear();
            }
            for (CompletableFuture<ServedModel> f : done) f.complete(m);   // outside the lock: a stage may call swap
        }
    }

    private void run(List<Request> batch, ServedModel model) {
        long now = System.nanoTime();
        for (Request r : batch) maxWait.accumulateAndGet(now - r.submitted, Math::max);
        for (List<Request> group : groups(batch, model)) {
            try {
                runGroup(group, model);
            } catch (RuntimeException | Error e) {
                failAll(group, e);
            }
        }
    }

    private void runGroup(List<Request> group, ServedModel model) {
        int B = group.size(), in = model.inputSize(), out = model.outputSize();
        int T = 0;
        for (Request r : group) T = Math.max(T, r.steps);
        float[] x = new float[Math.multiplyExact(Math.multiplyExact(T, B), in)];   // (T, B, in), padded with zeros
        for (int b = 0; b < B; b++) {
            Request r = group.get(b);
            for (int t = 0; t < r.steps; t++) System.arraycopy(r.input, t * in, x, (t * B + b) * in, in);
        }
        List<ServedModel.StateSpec> specs = model.states();
        List<float[]> init = null;
        for (int i = 0; i < specs.size(); i++) {
            ServedModel.StateSpec s = specs.get(i);
            float[] all = null;
            for (int b = 0; b < B; b++) {
                Request r = group.get(b);
                float[] mine = r.initial == null ? null : r.initial.get(i);
                if (mine == null) continue;
                if (all == null) all = new float[s.rows() * B * s.width()];
                for (int row = 0; row < s.rows(); row++)
                    System.arraycopy(mine, row * s.width(), all, (row * B + b) * s.width(), s.width());
            }
            if (all != null) {
                if (init == null) init = new ArrayList<>(java.util.Collections.nCopies(specs.size(), null));
                init.set(i, all);
            }
        }
        calls.incrementAndGet();
        ServedModel.BatchOutput res = model.forward(x, T, B, lengthsOf(group, T), init);
        for (int b = 0; b < B; b++) {
            Request r = group.get(b);
            float[] y = new float[r.steps * out];
            for (int t = 0; t < r.steps; t++) System.arraycopy(res.output(), (t * B + b) * out, y, t * out, out);
            float[][] fin = new float[specs.size()][];
            for (int i = 0; i < fin.length; i++) {
                ServedModel.StateSpec s = specs.get(i);
                fin[i] = new float[s.perSequence()];
                for (int row = 0; row < s.rows(); row++)
                    System.arraycopy(res.finalStates().get(i), (row * B + b) * s.width(), fin[i], row * s.width(), s.width());
            }
            requests.incrementAndGet();
            r.future.complete(new Result(y, List.of(fin)));
        }
    }

    // ------------------------------------------------------------------ shutdown

    /** Stops accepting requests, runs every request already accepted, and waits for the worker. Idempotent. */
    @Override
    public void close() {
        closing = true;
        joinWorker();
    }

    /** Stops accepting requests and fails every request that has not started with {@link IllegalStateException}; waits for the worker. */
    public void shutdownNow() {
        closing = true;
        abort = true;
        joinWorker();
    }

    private void joinWorker() {
        boolean interrupted = false;
        while (worker.isAlive()) {
            try {
                worker.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /** Whether {@link #close()} or {@link #shutdownNow()} was called: the batcher takes no more requests (some may still run). */
    public boolean isShutdown() { return closing; }
}
