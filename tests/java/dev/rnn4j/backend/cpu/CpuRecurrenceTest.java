package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The cpu backend's whole forward recurrence (W_hh packed per call for the NT tile where it is
 * small enough, the pointwise steps on explicit vectors: {@link VectorRecurrence}) against the
 * same op run as its per-step sequence of the backend's own gemm and pointwise kernels: bit for
 * bit, at batch 1 (in place, the dot kernel) and wherever every step has at least 2 rows (a
 * 1-row step inside a packed call uses the NT tile, whose sums the dot kernel adds in another
 * order; the parity suite covers those against the reference); with W_hh packed (hidden 16 to
 * 129) and read in place (2400 x 600 floats). Also the op record's checks.
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

    @ParameterizedTest
    @EnumSource(Op.RecurrentForward.Cell.class)
    void fusedEqualsPerStepBitForBit(Op.RecurrentForward.Cell cell) {
        SplittableRandom rnd = new SplittableRandom(cell.ordinal() + 7);
        // rows per step chosen to hit every tile height (6/8, 2, 1 left over) and a partial last panel
        int[][] shapes = {{3, 32, 70}, {4, 13, 129}, {2, 7, 16}, {3, 35, 33}, {3, 1, 37}, {2, 4, 600}};
        boolean lstm = cell == Op.RecurrentForward.Cell.LSTM, gru = cell == Op.RecurrentForward.Cell.GRU;
        for (int[] s : shapes)
            for (boolean reverse : new boolean[]{false, true}) {
                int T = s[0], B = s[1], H = s[2], gh = cell.gates * H;
                int[] rows = new int[T];
                for (int t = 0; t < T; t++) rows[t] = t == 0 || B == 1 ? B : Math.max(2, rows[t - 1] - rnd.nextInt(5));
                int n = 0;
                for (int r : rows) n += r;
                float[] gx = uniform(rnd, n * gh, 2), w = uniform(rnd, gh * H, 1.5 / Math.sqrt(H)), bias = uniform(rnd, gh, 1);
                float[] h = uniform(rnd, (T + 1) * B * H, 1), c = uniform(rnd, (T + 1) * B * H, 1), sv = uniform(rnd, 4 * n * H, 1);
                float[][] got = new float[4][], want = new float[4][];
                for (int run = 0; run < 2; run++) {
                    try (DeviceBuffer G = buf(gx); DeviceBuffer W = buf(w); DeviceBuffer BH = buf(bias); DeviceBuffer Hs = buf(h);
                         DeviceBuffer Cs = buf(c); DeviceBuffer SV = buf(sv)) {
                        Op.RecurrentForward op = new Op.RecurrentForward(cell, B, H, rows, reverse, G, 0, W, 0, gru ? BH : null, 0,
                                Hs, 0, lstm ? Cs : null, 0, gru ? SV : null, 0);
                        if (run == 0) be.run(op);
                        else op.runPerStep(be);
                        float[][] out = run == 0 ? got : want;
                        out[0] = get(G);
                        out[1] = get(Hs);
                        out[2] = get(Cs);
                        out[3] = get(SV);
                    }
                }
                String what = cell + " T=" + T + " B=" + B + " H=" + H + " reverse=" + reverse;
                assertArrayEquals(want[0], got[0], what + " gx");
                assertArrayEquals(want[1], got[1], what + " h");
                assertArrayEquals(want[2], got[2], what + " c");
                assertArrayEquals(want[3], got[3], what + " saved");
            }
    }

    @Test
    void recordChecksItsOperands() {
        try (DeviceBuffer g = be.allocate(64); DeviceBuffer w = be.allocate(64); DeviceBuffer h = be.allocate(64);
             DeviceBuffer c = be.allocate(64); DeviceBuffer s = be.allocate(64)) {
            var lstm = Op.RecurrentForward.Cell.LSTM;
            var gru = Op.RecurrentForward.Cell.GRU;
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
