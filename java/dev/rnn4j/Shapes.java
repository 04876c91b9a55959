package dev.rnn4j;

import java.util.Arrays;

/** Shape arithmetic and validation shared by tensors and layers. */
public final class Shapes {
    private Shapes() {}

    /** Largest number of elements one tensor may hold (the reference backend stores a float[]). */
    public static final long MAX_NUMEL = Integer.MAX_VALUE - 8;

    /** Product of the dimensions; every dimension must be >= 0 and the product &lt;= MAX_NUMEL. */
    public static long numel(int... shape) {
        if (shape == null) throw new NullPointerException("shape is null");
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n *= d;
            if (n > MAX_NUMEL)
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than " + MAX_NUMEL + " elements");
        }
        return n;
    }

    /** The shape as PyTorch-like text, e.g. {@code [2, 3]}. */
    public static String str(int... shape) { return Arrays.toString(shape); }

    /** Throws IllegalArgumentException naming {@code what} unless t has exactly the expected shape. */
    public static void check(String what, Tensor t, int... expected) {
        if (t == null) throw new NullPointerException(what + " is null");
        if (!Arrays.equals(t.shape(), expected))
            throw new IllegalArgumentException(what + ": expected shape " + str(expected) + ", got " + str(t.shape()));
    }
}
