package dev.rnn4j.backend.cpu;

/**
 * Float activations for the {@code cpu} backend, written so that the JIT compiler vectorises the
 * loops that call them: only multiplications, additions, one division, min and max (no
 * {@code Math.exp}, no bit casts, neither of which C2 vectorises).
 *
 * <p>{@link #tanh} is a rational function tanh(x) = x P(x^2) / Q(x^2) of degree 4 over 4 in
 * x^2, fitted for this project to tanh's relative error on [0, 9] (weighted least squares
 * iterated to near minimax) and clamped there: in float arithmetic its relative error is below
 * 4e-7 over the whole line, and |tanh| never exceeds 1 (tanh(9) rounds to 1 in float).
 * {@link #sigmoid} is 1/2 + tanh(x/2)/2, so its error is absolute (below 2e-7): for very
 * negative x it returns values near 0 with a small absolute, not relative, error.
 *
 * <p>C2 (JDK 25) vectorises a loop that evaluates one of these over arrays indexed alike, but
 * not a loop that evaluates two or more, nor one whose store and loads sit at different offsets
 * (it then runs scalar, 6 to 30 times slower per element): the array helpers below apply one
 * activation per loop, and the backend's kernels are sequences of such loops over scratch rows.
 */
final class FastMath {
    private FastMath() {}

    // package-private: VectorRecurrence evaluates the same rational function on vectors
    static final float P0 = 1.0f, P1 = 0.1338113397359848f, P2 = 0.0034957160241901875f,
            P3 = 2.061116902041249e-05f, P4 = 1.3357518646728295e-08f;
    static final float Q0 = 1.0f, Q1 = 0.4671444892883301f, Q2 = 0.025877470150589943f,
            Q3 = 0.00032858431222848594f, Q4 = 7.777734936098568e-07f;
    static final float CLAMP = 9f;

    static float tanh(float x) {
        float v = Math.max(-CLAMP, Math.min(CLAMP, x));
        float s = v * v;
        float p = (((P4 * s + P3) * s + P2) * s + P1) * s + P0;
        float q = (((Q4 * s + Q3) * s + Q2) * s + Q1) * s + Q0;
        float y = v * p / q;
        return Math.max(-1f, Math.min(1f, y));
    }

    static float sigmoid(float x) { return 0.5f + 0.5f * tanh(0.5f * x); }

    /** a[off + i] = sigmoid(a[off + i]) for i in [0, n). */
    static void sigmoidInPlace(float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) a[i] = sigmoid(a[i]);
    }

    /** a[off + i] = tanh(a[off + i]) for i in [0, n). */
    static void tanhInPlace(float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) a[i] = tanh(a[i]);
    }

    /** dst[i] = tanh(src[i]) for i in [0, n) (same index on both: see CpuBackend's row scratch). */
    static void tanhTo(float[] src, float[] dst, int n) {
        for (int i = 0; i < n; i++) dst[i] = tanh(src[i]);
    }

    /** a[i] = sigmoid(a[i] + bias[i]) for i in [0, n). */
    static void sigmoidPlus(float[] a, float[] bias, int n) {
        for (int i = 0; i < n; i++) a[i] = sigmoid(a[i] + bias[i]);
    }
}
