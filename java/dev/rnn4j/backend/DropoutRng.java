package dev.rnn4j.backend;

/**
 * The counter-based generator behind every dropout mask. A mask element depends only on
 * (seed, index), so every backend (Java, OpenCL, CUDA) draws the same mask for the same seed
 * without sharing state. The kernels in {@code kernels/dropout_mask} implement exactly
 * {@link #bits(long, long)} with 32-bit unsigned arithmetic.
 *
 * <p>Construction: the 64-bit seed is split into two 32-bit keys; the element index (up to
 * 2^32-1 per mask) is mixed with them by two rounds of a 32-bit integer hash (the
 * "lowbias32" finaliser: xorshift-multiply, constants 0x7feb352d and 0x846ca68b).
 */
public final class DropoutRng {
    private DropoutRng() {}

    static int mix(int x) {
        x ^= x >>> 16;
        x *= 0x7feb352d;
        x ^= x >>> 15;
        x *= 0x846ca68b;
        x ^= x >>> 16;
        return x;
    }

    /** 32 random bits for element {@code index} of the mask drawn with {@code seed}. */
    public static int bits(long seed, long index) {
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        int i = (int) index;
        int a = mix(i ^ k0);
        return mix(a + k1 + 0x9e3779b9);
    }

    /** Uniform in [0, 1) with 24 bits: (bits >>> 8) * 2^-24. */
    public static float uniform(long seed, long index) {
        return (bits(seed, index) >>> 8) * 0x1.0p-24f;
    }

    /** Whether element {@code index} is kept under drop probability p: uniform >= p. */
    public static boolean keep(long seed, long index, float p) {
        return uniform(seed, index) >= p;
    }

    /** Derives the seed of the {@code n}-th mask of a stream from a base seed (splitmix64). */
    public static long stream(long baseSeed, long n) {
        long z = baseSeed + (n + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
