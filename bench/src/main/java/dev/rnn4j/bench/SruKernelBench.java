package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The SRU recurrence primitive alone ({@code sruForward}, K = 3, tanh, no c0 or mask): it reads
 * U (3 values per element) and x and writes h and c, 6 floats per element, so its effective
 * bandwidth is 24 * T*B*d bytes over its time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class SruKernelBench {
    @Param({"cpu"})
    public String backend;

    @Param({"35x32x910"})
    public String shape;

    private Device device;
    private Backend be;
    private DeviceBuffer u, x, bias, h, c, cLast;
    private Shape s;
    private final float[] one = new float[1];

    @Setup(Level.Trial)
    public void setUp() {
        s = Shape.parse(shape);
        device = Device.open(backend);
        be = DeviceAccess.backend(device);
        int n = Math.toIntExact(s.tokens() * s.width());
        SplittableRandom rnd = new SplittableRandom(3);
        u = upload(Shape.uniform(rnd, 3 * n, 2));
        x = upload(Shape.uniform(rnd, n, 1));
        bias = upload(Shape.uniform(rnd, 2 * s.width(), 1));
        h = be.allocate(n);
        c = be.allocate(n);
        cLast = be.allocate((long) s.batch() * s.width());
    }

    private DeviceBuffer upload(float[] a) {
        DeviceBuffer b = be.allocate(a.length);
        be.upload(a, 0, b, 0, a.length);
        return b;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (DeviceBuffer b : new DeviceBuffer[]{u, x, bias, h, c, cLast}) b.close();
        device.close();
    }

    @Benchmark
    public float sruForward() {
        be.run(Op.SruForward.builder(s.seqLen(), s.batch(), s.width(), 1, 3, Activation.TANH)
                .u(u, 0).x(x, 0).bias(bias, 0).h(h, 0).c(c, 0).cLast(cLast, 0).build());
        be.download(cLast, 0, one, 0, 1);
        return one[0];
    }

    /** Bytes the kernel must move: U (3 floats), x, h and c per element. */
    public static double bytes(Shape s) { return 24.0 * s.tokens() * s.width(); }
}
