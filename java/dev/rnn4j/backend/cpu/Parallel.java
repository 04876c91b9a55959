package dev.rnn4j.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Splits a loop over [0, n) into at most {@link #THREADS} contiguous parts run at once: the
 * calling thread runs the first, a private pool of daemon threads the others. Parts are
 * multiples of 16 elements (so each part's vector loop has the same alignment) and at least
 * {@code minChunk} long; smaller loops run on the caller alone.
 */
final class Parallel {
    private Parallel() {}

    /** Threads per loop: the system property {@code rnn4j.cpu.threads}, else the number of processors. */
    static final int THREADS = Math.max(1, Integer.getInteger("rnn4j.cpu.threads",
            Runtime.getRuntime().availableProcessors()));

    private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS - 1, pool -> {
        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("rnn4j-cpu-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false) : null;

    @FunctionalInterface
    interface Body {
        void run(int from, int to);
    }

    static void forRange(int n, int minChunk, Body body) {
        int parts = (int) Math.min(THREADS, n / (long) Math.max(1, minChunk));
        if (parts <= 1) {
            if (n > 0) body.run(0, n);
            return;
        }
        int step = ((n + parts - 1) / parts + 15) & ~15;
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[parts];
        for (int p = 1; p < parts; p++) {
            int from = Math.min(n, p * step), to = Math.min(n, from + step);
            if (from < to) tasks[p] = POOL.submit(() -> body.run(from, to));
        }
        RuntimeException failure = null;
        try {
            body.run(0, Math.min(n, step));
        } catch (RuntimeException e) {
            failure = e;
        }
        for (int p = 1; p < parts; p++) {
            if (tasks[p] == null) continue;
            try {
                tasks[p].join();
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
            }
        }
        if (failure != null) throw failure;
    }
}
