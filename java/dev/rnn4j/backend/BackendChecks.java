package dev.rnn4j.backend;

/**
 * The host-side argument checks every backend runs before it touches memory, so that a bad call
 * to a {@link Backend} primitive fails with a documented exception and changes nothing:
 *
 * <ul>
 *   <li>{@link NullPointerException} naming the argument, for a null required argument;</li>
 *   <li>{@link IllegalArgumentException} for a negative size, a size whose product overflows, or
 *       a value outside its domain (an SRU k other than 3 or 4, a dropout p outside [0, 1));</li>
 *   <li>{@link IndexOutOfBoundsException} naming the call and the argument when an element the
 *       call would read or write lies outside its buffer or host array.</li>
 * </ul>
 *
 * Ownership and liveness of buffers (a buffer of another backend: IllegalArgumentException; a
 * closed buffer or backend: IllegalStateException) are checked by each backend, which knows its
 * own buffer type. Zero-sized ranges are always in bounds, whatever the offset within [0, size].
 */
public final class BackendChecks {
    private BackendChecks() {}

    /** Throws {@link NullPointerException} "{@code what} is null" if {@code o} is null; returns {@code o}. */
    public static <T> T notNull(T o, String what) {
        if (o == null) throw new NullPointerException(what + " is null");
        return o;
    }

    /** Sizes must be >= 0; {@code names} and {@code values} pair up. */
    public static void nonNegative(String call, String names, long... values) {
        for (long v : values)
            if (v < 0) throw new IllegalArgumentException(call + ": negative size (" + names + ") = " + join(values));
    }

    /** The exact product of non-negative factors; IllegalArgumentException naming {@code call} if it overflows a long. */
    public static long product(String call, long... factors) {
        long p = 1;
        for (long f : factors) {
            if (f < 0) throw new IllegalArgumentException(call + ": negative size in " + join(factors));
            try {
                p = Math.multiplyExact(p, f);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(call + ": sizes " + join(factors) + " overflow");
            }
        }
        return p;
    }

    /** Elements [off, off + count) must lie inside [0, size). */
    public static void range(String what, long size, long off, long count) {
        if (count < 0) throw new IllegalArgumentException(what + ": negative element count " + count);
        if (off < 0 || off > size || count > size - off)
            throw new IndexOutOfBoundsException(what + ": elements [" + off + ", " + plus(off, count)
                    + ") outside a buffer of " + size);
    }

    /**
     * A (rows x cols) matrix with leading dimension ld, repeated batch times at the given stride,
     * starting at off: every element it covers must lie inside [0, size). Empty matrices (a zero
     * size) cover nothing.
     */
    public static void matrix(String what, long size, long off, long rows, long cols, long ld, long batch, long stride) {
        if (rows < 0 || cols < 0 || batch < 0)
            throw new IllegalArgumentException(what + ": negative size rows=" + rows + " cols=" + cols + " batch=" + batch);
        if (rows == 0 || cols == 0 || batch == 0) return;
        if (ld < 0 || stride < 0)
            throw new IllegalArgumentException(what + ": negative leading dimension " + ld + " or stride " + stride);
        long last;
        try {
            last = Math.addExact(Math.addExact(Math.multiplyExact(batch - 1, stride), Math.multiplyExact(rows - 1, ld)), cols - 1);
            last = Math.addExact(off, last);
        } catch (ArithmeticException e) {
            throw new IndexOutOfBoundsException(what + ": matrix extent overflows (" + rows + "x" + cols + ", ld " + ld
                    + ", batch " + batch + ", stride " + stride + ", offset " + off + ")");
        }
        if (off < 0 || last >= size)
            throw new IndexOutOfBoundsException(what + ": " + rows + "x" + cols + " (ld " + ld + ", batch " + batch + ", stride " + stride
                    + ") at offset " + off + " reaches element " + last + " of a buffer of " + size);
    }

    /** Host float array: non-null, and [off, off + n) inside it. */
    public static void array(String what, float[] a, int off, int n) {
        notNull(a, what + " array");
        arrayRange(what, a.length, off, n);
    }

    /** Host int array: non-null, and [off, off + n) inside it. */
    public static void array(String what, int[] a, int off, int n) {
        notNull(a, what + " array");
        arrayRange(what, a.length, off, n);
    }

    private static void arrayRange(String what, int length, int off, int n) {
        if (n < 0) throw new IllegalArgumentException(what + ": negative element count " + n);
        if (off < 0 || off > length - n)
            throw new IndexOutOfBoundsException(what + ": [" + off + ", " + ((long) off + n) + ") outside an array of " + length);
    }

    /** Every id in ids[off, off + n) must lie in [0, rows). */
    public static void ids(String what, int[] ids, int off, int n, long rows) {
        for (int i = 0; i < n; i++) {
            int id = ids[off + i];
            if (id < 0 || id >= rows)
                throw new IndexOutOfBoundsException(what + ": id " + id + " at position " + i + " outside [0, " + rows + ")");
        }
    }

    /** Number of whole rows of width dim in a buffer of {@code size} elements from {@code off} on (unbounded when dim is 0). */
    public static long rowsOf(long size, long off, int dim) { return dim == 0 ? Long.MAX_VALUE : (size - off) / dim; }

    /** Dropout probability: 0 <= p < 1 (NaN rejected). */
    public static void dropoutP(float p) {
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
    }

    /** SRU geometry: k is 3 or 4, dirs 1 or 2, sizes non-negative. */
    public static void sru(String call, int seqLen, int batch, int hidden, int dirs, int k) {
        if (k != 3 && k != 4) throw new IllegalArgumentException(call + ": SRU k must be 3 or 4, got " + k);
        if (dirs != 1 && dirs != 2) throw new IllegalArgumentException(call + ": dirs must be 1 or 2, got " + dirs);
        if (seqLen < 0 || batch < 0 || hidden < 0)
            throw new IllegalArgumentException(call + ": negative size seqLen=" + seqLen + " batch=" + batch + " hidden=" + hidden);
    }

    private static String plus(long a, long b) {
        long s = a + b;
        return ((a ^ s) & (b ^ s)) < 0 ? "overflow" : Long.toString(s);
    }

    private static String join(long... values) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < values.length; i++) sb.append(i == 0 ? "" : ", ").append(values[i]);
        return sb.append(')').toString();
    }
}
