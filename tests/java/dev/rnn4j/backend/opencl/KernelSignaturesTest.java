package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.backend.OpRecords;
import dev.rnn4j.backend.opencl.KernelSignatures.Arg;
import dev.rnn4j.backend.opencl.KernelSignatures.Kind;
import dev.rnn4j.backend.opencl.KernelSignatures.Param;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The check of OpenCL launch arguments against the kernels' parameter lists (no device needed):
 * the lists are read from the real program source, and a launch whose names are out of order, of
 * the wrong kind or of the wrong count is refused naming the kernel and the position.
 */
class KernelSignaturesTest {
    private static final Map<String, List<Param>> ALL = KernelSignatures.parse(KernelSources.program());

    private static Arg a(String name, Object value) { return new Arg(name, value); }

    @Test
    void everyKernelOfTheProgramIsReadWithItsParameters() {
        assertEquals(List.of(new Param("n", Kind.LONG, "i64 n"), new Param("src", Kind.BUFFER, "const GLOBAL float* src"),
                new Param("srcOff", Kind.LONG, "i64 srcOff"), new Param("dst", Kind.BUFFER, "GLOBAL float* dst"),
                new Param("dstOff", Kind.LONG, "i64 dstOff")), ALL.get("rnn4j_copy"));
        // behind RNN4J_LAUNCH_BOUNDS(...), and the same list as the plain GEMM
        assertEquals(20, ALL.get("rnn4j_gemm_blocked").size());
        assertEquals(ALL.get("rnn4j_gemm"), ALL.get("rnn4j_gemm_blocked"));
        // u32 goes as an int; an int buffer and a RESTRICT pointer are buffers
        assertEquals(Kind.INT, ALL.get("rnn4j_dropout_mask").get(3).kind());
        assertEquals(new Param("lengths", Kind.BUFFER, "const GLOBAL i32* RESTRICT lengths"), ALL.get("rnn4j_sru_fwd").get(25));
        assertEquals(43, ALL.get("rnn4j_sru_bwd").size());
        // every kernel defined in a .cl file, and nothing of the portability header's macros
        long defined = KernelSources.FILES.stream().mapToLong(f -> KernelSources.read(f).lines()
                .filter(l -> l.startsWith("KERNEL ")).count()).sum();
        assertEquals(defined, ALL.size(), ALL.keySet().toString());
        assertFalse(ALL.containsKey("__kernel"));
    }

    @Test
    void aLaunchWithTheParametersInOrderPasses() {
        KernelSignatures.check("rnn4j_mul", ALL.get("rnn4j_mul"), new Arg[]{a("n", 4L), a("a", null), a("aOff", 0L),
                a("b", null), a("bOff", 1L), a("out", null), a("outOff", 2L)});
    }

    /** The case positional arguments let through: two of one type in each other's place. */
    @Test
    void twoSameTypedArgumentsSwappedAreRefusedNamingKernelPositionAndBoth() {
        var e = assertThrows(IllegalStateException.class, () -> KernelSignatures.check("rnn4j_mul", ALL.get("rnn4j_mul"),
                new Arg[]{a("n", 4L), a("b", null), a("bOff", 1L), a("a", null), a("aOff", 0L), a("out", null), a("outOff", 2L)}));
        assertEquals("OpenCL kernel rnn4j_mul, argument 1: the kernel declares \"const GLOBAL float* a\" (buffer), "
                + "the launch passes an argument named b", e.getMessage());
    }

    @Test
    void anArgumentOfTheWrongKindIsRefused() {
        // an int where the kernel takes i64: clSetKernelArg would fail or read 4 bytes too few
        var e = assertThrows(IllegalStateException.class, () -> KernelSignatures.check("rnn4j_fill", ALL.get("rnn4j_fill"),
                new Arg[]{a("n", 3), a("value", 1f), a("x", null), a("xOff", 0L)}));
        assertEquals("OpenCL kernel rnn4j_fill, argument 0: the kernel declares \"i64 n\" (long), the launch passes n as int",
                e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> KernelSignatures.check("rnn4j_fill", ALL.get("rnn4j_fill"),
                new Arg[]{a("n", 3L), a("value", 1.0), a("x", null), a("xOff", 0L)}));
        assertTrue(e.getMessage().contains("argument 1") && e.getMessage().contains("value as java.lang.Double"), e.getMessage());
    }

    @Test
    void tooFewOrTooManyArgumentsAreRefused() {
        var e = assertThrows(IllegalStateException.class, () -> KernelSignatures.check("rnn4j_fill", ALL.get("rnn4j_fill"),
                new Arg[]{a("n", 3L), a("value", 1f), a("x", null)}));
        assertEquals("OpenCL kernel rnn4j_fill takes 4 arguments [n, value, x, xOff], the launch passes 3 [n, value, x]",
                e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> KernelSignatures.check("rnn4j_fill", ALL.get("rnn4j_fill"),
                new Arg[]{a("n", 3L), a("value", 1f), a("x", null), a("xOff", 0L), a("extra", 0)}));
        assertTrue(e.getMessage().contains("takes 4 arguments"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> KernelSignatures.check("rnn4j_nothing", null, new Arg[0]));
        assertEquals("OpenCL kernel rnn4j_nothing is not in the kernel sources", e.getMessage());
    }

    private record Swapped(long n, float alpha, DeviceBuffer y, long yOff, DeviceBuffer x, long xOff) {}

    /** The element-wise ops' records are their kernels' argument lists; the backend checks them when it opens. */
    @Test
    void everyElementwiseRecordMatchesItsKernelAndASwappedOneDoesNot() {
        int checked = 0;
        for (Class<?> t : Op.class.getPermittedSubclasses())
            if (Op.Elementwise.class.isAssignableFrom(t)) {
                KernelSignatures.checkRecord(OpRecords.kernelName(t), ALL.get(OpRecords.kernelName(t)), t);
                checked++;
            }
        assertTrue(checked >= 4, "checked " + checked);
        var e = assertThrows(IllegalStateException.class,
                () -> KernelSignatures.checkRecord("rnn4j_axpy", ALL.get("rnn4j_axpy"), Swapped.class));
        assertTrue(e.getMessage().startsWith("OpenCL kernel rnn4j_axpy, argument 2: the kernel declares \"const GLOBAL float* x\""),
                e.getMessage());
    }

    @Test
    void aParameterOfATypeNoLaunchCanPassIsRefusedWhenRead() {
        var e = assertThrows(IllegalStateException.class,
                () -> KernelSignatures.parse("/* KERNEL rnn4j_c(i64 n) */\nKERNEL rnn4j_k(i64 n, double d) {}\n"));
        assertTrue(e.getMessage().contains("rnn4j_k") && e.getMessage().contains("\"double d\""), e.getMessage());
        assertEquals(Map.of("rnn4j_k", List.of(new Param("n", Kind.LONG, "i64 n"))),
                KernelSignatures.parse("// KERNEL rnn4j_c(i64 n)\nKERNEL rnn4j_k(i64 n) {}\n"));
    }
}
