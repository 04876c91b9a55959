package dev.rnn4j.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.Semaphore;

/**
 * The cpu backend's one compute pool, shared by every caller in the JVM. A loop over [0, n) is
 * split into contiguous parts run at once: the calling thread runs the first, the pool's daemon
 * threads the others.
 *
 * <p>At most {@link #THREADS} threads compute at any time, whatever the number of callers: every
 * top-level call first takes one of {@link #THREADS} permits for its own thread (waiting if all are
 * taken), then as many more as are free, up to the parts the loop can use, and splits into that
 * many parts, which the caller and the helpers claim in turn (the caller runs a part whose
 * helper has not started yet); each helper gives its permit back when done. One caller on an idle machine so
 * gets every core; sixteen concurrent callers each run single-threaded, queued onto the cores,
 * instead of multiplying threads that fight for them. How a loop is split never changes what it
 * computes (every kernel computes each output element the same way in any part), so results
 * are bitwise the same under any load. A loop called from inside a part runs inline.
 */
final class Parallel {
    private Parallel() {}

    /** Threads that compute at once: the system property {@code rnn4j.cpu.threads}, else the number of processors. */
    static final int THREADS = Math.max(1, Integer.getInteger("rnn4j.cpu.threads",
            Runtime.getRuntime().availableProcessors()));

    /** Non-fair: a caller that releases and takes a permit again at its next step keeps the core warm. */
    private static final Semaphore PERMITS = new Semaphore(THREADS, false);

    private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS - 1, pool -> {
        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("rnn4j-cpu-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false) : null;

    /** Set while a thread holds a permit (a caller inside a loop, or a helper part). */
    private static final ThreadLocal<boolean[]> INSIDE = ThreadLocal.withInitial(() -> new boolean[1]);

    @FunctionalInterface
    interface Body {
        void run(int from, int to);
    }

    /** Parts are multiples of 16 elements (each part's vector loop has the same alignment) and at least {@code minChunk} long. */
    static void forRange(int n, int minChunk, Body body) { forParts(n, minChunk, 16, body); }

    /** Splits [0, n) into parts of at least {@code minChunk} units, each a multiple of {@code align}. */
    static void forParts(int n, int minChunk, int align, Body body) {
        if (n <= 0) return;
        boolean[] inside = INSIDE.get();
        if (inside[0]) {
            body.run(0, n);
            return;
        }
        int want = (int) Math.min(THREADS, n / (long) Math.max(1, minChunk));
        PERMITS.acquireUninterruptibly();
        inside[0] = true;
        try {
            int extra = 0;
            while (extra < want - 1 && PERMITS.tryAcquire()) extra++;
            if (extra == 0) {
                body.run(0, n);
                return;
            }
            run(n, extra + 1, align, body);
        } finally {
            inside[0] = false;
            PERMITS.release();
        }
    }

    /**
     * Chunks per participating thread ({@code -Drnn4j.cpu.chunksPerThread}). Work is claimed chunk
     * by chunk, so the caller takes over the chunk of a helper that has not started yet. 4 chunks
     * per thread measured no better than 1 (LSTM forward at load 16, A/B in one JVM: medians 5 to
     * 7% slower, within noise), so 1 it is.
     */
    static volatile int chunksPerThread = Math.max(1, Integer.getInteger("rnn4j.cpu.chunksPerThread", 1));

    /**
     * Runs the loop on the caller and {@code parts - 1} helpers; the caller holds one permit and
     * {@code parts - 1} more, which the helpers release. The range is cut into aligned chunks that
     * every participant claims in turn until none is left (on a loaded machine the caller then
     * does the work of a helper that has not started yet instead of waiting for it).
     */
    private static void run(int n, int parts, int align, Body body) {
        int units = (n + align - 1) / align;
        int chunks = Math.min(units, parts * chunksPerThread);
        int per = (units + chunks - 1) / chunks * align;
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        Runnable loop = () -> {
            for (int c; (c = next.getAndIncrement()) * (long) per < n; ) {
                int from = c * per;
                body.run(from, Math.min(n, from + per));
            }
        };
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[parts];
        int p = 1;
        try {
            for (; p < parts; p++) {
                tasks[p] = POOL.submit(() -> {
                    boolean[] in = INSIDE.get();
                    in[0] = true;
                    try {
                        loop.run();
                    } finally {
                        in[0] = false;
                        PERMITS.release();
                    }
                });
            }
        } catch (RuntimeException | Error e) {
            // helpers not submitted never run: give their permits back (the rest do it themselves)
            for (; p < parts; p++) PERMITS.release();
            for (ForkJoinTask<?> t : tasks) if (t != null) t.join();
            throw e;
        }
        RuntimeException failure = null;
        try {
            loop.run();
        } catch (RuntimeException e) {
            failure = e;
            next.set(Integer.MAX_VALUE / 2);   // stop the helpers claiming more
        }
        for (int q = 1; q < parts; q++) {
            try {
                tasks[q].join();
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
            }
        }
        if (failure != null) throw failure;
    }
}
