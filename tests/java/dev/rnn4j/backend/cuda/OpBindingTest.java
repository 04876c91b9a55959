package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.Op;
import dev.rnn4j.backend.OpRecords;
import dev.rnn4j.backend.reference.ReferenceBackend;
import dev.rnn4j.natives.CudaNative;
import dev.rnn4j.natives.NativeCallException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * How each op reaches librnn4j_cuda.so, checked against the library's own binding table (no GPU
 * needed): which ops run through {@link OpBinding} (their records and table functions must agree),
 * that every other op has its own method in {@link CudaBackend}, and that the generic call's
 * arguments reach the C boundary checks with the right types (a NULL device is refused there,
 * naming the function).
 */
class OpBindingTest {
    private static CudaNative lib() {
        assumeTrue(CudaTestSupport.builtByThisBuild(), "this build has no librnn4j_cuda.so (no nvcc)");
        return CudaNative.get();
    }

    @Test
    void everyOpRunsThroughItsTableFunctionOrAMethodOfItsOwn() {
        Map<String, String> api = lib().api();
        Set<String> generic = new TreeSet<>(), own = new TreeSet<>();
        for (Class<?> t : Op.class.getPermittedSubclasses()) {
            OpBinding b = CudaBackend.bindingOf(t, api);   // throws if record and table disagree
            if (b != null) {
                generic.add(t.getSimpleName());
                assertEquals(OpBinding.functionFor(t), b.function());
            } else if (Backend.OPTIONAL_OPS.contains(t)) {
                // an optional op (a fused form of ops the layers also run one by one): CUDA
                // declares it unsupported and the layers take the per-op path
                assertTrue(Arrays.stream(CudaBackend.class.getDeclaredMethods()).noneMatch(m -> m.getParameterCount() == 1
                        && m.getParameterTypes()[0] == t), t.getSimpleName() + " is optional but CudaBackend has a method for it");
            } else {
                own.add(t.getSimpleName());
                assertTrue(Arrays.stream(CudaBackend.class.getDeclaredMethods())
                                .anyMatch(m -> m.getParameterCount() == 1 && m.getParameterTypes()[0] == t),
                        t.getSimpleName() + " has neither a table function nor a method of its own");
            }
        }
        for (Class<?> t : Op.class.getPermittedSubclasses())
            if (Op.Elementwise.class.isAssignableFrom(t)) assertTrue(generic.contains(t.getSimpleName()), t.getSimpleName());
        assertTrue(generic.containsAll(Set.of("AdamStep", "AddRowVector", "Axpy", "Copy2d", "GruPointwiseBackward",
                "GruPointwiseForward", "LayerNormBackward", "LayerNormForward", "LstmPointwiseBackward",
                "LstmPointwiseForward", "Mul", "MulRows", "RnnPointwiseBackward", "RnnPointwiseForward", "Scale", "SumRows")),
                generic.toString());
        assertTrue(own.containsAll(Set.of("Copy", "Fill", "Gemm", "SruForward", "SruBackward", "DropoutMask")), own.toString());
        assertTrue(Collections.disjoint(generic, own));
    }

    /**
     * The signature letters could match with two operands swapped; the names cannot: every bound
     * op's components are, in order, its C function's parameters after dev (the binding table's
     * parameter lists, and the element-wise table's operands, each buffer x followed by x_off).
     */
    @Test
    void boundRecordsNameTheirFunctionsParametersInOrder() throws IOException {
        Map<String, List<String>> params = new HashMap<>();
        String api = Files.readString(Path.of("native", "cuda", "rnn4j_cuda_api.h"));
        Matcher x = Pattern.compile("X\\((rnn4j_cuda_\\w+), \"[A-Z]+\", \\\\\\s*\\(([^)]*)\\)").matcher(api);
        while (x.find()) {
            List<String> names = new ArrayList<>();
            for (String p : x.group(2).split(",")) names.add(p.strip().replaceAll("^.*?(\\w+)$", "$1"));
            params.put(x.group(1), names.subList(1, names.size()));
        }
        String ops = Files.readString(Path.of("native", "include", "rnn4j_cuda_ops.h")).replaceAll("(?s)/\\*.*?\\*/", "");
        Matcher e = Pattern.compile("OP\\(ctx, (\\w+),((?:\\s*\\\\?\\s*\\((?:f32|in|out), \\w+\\),?)+)\\)").matcher(ops);
        while (e.find()) {
            List<String> names = new ArrayList<>(List.of("n"));
            Matcher o = Pattern.compile("\\((f32|in|out), (\\w+)\\)").matcher(e.group(2));
            while (o.find()) {
                names.add(o.group(2));
                if (!o.group(1).equals("f32")) names.add(o.group(2) + "_off");
            }
            params.put("rnn4j_cuda_launch_" + e.group(1), names);
        }
        int bound = 0;
        for (Class<?> t : Op.class.getPermittedSubclasses()) {
            OpBinding b = CudaBackend.bindingOf(t, lib().api());
            if (b == null) continue;
            List<String> c = params.get(b.function());
            assertNotNull(c, b.function() + " is in neither table");
            assertEquals(c.stream().map(OpBindingTest::folded).toList(), Arrays.stream(OpRecords.names(t)).map(OpBindingTest::folded).toList(),
                    t.getSimpleName() + " against " + b.function());
            bound++;
        }
        assertTrue(bound >= 16, "bound " + bound);
    }

    /** A name without case or underscores: gOff and g_off, dhPrevPartial and dh_prev_partial agree. */
    private static String folded(String name) { return name.replace("_", "").toLowerCase(java.util.Locale.ROOT); }

    @Test
    void functionNamesFollowTheOpNames() {
        assertEquals("rnn4j_cuda_launch_adam_step", OpBinding.functionFor(Op.AdamStep.class));
        assertEquals("rnn4j_cuda_launch_lstm_pointwise_bwd", OpBinding.functionFor(Op.LstmPointwiseBackward.class));
        assertEquals("rnn4j_cuda_launch_copy2d", OpBinding.functionFor(Op.Copy2d.class));
    }

    @Test
    void aRecordThatDisagreesWithItsTableFunctionIsRefusedNamingBoth() {
        var e = assertThrows(IllegalStateException.class,
                () -> OpBinding.of(Op.Copy.class, Map.of("rnn4j_cuda_launch_copy", "PLPLPL")));
        assertTrue(e.getMessage().contains("Copy does not match rnn4j_cuda_launch_copy"), e.getMessage());
        assertTrue(e.getMessage().contains("PPLPLL"), e.getMessage());
    }

    /** The components in order; an absent buffer goes as NULL with offset 0; an activation as its code. */
    @Test
    void argumentsAreTheComponentsInOrder() {
        Map<String, String> api = lib().api();
        try (ReferenceBackend ref = new ReferenceBackend(); DeviceBuffer a = ref.allocate(64)) {
            MemorySegment dev = MemorySegment.ofAddress(8), handle = MemorySegment.ofAddress(16);
            StringBuilder names = new StringBuilder();
            Object[] args = CudaBackend.bindingOf(Op.LstmPointwiseBackward.class, api).arguments(
                    new Op.LstmPointwiseBackward(2, 3, a, 0, a, 1, a, 2, a, 3, null, 5, a, 6, a, 7), dev,
                    (b, what) -> { names.append(what).append(';'); return handle; });
            assertEquals(Arrays.asList(dev, 2, 3, handle, 0L, handle, 1L, handle, 2L, handle, 3L, MemorySegment.NULL, 0L,
                    handle, 6L, handle, 7L), Arrays.asList(args));
            assertEquals("lstmPointwiseBackward gates;lstmPointwiseBackward cPrev;lstmPointwiseBackward c;"
                    + "lstmPointwiseBackward dh;lstmPointwiseBackward dGates;lstmPointwiseBackward dcPrev;", names.toString());
            Object[] rnn = CudaBackend.bindingOf(Op.RnnPointwiseForward.class, api).arguments(
                    new Op.RnnPointwiseForward(Activation.RELU, 4, a, 0, a, 8), dev, (b, what) -> handle);
            assertEquals(Arrays.asList(dev, 2, 4, handle, 0L, handle, 8L), Arrays.asList(rnn));
        }
    }

    /** Through the real library: the call's arguments fit its FFM descriptor and C refuses the NULL device. */
    @Test
    void theGenericCallReachesTheBoundaryChecks() {
        CudaNative lib = lib();
        try (ReferenceBackend ref = new ReferenceBackend(); DeviceBuffer a = ref.allocate(64)) {
            Op<?>[] ops = {
                    new Op.AdamStep(4, 0.9f, 0.999f, 1e-3f, 1f, 1e-8f, a, 0, a, 4, a, 8, a, 12),
                    new Op.LayerNormForward(2, 3, 1e-5f, a, 0, null, 0, a, 6, a, 12, a, 20),
                    new Op.GruPointwiseForward(1, 2, a, 0, a, 6, null, 0, a, 12, a, 14, a, 16),
                    new Op.SumRows(2, 3, a, 0, 3, 0f, a, 8),
            };
            for (Op<?> op : ops) {
                OpBinding b = CudaBackend.bindingOf(op.getClass(), lib.api());
                var e = assertThrows(NativeCallException.class,
                        () -> lib.call(b.function(), b.arguments(op, MemorySegment.NULL, (buf, what) -> MemorySegment.NULL)));
                assertEquals(b.function() + " failed (RNN4J_ERR_INVALID_ARGUMENT): " + b.function() + ": device handle is NULL",
                        e.getMessage());
            }
        }
    }

    /** The SRU ops' own argument lists fit their functions' descriptors (v1 and 2.x options, absent operands). */
    @Test
    void theSruArgumentsReachTheBoundaryChecks() {
        CudaNative lib = lib();
        try (ReferenceBackend ref = new ReferenceBackend(); DeviceBuffer a = ref.allocate(4096); Arena arena = Arena.ofConfined()) {
            // T 3, B 2, d 2, one direction, K 3: u 36, x/h/c 12, bias 4, states 4
            Op.SruForward fwd = Op.SruForward.builder(3, 2, 2, 1, 3, Activation.TANH).u(a, 0).x(a, 100).bias(a, 200)
                    .h(a, 300).c(a, 400).cLast(a, 500).weightC(a, 600).scale(0.5f).lengths(new int[]{3, 1}).build();
            Op.SruBackward bwd = Op.SruBackward.builder(3, 2, 2, 1, 3, Activation.TANH).u(a, 0).x(a, 100).bias(a, 200)
                    .c0(a, 250).c(a, 400).dh(a, 700).du(a, 800).dx(a, 900).dBias(a, 1000).dc0(a, 1100).build();
            var e = assertThrows(NativeCallException.class, () -> lib.call("rnn4j_cuda_launch_sru_fwd",
                    CudaBackend.sruForwardArguments(fwd, MemorySegment.NULL, arena, (b, what) -> MemorySegment.NULL)));
            assertEquals("rnn4j_cuda_launch_sru_fwd failed (RNN4J_ERR_INVALID_ARGUMENT): rnn4j_cuda_launch_sru_fwd: device handle is NULL",
                    e.getMessage());
            e = assertThrows(NativeCallException.class, () -> lib.call("rnn4j_cuda_launch_sru_bwd",
                    CudaBackend.sruBackwardArguments(bwd, MemorySegment.NULL, arena, (b, what) -> MemorySegment.NULL)));
            assertEquals("rnn4j_cuda_launch_sru_bwd failed (RNN4J_ERR_INVALID_ARGUMENT): rnn4j_cuda_launch_sru_bwd: device handle is NULL",
                    e.getMessage());
        }
    }
}
