// The example's synthetic per-user event streams: a Markov chain of web-shop event types, with a
// small share of injected out-of-pattern events (the anomalies the GRU should score high).
package dev.rnn4j.flink.example;

import java.io.Serializable;
import java.util.SplittableRandom;

/** Per-user sequences of event types; {@code injected[u][t]} says which events were made anomalous. */
public final class UserEvents implements Serializable {
    public static final String[] TYPES = {"login", "browse", "search", "view", "cart", "pay", "logout", "support"};
    public static final int V = TYPES.length;
    /** Likely next types of each type, with their probabilities (the rest of the mass is none). */
    private static final int[][] NEXT = {{1, 2}, {3, 2, 6}, {3, 1}, {4, 1, 6}, {5, 3}, {6, 1}, {0}, {1}};
    private static final double[][] P = {{0.7, 0.3}, {0.6, 0.3, 0.1}, {0.8, 0.2}, {0.4, 0.4, 0.2}, {0.7, 0.3}, {0.8, 0.2}, {1.0}, {1.0}};

    public final int[][] types;
    public final boolean[][] injected;

    /** {@code users} sequences of {@code length} events, seeded; each event is replaced by an off-pattern type with probability {@code anomalyRate}. */
    public UserEvents(int users, int length, double anomalyRate, long seed) {
        types = new int[users][length];
        injected = new boolean[users][length];
        for (int u = 0; u < users; u++) {
            SplittableRandom r = new SplittableRandom(seed * 7_919L + u);
            int cur = 0;
            for (int t = 0; t < length; t++) {
                if (t > 0) {
                    if (r.nextDouble() < anomalyRate) {
                        int bad;
                        do bad = r.nextInt(V); while (likely(cur, bad));
                        cur = bad;
                        injected[u][t] = true;
                    } else {
                        cur = sample(cur, r);
                    }
                }
                types[u][t] = cur;
            }
        }
    }

    private static boolean likely(int from, int to) {
        for (int n : NEXT[from]) if (n == to) return true;
        return false;
    }

    private static int sample(int from, SplittableRandom r) {
        double x = r.nextDouble(), acc = 0;
        for (int i = 0; i < NEXT[from].length; i++) {
            acc += P[from][i];
            if (x < acc) return NEXT[from][i];
        }
        return NEXT[from][NEXT[from].length - 1];
    }
}
