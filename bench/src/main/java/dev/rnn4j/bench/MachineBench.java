package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * The machine's limits, measured in the same run as the layers: SGEMM by the cpu backend's own
 * kernels (no BLAS) at the layers' matrix shapes, and memory copy bandwidth (2 threads, each copying half of a 256 MiB
 * array, far larger than the caches).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class MachineBench {

    /** One SGEMM C (m x n) = A (m x k) B (k x n) by the cpu backend's own kernels; "MxNxK". */
    @State(Scope.Benchmark)
    public static class Gemm {
        @Param({"1120x2730x910"})
        public String mnk;

        int m, n, k;
        Device device;
        Backend be;
        DeviceBuffer a, b, c;

        @Setup(Level.Trial)
        public void setUp() {
            String[] p = mnk.split("x");
            m = Integer.parseInt(p[0]);
            n = Integer.parseInt(p[1]);
            k = Integer.parseInt(p[2]);
            device = Device.open("cpu");
            be = DeviceAccess.backend(device);
            a = fill(be, m * k, 0.5f);
            b = fill(be, k * n, 0.25f);
            c = be.allocate((long) m * n);
        }

        private static DeviceBuffer fill(Backend be, int n, float v) {
            float[] h = new float[n];
            for (int i = 0; i < n; i++) h[i] = v * ((i % 7) - 3);
            DeviceBuffer d = be.allocate(n);
            be.upload(h, 0, d, 0, n);
            return d;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            a.close();
            b.close();
            c.close();
            device.close();
        }
    }

    @Benchmark
    public void sgemm(Gemm g) { g.be.gemm(false, false, g.m, g.n, g.k, 1f, g.a, 0, g.k, g.b, 0, g.n, 0f, g.c, 0, g.n, 1, 0, 0, 0); }

    /** Two 256 MiB arrays. */
    @State(Scope.Benchmark)
    public static class Copy {
        static final int N = 64 << 20;
        final float[] src = new float[N], dst = new float[N];

        @Setup(Level.Trial)
        public void setUp() { java.util.Arrays.fill(src, 1f); }
    }

    /** Copies 256 MiB with two threads; bandwidth = 2 * 256 MiB (read + write) / time. */
    @Benchmark
    public void copy(Copy s) throws InterruptedException {
        int half = Copy.N / 2;
        Thread t = Thread.ofPlatform().start(() -> System.arraycopy(s.src, half, s.dst, half, Copy.N - half));
        System.arraycopy(s.src, 0, s.dst, 0, half);
        t.join();
    }

    /** Bytes moved by {@link #copy}: read and written. */
    public static double copyBytes() { return 2.0 * 4 * Copy.N; }
}
