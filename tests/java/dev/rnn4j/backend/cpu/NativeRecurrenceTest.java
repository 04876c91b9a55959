package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.natives.CpuNative;
import dev.rnn4j.nn.Cells;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fused native LSTM and GRU steps of the cpu backend's whole recurrence ({@link NativeCells}
 * on librnn4j_cpu.so) against the same op on the Java kernels alone, bit for bit: gates, h, c and
 * the GRU's saved values, at batch 1, 7 and 32, hidden sizes off the unit blocks (13, 37, 130)
 * and one whose steps split into several native calls (910 at batch 32), per-step row counts
 * that shrink (packed sequences of several lengths), both directions, with and without b_hh, on
 * every instruction set this CPU runs; and that the fused steps did run, and that a step that is
 * no LSTM's or GRU's still gets its product.
 */
class NativeRecurrenceTest {
    private static float[] uniform(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    /** The op's outputs gx, h, c, saved on backend be. */
    private static float[][] run(CpuBackend be, Op.RecurrentForward.Cell cell, int B, int H, int[] rows, boolean reverse,
                                 float[] gx, float[] w, float[] bias, float[] h, float[] c, float[] sv) {
        boolean lstm = cell.hasCellState(), gru = cell.savedWidth() > 0;
        float[][] in = {gx, w, bias, h, c, sv};
        DeviceBuffer[] b = new DeviceBuffer[in.length];
        try {
            for (int i = 0; i < in.length; i++) {
                b[i] = be.allocate(in[i].length);
                be.upload(in[i], 0, b[i], 0, in[i].length);
            }
            be.run(new Op.RecurrentForward(cell, B, H, rows, reverse, b[0], 0, b[1], 0, gru && bias.length > 0 ? b[2] : null, 0,
                    b[3], 0, lstm ? b[4] : null, 0, gru ? b[5] : null, 0));
            float[][] out = new float[4][];
            int[] which = {0, 3, 4, 5};
            for (int i = 0; i < 4; i++) {
                out[i] = new float[in[which[i]].length];
                be.download(b[which[i]], 0, out[i], 0, out[i].length);
            }
            return out;
        } finally {
            for (DeviceBuffer x : b) if (x != null) x.close();
        }
    }

    @Test
    void fusedNativeStepsGiveTheJavaKernelsBits() {
        GemmKernels.Choice c = GemmKernels.choice();
        assumeTrue(c.packed() instanceof NativeGemm, "native kernels not in use: " + c.nativeWhy());
        assumeTrue(c.recurrent() != null, "the Vector API kernels are not enabled: " + c.why());
        CpuNative lib = CpuNative.get();
        List<CpuBackend> natives = new ArrayList<>();
        for (int isa = 0; isa < CpuNative.ISA_COUNT; isa++)
            if (lib.isaSupported(isa))
                natives.add(new CpuBackend(new GemmKernels.Choice(c.gemm(), c.recurrent(), new NativeGemm(lib, isa, "test"), c.why(), null)));
        SplittableRandom rnd = new SplittableRandom(29);
        int[][] shapes = {{5, 1, 13}, {4, 7, 37}, {3, 32, 130}, {6, 7, 8}, {2, 32, 910}, {3, 1, 256}};
        try (CpuBackend java = new CpuBackend(c.javaOnly())) {
            for (Op.RecurrentForward.Cell cell : List.of(Cells.LSTM, Cells.GRU))
                for (int[] s : shapes)
                    for (boolean reverse : new boolean[] {false, true})
                        for (boolean withBias : new boolean[] {true, false}) {
                            if (withBias && cell != Cells.GRU) continue;
                            int T = s[0], B = s[1], H = s[2], gh = cell.gates() * H;
                            int[] rows = new int[T];
                            for (int t = 0; t < T; t++) rows[t] = t == 0 ? B : Math.max(1, rows[t - 1] - rnd.nextInt(3));
                            int n = 0;
                            for (int r : rows) n += r;
                            float[] gx = uniform(rnd, n * gh, 2), w = uniform(rnd, gh * H, 1.5 / Math.sqrt(H));
                            float[] bias = withBias ? uniform(rnd, gh, 1) : new float[0];
                            float[] h = uniform(rnd, (T + 1) * B * H, 1), cs = uniform(rnd, (T + 1) * B * H, 1);
                            float[] sv = uniform(rnd, 4 * n * H, 1);
                            float[][] want = run(java, cell, B, H, rows, reverse, gx, w, bias, h, cs, sv);
                            for (CpuBackend nat : natives) {
                                long before = NativeCells.STEPS.sum();
                                float[][] got = run(nat, cell, B, H, rows, reverse, gx, w, bias, h, cs, sv);
                                assertTrue(NativeCells.STEPS.sum() - before >= T, "the fused native steps did not run");
                                String what = cell + " T=" + T + " B=" + B + " H=" + H + " reverse=" + reverse + " bias=" + withBias
                                        + " on " + nat.description();
                                String[] names = {"gx (gates)", "h", "c", "saved"};
                                for (int i = 0; i < 4; i++) assertSameBits(want[i], got[i], what + ": " + names[i]);
                            }
                        }
        } finally {
            natives.forEach(CpuBackend::close);
        }
    }

    /**
     * A cell of 4 gates whose step is no LSTM's (its product, then another pointwise op): the
     * held-back product runs as it is, and the results are the Java kernels' bits.
     */
    @Test
    void aStepThatDoesNotFuseRunsItsProductAsItIs() {
        GemmKernels.Choice c = GemmKernels.choice();
        assumeTrue(c.packed() instanceof NativeGemm, "native kernels not in use: " + c.nativeWhy());
        assumeTrue(c.recurrent() != null, "the Vector API kernels are not enabled: " + c.why());
        Op.RecurrentForward.Cell cell = new Op.RecurrentForward.Cell() {
            @Override public int gates() { return 4; }

            @Override
            public void forwardStep(Op.RecurrentForward.Step s) {
                s.product(1f, s.g, s.gOff);
                s.run(new Op.RnnPointwiseForward(dev.rnn4j.backend.Activation.TANH, s.rows * s.hidden, s.g, s.gOff, s.h, s.outH));
            }
        };
        SplittableRandom rnd = new SplittableRandom(3);
        int T = 4, B = 5, H = 21, n = T * B;
        int[] rows = {B, B, B, B};
        float[] gx = uniform(rnd, n * 4 * H, 1), w = uniform(rnd, 4 * H * H, 0.3), h = uniform(rnd, (T + 1) * B * H, 1);
        try (CpuBackend nat = new CpuBackend(c); CpuBackend java = new CpuBackend(c.javaOnly())) {
            long before = NativeCells.STEPS.sum();
            float[][] got = run(nat, cell, B, H, rows, false, gx, w, new float[0], h, new float[1], new float[1]);
            float[][] want = run(java, cell, B, H, rows, false, gx, w, new float[0], h, new float[1], new float[1]);
            assertEquals(before, NativeCells.STEPS.sum(), "no step of this cell fuses");
            assertSameBits(want[0], got[0], "gx");
            assertSameBits(want[1], got[1], "h");
        }
    }

    private static void assertSameBits(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++)
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i]))
                fail(what + ": element " + i + " is " + got[i] + ", the Java kernels give " + want[i]);
    }
}
