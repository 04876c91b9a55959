package dev.rnn4j.lm;

/**
 * Token ids laid out for truncated back-propagation through time, exactly as the SRU
 * language-model script does: with N ids and batch size B, L = ((N-1) div B) * B;
 * x = ids[0:L] and y = ids[1:L+1], each reshaped to B rows of L/B and transposed, so that
 * x[t][b] = ids[b*(L/B) + t] and y[t][b] = ids[b*(L/B) + t + 1]. Stored time-major, flat.
 */
public final class Batches {
    private final int steps, batch;
    private final int[] x, y;

    private Batches(int steps, int batch, int[] x, int[] y) {
        this.steps = steps;
        this.batch = batch;
        this.x = x;
        this.y = y;
    }

    public static Batches of(int[] ids, int batchSize) {
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        int n = ids.length;
        int len = n < 1 ? 0 : ((n - 1) / batchSize) * batchSize;
        if (len == 0)
            throw new IllegalArgumentException("text of " + n + " tokens is too short for batch size " + batchSize
                    + " (needs at least " + (batchSize + 1) + " tokens)");
        int steps = len / batchSize;
        int[] x = new int[len], y = new int[len];
        for (int b = 0; b < batchSize; b++)
            for (int t = 0; t < steps; t++) {
                x[t * batchSize + b] = ids[b * steps + t];
                y[t * batchSize + b] = ids[b * steps + t + 1];
            }
        return new Batches(steps, batchSize, x, y);
    }

    /** Number of time steps (L / B). */
    public int steps() { return steps; }

    public int batch() { return batch; }

    /** Number of target tokens (L). */
    public int tokens() { return x.length; }

    /** Inputs of steps [from, from+len) as a (len, B) time-major array. */
    public int[] x(int from, int len) { return slice(x, from, len); }

    /** Targets of steps [from, from+len), (len, B). */
    public int[] y(int from, int len) { return slice(y, from, len); }

    private int[] slice(int[] a, int from, int len) {
        if (from < 0 || len < 0 || len > steps - from)
            throw new IndexOutOfBoundsException("steps [" + from + ", " + ((long) from + len) + ") of " + steps);
        int[] out = new int[len * batch];
        System.arraycopy(a, from * batch, out, 0, out.length);
        return out;
    }
}
