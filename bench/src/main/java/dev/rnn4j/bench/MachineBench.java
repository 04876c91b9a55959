package dev.rnn4j.bench;

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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * The machine's limits, measured in the same run as the layers: SGEMM through OpenBLAS for the
 * layers' matrix shapes, and memory copy bandwidth (2 threads, each copying half of a 256 MiB
 * array, far larger than the caches).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class MachineBench {

    /** One SGEMM C (m x n) = A (m x k) B (k x n); "MxNxK". */
    @State(Scope.Benchmark)
    public static class Gemm {
        @Param({"1120x2730x910"})
        public String mnk;

        int m, n, k;
        Arena arena;
        MemorySegment a, b, c;

        @Setup(Level.Trial)
        public void setUp() {
            String[] p = mnk.split("x");
            m = Integer.parseInt(p[0]);
            n = Integer.parseInt(p[1]);
            k = Integer.parseInt(p[2]);
            arena = Arena.ofShared();
            a = fill(arena.allocate(4L * m * k, 64), 0.5f);
            b = fill(arena.allocate(4L * k * n, 64), 0.25f);
            c = arena.allocate(4L * m * n, 64);
        }

        private static MemorySegment fill(MemorySegment s, float v) {
            for (long i = 0; i < s.byteSize() / 4; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, v * ((i % 7) - 3));
            return s;
        }

        @TearDown(Level.Trial)
        public void tearDown() { arena.close(); }
    }

    @Benchmark
    public void sgemm(Gemm g) { Sgemm.multiply(g.m, g.n, g.k, g.a, g.b, g.c); }

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
