package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;
import dev.rnn4j.backend.OpRecords;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * How an op runs on the CUDA backend when its record describes the C call completely: the op type
 * {@code FooBar} (or {@code FooForward}, {@code FooBackward}) runs the binding-table function
 * {@code rnn4j_cuda_launch_foo_bar} ({@code _foo_fwd}, {@code _foo_bwd}) with the device handle
 * followed by the record's components in declaration order: a buffer as its handle (null: NULL,
 * and the offset that follows it 0), an {@link Activation} as its code, a boolean as 0 or 1, a
 * number as it is. The table's signature must spell exactly that list, or binding fails naming
 * both. So an op whose record and kernel agree needs no Java code on this backend at all; an op
 * whose call needs more (a host array, a result, a pre-check of its own) has its own method in
 * {@link CudaBackend}, which then wins.
 */
final class OpBinding {
    private final String function;
    private final String opName;
    private final String[] names;
    /** Per component: 'B' buffer, 'A' activation, 'Z' boolean, else the signature letter of a number. */
    private final char[] kinds;

    private OpBinding(String function, String opName, String[] names, char[] kinds) {
        this.function = function;
        this.opName = opName;
        this.names = names;
        this.kinds = kinds;
    }

    /** The table function an op type would run: rnn4j_cuda_launch_ + its name in snake case, forward/backward as fwd/bwd. */
    static String functionFor(Class<?> opType) {
        String snake = OpRecords.kernelName(opType).substring("rnn4j_".length());
        return "rnn4j_cuda_launch_" + snake.replaceAll("_forward$", "_fwd").replaceAll("_backward$", "_bwd");
    }

    /**
     * The binding of {@code opType} against the library's table ({@code api}: name to signature),
     * or null when the table has no function for it (the op then needs a method of its own).
     *
     * @throws IllegalStateException if the table has the function but its parameters are not the record's components
     */
    static OpBinding of(Class<?> opType, Map<String, String> api) {
        String function = functionFor(opType);
        String sig = api.get(function);
        if (sig == null || !opType.isRecord()) return null;
        String[] names = OpRecords.names(opType);
        Class<?>[] types = OpRecords.types(opType);
        char[] kinds = new char[names.length];
        StringBuilder expect = new StringBuilder("P");
        for (int i = 0; i < names.length; i++) {
            Class<?> t = types[i];
            kinds[i] = t == DeviceBuffer.class ? 'B' : t == Activation.class ? 'A' : t == boolean.class ? 'Z'
                    : t == float.class ? 'F' : t == double.class ? 'D' : t == int.class || t == long.class ? 'N' : '?';
            if (kinds[i] == 'N') {   // int or long: either C integer type, which the call converts to
                char c = i + 1 < sig.length() ? sig.charAt(i + 1) : 'L';
                kinds[i] = c == 'I' ? 'I' : 'L';
            }
            expect.append(switch (kinds[i]) {
                case 'B' -> 'P';
                case 'A', 'Z' -> 'I';
                default -> kinds[i];
            });
        }
        if (!expect.toString().equals(sig))
            throw new IllegalStateException(opType.getSimpleName() + " does not match " + function + ": the record's components "
                    + List.of(names) + " call for signature " + expect + ", the binding table has " + sig);
        String opName = Character.toLowerCase(opType.getSimpleName().charAt(0)) + opType.getSimpleName().substring(1);
        return new OpBinding(function, opName, names, kinds);
    }

    /** The table function this binding calls. */
    String function() { return function; }

    /**
     * The arguments of the call for {@code op}: {@code dev}, then each component; {@code handle}
     * turns a (non-null) buffer and its name in messages ("adamStep g") into its native handle.
     */
    Object[] arguments(Op<?> op, MemorySegment dev, BiFunction<DeviceBuffer, String, MemorySegment> handle) {
        Object[] values = OpRecords.values(op);
        List<Object> args = new ArrayList<>(values.length + 1);
        args.add(dev);
        boolean absent = false;   // the previous component was a null buffer: its offset goes as 0
        for (int i = 0; i < values.length; i++) {
            Object v = values[i];
            if (kinds[i] == 'B') {
                args.add(v == null ? MemorySegment.NULL : handle.apply((DeviceBuffer) v, opName + " " + names[i]));
                absent = v == null;
                continue;
            }
            args.add(absent ? (Object) 0L : kinds[i] == 'A' ? ((Activation) v).code : v);
            absent = false;
        }
        return args.toArray();
    }
}
