package dev.rnn4j.bench;

import java.util.SplittableRandom;

/** A benchmark shape "T x B x d" (sequence length, batch, input = hidden width), as JMH params spell it. */
public record Shape(int seqLen, int batch, int width) {
    /** The four shapes of the suite, in the order the report lists them. */
    public static final String[] ALL = {"35x32x910", "32x32x256", "128x32x512", "35x1x910"};

    public static Shape parse(String s) {
        String[] p = s.split("x");
        if (p.length != 3) throw new IllegalArgumentException("shape must be TxBxd, got " + s);
        return new Shape(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
    }

    /** Tokens (time steps times sequences) per call. */
    public long tokens() { return (long) seqLen * batch; }

    @Override
    public String toString() { return seqLen + "x" + batch + "x" + width; }

    static float[] uniform(SplittableRandom rnd, int n, double bound) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
        return a;
    }
}
