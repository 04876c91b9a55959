package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.reference.ReferenceBackend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Identical data on the reference backend and on a backend under test: each primitive runs on
 * both and whole buffers are compared, so a write outside the documented outputs shows too.
 */
final class Twins implements AutoCloseable {
    final ReferenceBackend ref = new ReferenceBackend();
    final Backend dut;
    final SplittableRandom rnd;
    private final List<Pair> pairs = new ArrayList<>();
    private final long liveBefore;

    Twins(Backend dut, long seed) {
        this.dut = dut;
        this.rnd = new SplittableRandom(seed);
        this.liveBefore = dut.liveBuffers();
    }

    /** One array's worth of data on both backends. */
    final class Pair {
        final DeviceBuffer r, d;
        final int n;

        Pair(float[] data) {
            n = data.length;
            r = ref.allocate(n);
            d = dut.allocate(n);
            ref.upload(data, 0, r, 0, n);
            dut.upload(data, 0, d, 0, n);
        }

        DeviceBuffer on(Backend be) { return be == ref ? r : d; }

        float[] expected() { float[] a = new float[n]; ref.download(r, 0, a, 0, n); return a; }

        float[] actual() { float[] a = new float[n]; dut.download(d, 0, a, 0, n); return a; }
    }

    Pair pair(float[] data) {
        Pair p = new Pair(data);
        pairs.add(p);
        return p;
    }

    Pair rand(int n) { return pair(uniform(n, 1f)); }

    Pair filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return pair(a);
    }

    float[] uniform(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    /** Runs op on the reference, then on the backend under test. */
    void both(Consumer<Backend> op) {
        op.accept(ref);
        op.accept(dut);
    }

    /** Every element within atol + rtol * |expected| (equal bits, NaN included, always pass). */
    void assertClose(Pair p, double rtol, double atol, String what) {
        float[] e = p.expected(), g = p.actual();
        double[] tol = new double[e.length];
        for (int i = 0; i < e.length; i++) tol[i] = atol + rtol * Math.abs(e[i]);
        check(e, g, tol, what);
    }

    /** Every element within its own bound. */
    void assertWithin(Pair p, double[] tol, String what) { check(p.expected(), p.actual(), tol, what); }

    void assertExact(Pair p, String what) { assertClose(p, 0, 0, what); }

    private void check(float[] e, float[] g, double[] tol, String what) {
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(e[i]) == Float.floatToRawIntBits(g[i])) continue;
            double err = Math.abs((double) e[i] - g[i]);
            if (!(err <= tol[i]))
                fail(what + "[" + i + " of " + e.length + "]: reference " + e[i] + ", " + dut.name() + " " + g[i]
                        + ", |diff| " + err + " > " + tol[i]);
        }
    }

    /** Frees the pairs of the current case. */
    void release() {
        for (Pair p : pairs) {
            p.r.close();
            p.d.close();
        }
        pairs.clear();
    }

    @Override
    public void close() {
        release();
        assertEquals(0, ref.liveBuffers(), "reference buffers leaked");
        assertEquals(liveBefore, dut.liveBuffers(), dut.name() + " buffers leaked");
        ref.close();
    }
}
