package dev.rnn4j.backend;

import dev.rnn4j.Device;
import dev.rnn4j.Outcomes;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A seeded storm of random, mostly invalid calls straight to the backend SPI (the layer below
 * every argument check of the public API): random sizes, offsets, leading dimensions and
 * strides (negative, zero, past the end, overflowing), buffers of another backend, closed
 * buffers and nulls. Every call must return or throw a documented exception (see
 * {@link Outcomes}); afterwards no buffer may be left open and the device must still compute
 * an LSTM exactly as before the storm.
 *
 * <p>Sizes are drawn so that every call the checks accept is bounded by the small buffers of
 * the pool (leading dimensions at least the row width, batch strides at least 1): the test is
 * about validation, not about long-running valid work.
 */
class BackendStormTest {
    static final int CALLS = 20000;
    static final long SEED = 0x5EED_57A7_2026L;

    private static final int[] INTS = {0, 1, 2, 3, 4, 5, 7, 8, 16, 33, 64, 257, -1, -2, -7,
            Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE - 8, 1 << 16, 1 << 20, 1 << 30};
    private static final long[] LONGS = {0, 1, 2, 3, 5, 16, 64, 255, 256, 257, -1, -3,
            Integer.MAX_VALUE, Integer.MIN_VALUE, 1L << 32, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE / 2};

    private SplittableRandom rng;
    private Backend be;
    private final List<DeviceBuffer> pool = new ArrayList<>();
    private DeviceBuffer foreign, closed;

    /** Small sizes most of the time, anything from the vocabulary otherwise. */
    private int anInt() { return rng.nextInt(4) == 0 ? INTS[rng.nextInt(INTS.length)] : rng.nextInt(0, 20); }

    private long aLong() { return rng.nextInt(4) == 0 ? LONGS[rng.nextInt(LONGS.length)] : rng.nextInt(0, 300); }

    /** A leading dimension: at least the row width (or a negative/huge one), so accepted calls stay small. */
    private int ld(int cols) {
        int v = anInt();
        return v >= 0 && v < cols ? cols : v;
    }

    private long stride() {
        long v = aLong();
        return v == 0 ? 1 : v;
    }

    private DeviceBuffer buf() {
        int r = rng.nextInt(100);
        if (r < 3) return null;
        if (r < 6) return foreign;
        if (r < 9) return closed;
        return pool.get(rng.nextInt(pool.size()));
    }

    private DeviceBuffer optBuf() { return rng.nextInt(5) == 0 ? null : buf(); }

    private Activation act() { return rng.nextInt(30) == 0 ? null : Activation.values()[rng.nextInt(3)]; }

    private float[] floats() {
        int r = rng.nextInt(20);
        return r == 0 ? null : new float[rng.nextInt(0, 300)];
    }

    private int[] ids(int n, int bound) {
        if (rng.nextInt(20) == 0) return null;
        int[] a = new int[Math.max(0, Math.min(n < 0 ? 8 : n, 300)) + rng.nextInt(3)];
        for (int i = 0; i < a.length; i++) a[i] = rng.nextInt(15) == 0 ? anInt() : rng.nextInt(Math.max(1, bound));
        return a;
    }

    /** One random primitive call. */
    private final List<Consumer<Backend>> calls = List.of(
            b -> b.allocate(rng.nextInt(8) == 0 ? aLong() : rng.nextInt(0, 64)).close(),
            b -> b.upload(floats(), anInt(), buf(), aLong(), anInt()),
            b -> b.download(buf(), aLong(), floats(), anInt(), anInt()),
            b -> b.copy(buf(), aLong(), buf(), aLong(), aLong()),
            b -> { int cols = anInt(); b.copy2d(anInt(), cols, buf(), aLong(), ld(cols), buf(), aLong(), ld(cols)); },
            b -> b.fill(buf(), aLong(), aLong(), 1.5f),
            b -> {
                boolean ta = rng.nextBoolean(), tb = rng.nextBoolean();
                int m = anInt(), n = anInt(), k = anInt();
                b.gemm(ta, tb, m, n, k, 1f, buf(), aLong(), ld(ta ? m : k), buf(), aLong(), ld(tb ? k : n),
                        rng.nextBoolean() ? 0f : 1f, buf(), aLong(), ld(n), rng.nextInt(0, 4) == 0 ? anInt() : 1, stride(), stride(), stride());
            },
            b -> b.axpy(aLong(), 2f, buf(), aLong(), buf(), aLong()),
            b -> b.scale(aLong(), 2f, buf(), aLong()),
            b -> b.mul(aLong(), buf(), aLong(), buf(), aLong(), buf(), aLong()),
            b -> b.mulRows(anInt(), anInt(), buf(), aLong(), buf(), aLong(), buf(), aLong()),
            b -> { int cols = anInt(); b.addRowVector(anInt(), cols, buf(), aLong(), buf(), aLong(), ld(cols)); },
            b -> { int cols = anInt(); b.sumRows(anInt(), cols, buf(), aLong(), ld(cols), 1f, buf(), aLong()); },
            b -> b.sumSquares(aLong(), buf(), aLong()),
            b -> b.dropoutMask(aLong(), rng.nextInt(10) == 0 ? (rng.nextBoolean() ? 1f : Float.NaN) : 0.25f, rng.nextLong(), buf(), aLong()),
            b -> b.rnnPointwiseForward(act(), anInt(), buf(), aLong(), buf(), aLong()),
            b -> b.rnnPointwiseBackward(act(), anInt(), buf(), aLong(), buf(), aLong(), buf(), aLong()),
            b -> b.lstmPointwiseForward(anInt(), anInt(), buf(), aLong(), buf(), aLong(), buf(), aLong(), buf(), aLong()),
            b -> b.lstmPointwiseBackward(anInt(), anInt(), buf(), aLong(), buf(), aLong(), buf(), aLong(), buf(), aLong(),
                    optBuf(), aLong(), buf(), aLong(), buf(), aLong()),
            b -> b.gruPointwiseForward(anInt(), anInt(), buf(), aLong(), buf(), aLong(), optBuf(), aLong(), buf(), aLong(),
                    buf(), aLong(), buf(), aLong()),
            b -> b.gruPointwiseBackward(anInt(), anInt(), buf(), aLong(), buf(), aLong(), buf(), aLong(), buf(), aLong(),
                    buf(), aLong(), buf(), aLong()),
            b -> SruCalls.forward(b, anInt(), anInt(), anInt(), rng.nextInt(8) == 0 ? anInt() : 1 + rng.nextInt(2),
                    rng.nextInt(8) == 0 ? anInt() : 3 + rng.nextInt(2), act(),
                    buf(), aLong(), optBuf(), aLong(), buf(), aLong(), optBuf(), aLong(), optBuf(), aLong(),
                    buf(), aLong(), buf(), aLong(), buf(), aLong()),
            b -> SruCalls.backward(b, anInt(), anInt(), anInt(), rng.nextInt(8) == 0 ? anInt() : 1 + rng.nextInt(2),
                    rng.nextInt(8) == 0 ? anInt() : 3 + rng.nextInt(2), act(),
                    buf(), aLong(), optBuf(), aLong(), buf(), aLong(), optBuf(), aLong(), optBuf(), aLong(),
                    buf(), aLong(), buf(), aLong(), optBuf(), aLong(), buf(), aLong(), optBuf(), aLong(),
                    buf(), aLong(), buf(), aLong()),
            b -> { int n = anInt(), dim = anInt(); b.embeddingForward(ids(n, 20), anInt(), n, dim, buf(), aLong(), buf(), aLong()); },
            b -> { int n = anInt(), dim = anInt(); b.embeddingBackward(ids(n, 20), anInt(), n, dim, buf(), aLong(), buf(), aLong()); },
            b -> { int rows = anInt(), classes = anInt();
                   b.logSoftmaxNll(rows, classes, buf(), aLong(), ids(rows, classes), anInt(), 1f, optBuf(), aLong()); });

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    void everyCallReturnsOrThrowsADocumentedException(String backend) {
        try (Device dev = Outcomes.open(backend); Device other = Device.reference()) {
            be = DeviceAccess.backend(dev);
            rng = new SplittableRandom(SEED ^ backend.hashCode());
            float[] before = Outcomes.lstmOutput(dev);
            long base = be.liveBuffers(), otherBase = DeviceAccess.backend(other).liveBuffers();

            for (int size : new int[] {0, 1, 5, 16, 64, 257}) pool.add(be.allocate(size));
            foreign = DeviceAccess.backend(other).allocate(64);
            closed = be.allocate(16);
            closed.close();
            Outcomes out = new Outcomes();
            for (int i = 0; i < CALLS; i++) {
                int which = rng.nextInt(calls.size());
                out.run(backend + " call " + i + " (primitive #" + which + ")", () -> calls.get(which).accept(be));
            }
            System.out.println("backend storm on " + backend + ": " + out);
            assertTrue(out.count("returned") > CALLS / 20, "some calls must be valid and run: " + out);
            assertTrue(out.count("IndexOutOfBoundsException") > CALLS / 20, out.toString());
            assertTrue(out.count("IllegalArgumentException") > CALLS / 20, out.toString());

            for (DeviceBuffer b : pool) b.close();
            foreign.close();
            assertEquals(base, be.liveBuffers(), "buffers left open on " + backend);
            assertEquals(otherBase, DeviceAccess.backend(other).liveBuffers());
            assertArrayEquals(before, Outcomes.lstmOutput(dev), "the device computes as before the storm");
        } finally {
            pool.clear();
        }
    }
}
