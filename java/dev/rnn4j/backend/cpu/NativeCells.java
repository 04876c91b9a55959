package dev.rnn4j.backend.cpu;

import dev.rnn4j.natives.CpuNative;

import java.util.concurrent.atomic.LongAdder;

/**
 * The fused LSTM and GRU forward steps of librnn4j_cpu.so ({@link CpuNative#lstmStep},
 * {@link CpuNative#gruStep}) as the cpu backend's whole recurrence runs them: W_hh packed once by
 * blocks of {@link CpuNative#UNIT} units with each unit's gates side by side ({@link #pack}, cached
 * by the backend on W_hh's buffer), then per step one call per part of the units over
 * {@link Parallel}'s pool: each part computes its units' recurrent products for the whole batch
 * and their gate math and c/h update while the sums are in registers, and the parts meet once per
 * step (the pool's join). The arithmetic is the Java path's (the product as one FMA chain per
 * element in k order added to gx, FastMath's activations, the same c/h formulas), so the results
 * are the same bits, however the units are split.
 *
 * <p>Each call is critical (it holds off the collector while it runs), so a part's units are
 * cut into calls of at most {@link NativeGemm#CALL_FLOPS} multiply-adds; a step stays on one
 * thread below {@link #MIN_PART_FLOPS} per part.
 */
final class NativeCells {
    /** Work per parallel part, in multiply-adds, below which a step stays on one thread (as the products'). */
    private static final long MIN_PART_FLOPS = 1L << 18;

    /** Fused steps run in this JVM (tests check that a recurrence took this path). */
    static final LongAdder STEPS = new LongAdder();

    private final CpuNative lib;
    private final int isa;

    NativeCells(CpuNative lib, int isa) {
        this.lib = lib;
        this.isa = isa;
    }

    /** Names the packed layout for the backend's cache ({@code gates} is part of the layout). */
    static String layout(int gates) { return "native cell blocks of " + CpuNative.UNIT + ", " + gates + " gates"; }

    /** W_hh ((gates * H) x H at wo, row stride H) packed for the steps. */
    float[] pack(float[] W, int wo, int gates, int H) {
        float[] P = new float[Math.toIntExact(CpuNative.cellFloats(gates, H))];
        lib.packCell(gates, H, W, wo, H, P, 0);
        return P;
    }

    /** Blocks per call and per part for a step of {@code rows} rows. */
    private static int blocksPerCall(int rows, int gates, int H) {
        long perBlock = Math.max(1L, (long) rows * gates * CpuNative.UNIT * H);
        return (int) Math.max(1, NativeGemm.CALL_FLOPS / perBlock);
    }

    /** One LSTM step (see {@link CpuNative#lstmStep}): gates in place at go, c_{t-1} at cp, c_t at co, h_{t-1} at hp, h_t at ho. */
    void lstmStep(int rows, int H, float[] P, float[] HS, int hp, float[] G, int go, float[] C, int cp, int co, int ho) {
        STEPS.increment();
        int blocks = (H + CpuNative.UNIT - 1) / CpuNative.UNIT, per = blocksPerCall(rows, 4, H);
        long perBlock = Math.max(1L, (long) rows * 4 * CpuNative.UNIT * H);
        Parallel.forParts(blocks, (int) Math.max(1, MIN_PART_FLOPS / perBlock), 1, (b0, b1) -> {
            for (int b = b0; b < b1; b += per)
                lib.lstmStep(isa, rows, H, b * CpuNative.UNIT, Math.min(H, Math.min(b1, b + per) * CpuNative.UNIT),
                        HS, hp, P, 0, G, go, C, cp, co, ho);
        });
    }

    /** One GRU step (see {@link CpuNative#gruStep}); BH null for no b_hh. */
    void gruStep(int rows, int H, float[] P, float[] HS, int hp, float[] GX, int gxo, float[] BH, int bho, float[] SV, int so,
                 int ho) {
        STEPS.increment();
        int blocks = (H + CpuNative.UNIT - 1) / CpuNative.UNIT, per = blocksPerCall(rows, 3, H);
        long perBlock = Math.max(1L, (long) rows * 3 * CpuNative.UNIT * H);
        Parallel.forParts(blocks, (int) Math.max(1, MIN_PART_FLOPS / perBlock), 1, (b0, b1) -> {
            for (int b = b0; b < b1; b += per)
                lib.gruStep(isa, rows, H, b * CpuNative.UNIT, Math.min(H, Math.min(b1, b + per) * CpuNative.UNIT),
                        HS, hp, P, 0, GX, gxo, BH, bho, SV, so, ho);
        });
    }
}
