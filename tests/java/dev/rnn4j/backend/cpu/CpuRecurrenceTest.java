package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The cpu backend's whole forward recurrence (W_hh packed and cached for the NT tile where it
 * is small enough, in column panels for skinny steps of 1 to 4 rows, the pointwise steps on
 * explicit vectors: {@link VectorRecurrence}) against the same op run as its per-step sequence
 * of the backend's own gemm and pointwise kernels: bit for bit wherever every step has at least
 * 2 rows; at batch 1, where the per-step dot kernel sums in another order, against the first
 * copy of a batch of two identical sequences (a 1-row step inside a larger call uses the NT
 * tile too; the parity suite covers those against the reference); with W_hh packed (hidden 16
 * to 129) and read in place (2400 x 600 floats). The cached packing follows every write to
 * W_hh. Also the op record's checks.
 */
class CpuRecurrenceTest {
    private final CpuBackend be = CpuTestSupport.backend();

    private DeviceBuffer buf(float[] a) {
        DeviceBuffer b = be.allocate(a.length);
        be.upload(a, 0, b, 0, a.length);
        return b;
    }

    private float[] get(DeviceBuffer b) {
        float[] a = new float[(int) b.size()];
        be.download(b, 0, a, 0, a.length);
        return a;
    }

    private static float[] uniform(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    /** The op's outputs gx, h, c, saved after running it fused (the backend's op) or as its per-step sequence. */
    private float[][] run(Op.RecurrentForward.Cell cell, int B, int H, int[] rows, boolean reverse, float[] gx, DeviceBuffer W,
                          float[] bias, float[] h, float[] c, float[] sv, boolean fused) {
        boolean lstm = cell.hasCellState(), gru = cell.savedWidth() > 0;
        try (DeviceBuffer G = buf(gx); DeviceBuffer BH = buf(bias); DeviceBuffer Hs = buf(h);
             DeviceBuffer Cs = buf(c); DeviceBuffer SV = buf(sv)) {
            Op.RecurrentForward op = new Op.RecurrentForward(cell, B, H, rows, reverse, G, 0, W, 0, gru ? BH : null, 0,
                    Hs, 0, lstm ? Cs : null, 0, gru ? SV : null, 0);
            if (fused) be.run(op);
            else op.runPerStep(be);
            return new float[][]{get(G), get(Hs), get(Cs), get(SV)};
        }
    }

    /** Every row of a (rows x width) array twice in a row: a batch of one as the same sequence twice. */
    private static float[] twice(float[] a, int width) {
        float[] d = new float[2 * a.length];
        for (int r = 0; r < a.length / width; r++) {
            System.arraycopy(a, r * width, d, 2 * r * width, width);
            System.arraycopy(a, r * width, d, (2 * r + 1) * width, width);
        }
        return d;
    }

    /** The even rows of a (2 rows x width) array: the first copy of a doubled batch. */
    private static float[] firstCopy(float[] a, int width) {
        float[] d = new float[a.length / 2];
        for (int r = 0; r < d.length / width; r++) System.arraycopy(a, 2 * r * width, d, r * width, width);
        return d;
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.nn.Cells#fused")
    void fusedEqualsPerStepBitForBit(Op.RecurrentForward.Cell cell) {
        SplittableRandom rnd = new SplittableRandom(dev.rnn4j.nn.Cells.fused().indexOf(cell) + 7);
        // rows per step chosen to hit every tile height (6/8, 2, 1 left over), a partial last panel,
        // skinny steps (2 to 4 rows: column panels) and the in-place NT product (2400 x 600)
        int[][] shapes = {{3, 32, 70}, {4, 13, 129}, {2, 7, 16}, {3, 35, 33}, {3, 1, 37}, {2, 4, 600}, {4, 3, 33},
                {3, 2, 16}, {5, 9, 600}};
        for (int[] s : shapes)
            for (boolean reverse : new boolean[]{false, true}) {
                int T = s[0], B = s[1], H = s[2], gh = cell.gates() * H;
                int[] rows = new int[T];
                for (int t = 0; t < T; t++) rows[t] = t == 0 || B == 1 ? B : Math.max(2, rows[t - 1] - rnd.nextInt(5));
                int n = 0;
                for (int r : rows) n += r;
                float[] gx = uniform(rnd, n * gh, 2), w = uniform(rnd, gh * H, 1.5 / Math.sqrt(H)), bias = uniform(rnd, gh, 1);
                float[] h = uniform(rnd, (T + 1) * B * H, 1), c = uniform(rnd, (T + 1) * B * H, 1), sv = uniform(rnd, 4 * n * H, 1);
                try (DeviceBuffer W = buf(w)) {
                    // two calls over one W_hh: a short call of 2 or more rows packs W_hh on the second
                    float[][] first = run(cell, B, H, rows, reverse, gx, W, bias, h, c, sv, true);
                    float[][] second = run(cell, B, H, rows, reverse, gx, W, bias, h, c, sv, true);
                    float[][] steps = run(cell, B, H, rows, reverse, gx, W, bias, h, c, sv, false), packed = steps;
                    if (B == 1) {
                        // at batch 1 every product is the NT kernel's arithmetic too (W_hh packed), so
                        // the op equals the first copy of a batch of two identical sequences
                        int[] rows2 = new int[T];
                        java.util.Arrays.fill(rows2, 2);
                        float[][] two = run(cell, 2, H, rows2, reverse, twice(gx, gh), W, bias, twice(h, H), twice(c, H),
                                twice(sv, 4 * H), false);
                        packed = new float[][]{firstCopy(two[0], gh), firstCopy(two[1], H), firstCopy(two[2], H), firstCopy(two[3], 4 * H)};
                    }
                    String what = cell + " T=" + T + " B=" + B + " H=" + H + " reverse=" + reverse;
                    String[] names = {" gx", " h", " c", " saved"};
                    for (int i = 0; i < 4; i++) {
                        assertArrayEquals(steps[i], first[i], what + names[i] + ", first call");
                        assertArrayEquals(steps[i], second[i], what + names[i] + ", second call");
                        assertArrayEquals(packed[i], steps[i], what + names[i] + ", as in a batch of two");
                    }
                }
            }
    }

    /**
     * W_hh's packing is cached on its buffer: later calls reuse it (same results), and any write
     * to the buffer (an upload, a fill, an op's output) makes the next calls pack again from the
     * new values, exactly as on a fresh buffer holding them. Skinny calls this short (4 steps)
     * pack on the second call that finds W_hh unchanged, so each check makes two calls.
     */
    @Test
    void cachedPackingFollowsEveryWrite() {
        var cell = dev.rnn4j.nn.Cells.LSTM;
        SplittableRandom rnd = new SplittableRandom(3);
        for (int B : new int[]{1, 3, 8}) {
            int T = 4, H = 24, gh = 4 * H;
            int[] rows = new int[T];
            java.util.Arrays.fill(rows, B);
            float[] gx = uniform(rnd, T * B * gh, 2), w1 = uniform(rnd, gh * H, 0.3), w2 = uniform(rnd, gh * H, 0.3);
            float[] h = uniform(rnd, (T + 1) * B * H, 1), c = uniform(rnd, (T + 1) * B * H, 1);
            try (DeviceBuffer W = buf(w1)) {
                float[][] first = twoCalls(cell, B, H, rows, gx, W, h, c);
                assertArrayEquals(first[1], twoCalls(cell, B, H, rows, gx, W, h, c)[1], "B=" + B + ": the cached packing again");
                be.upload(w2, 0, W, 0, w2.length);
                assertTwoCallsAsFresh(cell, B, H, rows, gx, W, w2, h, c, "B=" + B + " after an upload");
                be.fill(W, 0, w2.length, 0f);
                float[] now = new float[w2.length];
                assertTwoCallsAsFresh(cell, B, H, rows, gx, W, now, h, c, "B=" + B + " after a fill");
                // an op writing part of W: W[5H, 5H + 4H) = w1[0, 4H) copied from another buffer
                try (DeviceBuffer D = buf(w1)) {
                    be.copy(D, 0, W, 5L * H, gh);
                }
                System.arraycopy(w1, 0, now, 5 * H, gh);
                assertTwoCallsAsFresh(cell, B, H, rows, gx, W, now, h, c, "B=" + B + " after a copy into part of it");
            }
        }
    }

    private void assertTwoCallsAsFresh(Op.RecurrentForward.Cell cell, int B, int H, int[] rows, float[] gx, DeviceBuffer W,
                                       float[] w, float[] h, float[] c, String what) {
        float[][] got = twoCalls(cell, B, H, rows, gx, W, h, c), want;
        try (DeviceBuffer fresh = buf(w)) {
            want = twoCalls(cell, B, H, rows, gx, fresh, h, c);
        }
        assertArrayEquals(want[0], got[0], what + ", first call");
        assertArrayEquals(want[1], got[1], what + ", second call");
    }

    /** h after two calls of the op over W with the same inputs. */
    private float[][] twoCalls(Op.RecurrentForward.Cell cell, int B, int H, int[] rows, float[] gx, DeviceBuffer W, float[] h, float[] c) {
        float[][] out = new float[2][];
        for (int i = 0; i < 2; i++)
            try (DeviceBuffer G = buf(gx); DeviceBuffer Hs = buf(h); DeviceBuffer Cs = buf(c)) {
                be.run(new Op.RecurrentForward(cell, B, H, rows, false, G, 0, W, 0, null, 0, Hs, 0, Cs, 0, null, 0));
                out[i] = get(Hs);
            }
        return out;
    }

    @Test
    void recordChecksItsOperands() {
        try (DeviceBuffer g = be.allocate(64); DeviceBuffer w = be.allocate(64); DeviceBuffer h = be.allocate(64);
             DeviceBuffer c = be.allocate(64); DeviceBuffer s = be.allocate(64)) {
            var lstm = dev.rnn4j.nn.Cells.LSTM;
            var gru = dev.rnn4j.nn.Cells.GRU;
            // rows outside [0, batch]
            assertThrows(IllegalArgumentException.class,
                    () -> new Op.RecurrentForward(lstm, 1, 2, new int[]{2}, false, g, 0, w, 0, null, 0, h, 0, c, 0, null, 0));
            // the LSTM needs c; only the GRU takes saved and biasHh
            assertThrows(NullPointerException.class,
                    () -> new Op.RecurrentForward(lstm, 1, 2, new int[]{1}, false, g, 0, w, 0, null, 0, h, 0, null, 0, null, 0));
            assertThrows(IllegalArgumentException.class,
                    () -> new Op.RecurrentForward(lstm, 1, 2, new int[]{1}, false, g, 0, w, 0, null, 0, h, 0, c, 0, s, 0));
            assertThrows(IllegalArgumentException.class,
                    () -> new Op.RecurrentForward(lstm, 1, 2, new int[]{1}, false, g, 0, w, 0, s, 0, h, 0, c, 0, null, 0));
            // an operand too short: gx needs rows * 4H = 8 floats from offset 60
            assertThrows(IndexOutOfBoundsException.class,
                    () -> new Op.RecurrentForward(lstm, 1, 2, new int[]{1}, false, g, 60, w, 0, null, 0, h, 0, c, 0, null, 0));
            // outputs may not alias
            assertThrows(IllegalArgumentException.class,
                    () -> new Op.RecurrentForward(gru, 1, 2, new int[]{1}, false, g, 0, w, 0, null, 0, h, 0, null, 0, h, 32));
            // the row counts are copied: changing the caller's array afterwards changes nothing
            int[] rows = {1};
            var op = new Op.RecurrentForward(gru, 1, 2, rows, false, g, 0, w, 0, null, 0, h, 0, null, 0, s, 0);
            rows[0] = 5;
            org.junit.jupiter.api.Assertions.assertEquals(1, op.rows(0));
        }
    }
}
