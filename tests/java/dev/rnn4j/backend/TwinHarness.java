package dev.rnn4j.backend;

import dev.rnn4j.backend.reference.ReferenceBackend;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the same primitive on the reference backend and on a backend under test over identical inputs and
 * compares whole buffers (so writes outside the documented outputs are caught too).
 */
public final class TwinHarness implements AutoCloseable {
    public final ReferenceBackend ref = new ReferenceBackend();
    public final Backend fast;
    /** How failure messages name the backend under test ("cpu", "opencl"). */
    private final String label;
    /** How the leak check names the backend under test ("cpu", "OpenCL"). */
    private final String leakLabel;
    public final SplittableRandom rnd;
    private final List<Twin> twins = new ArrayList<>();
    private final long fastLiveBefore;

    public TwinHarness(Backend fast, long seed, String label, String leakLabel) {
        this.fast = fast;
        this.label = label;
        this.leakLabel = leakLabel;
        this.rnd = new SplittableRandom(seed);
        this.fastLiveBefore = fast.liveBuffers();
    }

    /** One array's worth of data living on both backends. */
    public final class Twin implements AutoCloseable {
        public final DeviceBuffer r, o;
        final int n;

        Twin(float[] data) {
            n = data.length;
            r = ref.allocate(n);
            o = fast.allocate(n);
            ref.upload(data, 0, r, 0, n);
            fast.upload(data, 0, o, 0, n);
        }

        public DeviceBuffer on(Backend be) { return be == ref ? r : o; }

        public float[] refData() { float[] a = new float[n]; ref.download(r, 0, a, 0, n); return a; }

        public float[] fastData() { float[] a = new float[n]; fast.download(o, 0, a, 0, n); return a; }

        @Override public void close() { r.close(); o.close(); }
    }

    public Twin twin(float[] data) {
        Twin t = new Twin(data);
        twins.add(t);
        return t;
    }

    public Twin rand(int n) { return twin(uniform(n, 1f)); }

    public Twin filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return twin(a);
    }

    public float[] uniform(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    /** Runs op on the reference backend, then on the backend under test. */
    public void both(Consumer<Backend> op) {
        op.accept(ref);
        try {
            op.accept(fast);
        } catch (UnsupportedOperationException e) {
            // An op the backend declares unsupported is reported as an aborted test, never as a pass.
            throw new org.opentest4j.TestAbortedException(label + ": " + e.getMessage(), e);
        }
    }

    /** Every element within atol + rtol*|reference| (identical bits, NaN included, always pass). */
    public void assertClose(Twin t, double rtol, double atol, String what) {
        float[] e = t.refData(), g = t.fastData();
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(e[i]) == Float.floatToRawIntBits(g[i])) continue;
            double err = Math.abs((double) e[i] - g[i]);
            if (!(err <= atol + rtol * Math.abs(e[i])))
                fail(what + "[" + i + " of " + e.length + "]: reference " + e[i] + ", " + label + " " + g[i] + ", |diff| " + err
                        + " > " + (atol + rtol * Math.abs(e[i])));
        }
    }

    /** Every element within its own bound tol[i]. */
    public void assertWithin(Twin t, double[] tol, String what) {
        float[] e = t.refData(), g = t.fastData();
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(e[i]) == Float.floatToRawIntBits(g[i])) continue;
            double err = Math.abs((double) e[i] - g[i]);
            if (!(err <= tol[i]))
                fail(what + "[" + i + " of " + e.length + "]: reference " + e[i] + ", " + label + " " + g[i] + ", |diff| " + err + " > " + tol[i]);
        }
    }

    public void assertExact(Twin t, String what) { assertClose(t, 0, 0, what); }

    /** Frees the twins of the current case (between cases of one test). */
    public void release() {
        for (Twin t : twins) t.close();
        twins.clear();
    }

    @Override
    public void close() {
        release();
        assertEquals(0, ref.liveBuffers(), "reference buffers leaked");
        assertEquals(fastLiveBefore, fast.liveBuffers(), leakLabel + " buffers leaked");
        ref.close();
    }
}
