package dev.rnn4j.backend.cpu;

import java.util.concurrent.Semaphore;

/**
 * The cpu backend's one compute pool, shared by every caller in the JVM. A loop over [0, n) is
 * split into contiguous parts run at once: the calling thread runs the first, the pool's daemon
 * helper threads the others (a helper spins briefly for its next part before it parks, see
 * {@link #SPIN_NANOS}).
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
     * How long an idle helper spins for its next part before it parks, in microseconds
     * ({@code -Drnn4j.cpu.spinMicros}). A recurrence splits every time step, tens to hundreds of
     * microseconds apart; waking a parked thread costs about as much as such a part, so a helper
     * that has just finished stays awake briefly. 0 parks at once.
     */
    static final long SPIN_NANOS = 1000L * Math.max(0, Integer.getInteger("rnn4j.cpu.spinMicros", 100));

    /** The helpers, started on first use: THREADS - 1 daemon threads. */
    private static final Helper[] HELPERS = new Helper[THREADS - 1];

    private static synchronized Helper[] helpers() {
        for (int i = 0; i < HELPERS.length; i++) {
            if (HELPERS[i] == null) {
                HELPERS[i] = new Helper(i);
                HELPERS[i].start();
            }
        }
        return HELPERS;
    }

    /**
     * A helper thread: waits for a part (spinning up to {@link #SPIN_NANOS}, then parked), runs
     * it, and gives its permit back. {@code busy} is claimed by the caller that hands it a part;
     * a helper clears it before releasing its permit, so whoever holds an extra permit finds an
     * idle helper.
     */
    private static final class Helper extends Thread {
        final java.util.concurrent.atomic.AtomicBoolean busy = new java.util.concurrent.atomic.AtomicBoolean();
        volatile Runnable job;
        volatile boolean parked;

        Helper(int i) {
            super("rnn4j-cpu-" + i);
            setDaemon(true);
        }

        void hand(Runnable r) {
            job = r;
            if (parked) java.util.concurrent.locks.LockSupport.unpark(this);
        }

        @Override
        public void run() {
            INSIDE.get()[0] = true;   // a loop called from a part runs inline
            for (;;) {
                Runnable r;
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                while ((r = job) == null) {
                    if (System.nanoTime() < spinUntil) {
                        Thread.onSpinWait();
                        continue;
                    }
                    parked = true;
                    if (job == null) java.util.concurrent.locks.LockSupport.park(this);
                    parked = false;
                }
                job = null;
                try {
                    r.run();
                } catch (Throwable ignored) {
                    // the part records its own failure for the caller (see run below)
                } finally {
                    busy.set(false);
                    PERMITS.release();
                }
            }
        }
    }

    /**
     * Runs the loop on the caller and {@code parts - 1} helpers; the caller holds one permit and
     * {@code parts - 1} more, which the helpers release. The range is cut into aligned chunks that
     * every participant claims in turn until none is left (on a loaded machine the caller then
     * does the work of a helper that has not started yet instead of waiting for it); the caller
     * returns when every chunk is done, without waiting for a helper that claimed none.
     */
    private static void run(int n, int parts, int align, Body body) {
        int units = (n + align - 1) / align;
        int chunks = Math.min(units, parts * chunksPerThread);
        int per = (units + chunks - 1) / chunks * align;
        int total = (n + per - 1) / per;
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Runnable loop = () -> {
            for (int c; (c = next.getAndIncrement()) < total; ) {
                try {
                    int from = c * per;
                    if (failure.get() == null) body.run(from, Math.min(n, from + per));
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    done.incrementAndGet();
                }
            }
        };
        Helper[] hs = helpers();
        int handed = 0;
        for (int i = 0; i < hs.length && handed < parts - 1; i++) {
            if (hs[i].busy.compareAndSet(false, true)) {
                hs[i].hand(loop);
                handed++;
            }
        }
        // a permit whose helper was not found (cannot happen while helpers clear busy before
        // releasing their permit; kept so that a permit is never lost) goes back
        for (int i = handed; i < parts - 1; i++) PERMITS.release();
        loop.run();
        // the chunks still running are the helpers' own: spin briefly, then sleep in short naps
        for (int spins = 0; done.get() < total; spins++) {
            if (spins < 1 << 14) Thread.onSpinWait();
            else java.util.concurrent.locks.LockSupport.parkNanos(20_000);
        }
        Throwable f = failure.get();
        if (f instanceof RuntimeException e) throw e;
        if (f instanceof Error e) throw e;
        if (f != null) throw new IllegalStateException(f);
    }
}
