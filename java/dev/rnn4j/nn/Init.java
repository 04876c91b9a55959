package dev.rnn4j.nn;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Whole-model initialisation rules. The values are drawn on the host (a one-off cost) and
 * uploaded, so every backend starts from the same numbers for the same seed.
 */
public final class Init {
    private Init() {}

    /**
     * The SRU language model's rule: every matrix parameter (dim &gt; 1) is drawn from
     * U(-sqrt(3/d), +sqrt(3/d)), so that E[w] = 0 and Var[w] = (sqrt(3/d))^2 / 3 = 1/d; every
     * vector (and scalar) parameter is set to zero. Parameters are visited in
     * {@link Module#namedParameters()} order (tied parameters once), all from one generator seeded
     * with {@code seed}, so the result is deterministic.
     *
     * @param d the model width the variance is aimed at (the language model's hidden size), &gt;= 1
     */
    public static void uniformMatricesZeroVectors(Module m, int d, long seed) {
        if (m == null) throw new NullPointerException("module is null");
        if (d < 1) throw new IllegalArgumentException("d must be >= 1, got " + d);
        m.checkOpen();
        double bound = Math.sqrt(3.0 / d);
        SplittableRandom rng = new SplittableRandom(seed);
        for (Parameter p : m.namedParameters().values()) {
            if (p.value().dim() > 1) fillUniform(p, bound, rng);
            else p.value().fill(0f);
        }
    }

    /**
     * PyTorch's default for the recurrent layers: every parameter from U(-bound, +bound), visited
     * in {@link Module#namedParameters()} order, row-major, all from one generator seeded with
     * {@code seed}.
     */
    static void uniformAll(Module m, double bound, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (Parameter p : m.namedParameters().values()) fillUniform(p, bound, rng);
    }

    /** Fills p with values from U(-bound, +bound), drawn row-major from rng. */
    static void fillUniform(Parameter p, double bound, SplittableRandom rng) {
        fill(p, () -> (2 * rng.nextDouble() - 1) * bound);
    }

    /** Values drawn on the host per upload chunk; bounds the host memory an initialisation needs. */
    private static final int CHUNK = 1 << 16;

    /** Fills p row-major with successive values of {@code next} (rounded to float), uploading chunk by chunk. */
    static void fill(Parameter p, DoubleSupplier next) {
        Tensor v = p.value();
        Backend be = DeviceAccess.backend(v);
        long n = v.numel();
        float[] chunk = new float[(int) Math.min(n, CHUNK)];
        for (long done = 0; done < n; ) {
            int count = (int) Math.min(chunk.length, n - done);
            for (int i = 0; i < count; i++) chunk[i] = (float) next.getAsDouble();
            be.upload(chunk, 0, DeviceAccess.buffer(v), done, count);
            done += count;
        }
    }
}
