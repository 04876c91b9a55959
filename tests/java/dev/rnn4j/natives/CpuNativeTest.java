package dev.rnn4j.natives;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The binding of librnn4j_cpu.so: its table (names, signatures and operands as
 * native/include/rnn4j_cpu_ops.h spells them, the handles built from it), the instruction sets,
 * Java's bounds checks before a call, and the C side's checks of the same calls reached past Java's
 * (a status and a message, nothing written).
 */
class CpuNativeTest {
    private static CpuNative lib() {
        var failure = CpuNative.loadFailure();
        assumeTrue(failure.isEmpty() || !built(), () -> "no librnn4j_cpu.so in this build: " + failure.get().getMessage());
        assertTrue(failure.isEmpty(), () -> "this build made librnn4j_cpu.so but it does not load: " + failure.get().getMessage());
        return CpuNative.get();
    }

    private static boolean built() {
        String dir = System.getProperty("rnn4j.native.build.dir");
        try {
            return dir != null && Files.readString(Path.of(dir, "rnn4j-native-status.txt")).strip().equals("built");
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void theTableGivesEveryHandleAndItsOperands() {
        CpuNative lib = lib();
        assertEquals(CpuNative.OPERANDS.keySet(), lib.api().keySet());
        lib.api().forEach((name, e) -> {
            assertEquals(CpuNative.OPERANDS.get(name), e.operands(), name);
            assertTrue(e.signature().endsWith("PL"), name + ": err, err_cap last");
            assertEquals(e.signature().length() - 2, letters(e.operands()), name + ": one letter per C parameter");
        });
        assertEquals("IIIIFPLLIPLLFPLLIPL", lib.api().get("rnn4j_cpu_gemm_packed").signature());
        assertEquals(32, lib.panelWidth());
        assertEquals(2L * 32 * 5, lib.packedFloats(40, 5));
        assertEquals("IIIIIPLLIPLLPLLIPLLIPLLIPLLIPL", lib.api().get("rnn4j_cpu_lstm_step").signature());
        assertEquals(2L * 8 * 4 * 13, CpuNative.cellFloats(4, 13));
    }

    /** The C parameters the operand kinds stand for (rnn4j_cpu_ops.h). */
    private static int letters(String operands) {
        return Arrays.stream(operands.split(";")).mapToInt(op -> switch (op.split(" ")[0]) {
            case "dim", "f32", "isa", "isa_id", "i32_out", "gates", "units" -> 1;
            case "text_out" -> 2;
            case "mat_in", "mat_out" -> 4;
            case "panels_in", "panels_out", "cell_in", "cell_out" -> 3;
            default -> throw new AssertionError("unknown operand kind in " + op);
        }).sum();
    }

    @Test
    void instructionSets() {
        CpuNative lib = lib();
        assertTrue(lib.isaSupported(CpuNative.ISA_PORTABLE));
        int best = lib.isaBest();
        assertTrue(lib.isaSupported(best));
        for (int i = best + 1; i < CpuNative.ISA_COUNT; i++) assertFalse(lib.isaSupported(i));
        assertEquals("portable", lib.isaName(0));
        assertEquals("avx2", lib.isaName(1));
        assertEquals("avx512", lib.isaName(2));
        assertThrows(IllegalArgumentException.class, () -> lib.isaName(3));
    }

    @Test
    void javaChecksEveryBoundBeforeTheCallAndCChecksAgain() {
        CpuNative lib = lib();
        float[] a = new float[3 * 5], p = new float[(int) lib.packedFloats(40, 5)], c = new float[3 * 40];
        Arrays.fill(a, 1f);
        Arrays.fill(p, 1f);
        Arrays.fill(c, 7f);
        lib.gemmPacked(0, 3, 40, 5, 1f, a, 0, 5, p, 0, 0f, c, 0, 40);
        assertEquals(5f, c[0]);
        Arrays.fill(c, 7f);
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(0, 3, 40, 5, 1f, a, 1, 5, p, 0, 0f, c, 0, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(0, 3, 40, 5, 1f, a, 0, 4, p, 0, 0f, c, 0, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(0, 3, 40, 5, 1f, a, 0, 5, p, 1, 0f, c, 0, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(0, 3, 40, 5, 1f, a, 0, 5, p, 0, 0f, c, 1, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(0, 3, 40, 5, 1f, null, 0, 5, p, 0, 0f, c, 0, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(0, -1, 40, 5, 1f, a, 0, 5, p, 0, 0f, c, 0, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.gemmPacked(3, 3, 40, 5, 1f, a, 0, 5, p, 0, 0f, c, 0, 40));
        assertThrows(IllegalArgumentException.class, () -> lib.packBt(40, 5, a, 0, 5, p, 0));
        for (float v : c) assertEquals(7f, v);
        // past Java's checks, the C side refuses the same calls: a status and a message, C untouched
        assertEquals(1, lib.gemmPackedUnchecked(0, 3, 40, 5, 1f, a, a.length, 1, 5, p, p.length, 0, 0f, c, c.length, 0, 40));
        assertTrue(lib.lastMessage().contains("rnn4j_cpu_gemm_packed: a (3 x 5, ld 5) at offset 1 needs 15 floats but has 15"),
                lib.lastMessage());
        assertEquals(1, lib.gemmPackedUnchecked(0, 3, 40, 5, 1f, a, a.length, 0, 5, p, p.length, 0, 0f, c, c.length - 1, 0, 40));
        assertTrue(lib.lastMessage().contains("c (3 x 40, ld 40)"), lib.lastMessage());
        assertEquals(1, lib.gemmPackedUnchecked(0, 3, 40, 5, 1f, a, a.length, 0, 5, p, p.length - 1, 0, 0f, c, c.length, 0, 40));
        assertEquals(1, lib.gemmPackedUnchecked(0, -1, 40, 5, 1f, a, a.length, 0, 5, p, p.length, 0, 0f, c, c.length, 0, 40));
        assertEquals(1, lib.gemmPackedUnchecked(CpuNative.ISA_COUNT, 3, 40, 5, 1f, a, a.length, 0, 5, p, p.length, 0, 0f, c, c.length, 0, 40));
        assertEquals(1, lib.packBtUnchecked(40, 5, a, a.length, 0, 5, p, p.length, 0));
        assertTrue(lib.lastMessage().contains("rnn4j_cpu_pack_bt: w (40 x 5"), lib.lastMessage());
        for (float v : c) assertEquals(7f, v);
        int best = lib.isaBest();
        if (best + 1 < CpuNative.ISA_COUNT) {
            assertEquals(1, lib.gemmPackedUnchecked(best + 1, 3, 40, 5, 1f, a, a.length, 0, 5, p, p.length, 0, 0f, c, c.length, 0, 40));
            assertTrue(lib.lastMessage().contains("does not run"), lib.lastMessage());
        }
        var e = assertThrows(NativeCallException.class, () -> lib.check("rnn4j_cpu_gemm_packed",
                lib.gemmPackedUnchecked(0, 3, 40, 5, 1f, a, a.length, 1, 5, p, p.length, 0, 0f, c, c.length, 0, 40)));
        assertTrue(e.getMessage().contains("RNN4J_ERR_INVALID_ARGUMENT"), e.getMessage());
    }
}
