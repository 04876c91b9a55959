// Test event: one time step of a key (a float vector or a token id), a Flink POJO.
package dev.rnn4j.flink;

import java.util.Arrays;
import java.util.SplittableRandom;

public class Event {
    public int key;
    public int seq;
    public float[] vector;
    public int token;

    public Event() {}

    public Event(int key, int seq, float[] vector, int token) {
        this.key = key;
        this.seq = seq;
        this.vector = vector;
        this.token = token;
    }

    /** The deterministic event of (key, seq): vector elements in [-1, 1), token in [0, vocab). */
    static Event of(int key, int seq, int width, int vocab) {
        SplittableRandom r = new SplittableRandom(key * 1_000_003L + seq);
        float[] v = new float[width];
        for (int i = 0; i < width; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return new Event(key, seq, v, vocab > 0 ? r.nextInt(vocab) : 0);
    }

    @Override
    public String toString() { return "Event(" + key + ", " + seq + ", " + Arrays.toString(vector) + ", " + token + ")"; }
}
