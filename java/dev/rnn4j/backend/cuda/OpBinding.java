package dev.rnn4j.backend.cuda;

import dev.rnn4j.backend.Activation;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.RecordComponent;
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
    private static final MethodHandles.Lookup LOOKUP = MethodHandles.lookup();

    private final String function;
    private final String opName;
    private final String[] names;
    private final MethodHandle[] getters;
    /** Per component: 'B' buffer, 'A' activation, 'Z' boolean, else the signature letter of a number. */
    private final char[] kinds;

    private OpBinding(String function, String opName, String[] names, MethodHandle[] getters, char[] kinds) {
        this.function = function;
        this.opName = opName;
        this.names = names;
        this.getters = getters;
        this.kinds = kinds;
    }

    /** The table function an op type would run: rnn4j_cuda_launch_ + its name in snake case, forward/backward as fwd/bwd. */
    static String functionFor(Class<?> opType) {
        String snake = opType.getSimpleName().replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
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
        RecordComponent[] rc = opType.getRecordComponents();
        String[] names = new String[rc.length];
        MethodHandle[] getters = new MethodHandle[rc.length];
        char[] kinds = new char[rc.length];
        StringBuilder expect = new StringBuilder("P");
        for (int i = 0; i < rc.length; i++) {
            Class<?> t = rc[i].getType();
            names[i] = rc[i].getName();
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
            try {
                getters[i] = LOOKUP.unreflect(rc[i].getAccessor()).asType(MethodType.methodType(Object.class, Object.class));
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("cannot read " + opType.getSimpleName() + "." + names[i], e);
            }
        }
        if (!expect.toString().equals(sig))
            throw new IllegalStateException(opType.getSimpleName() + " does not match " + function + ": the record's components "
                    + List.of(names) + " call for signature " + expect + ", the binding table has " + sig);
        String opName = Character.toLowerCase(opType.getSimpleName().charAt(0)) + opType.getSimpleName().substring(1);
        return new OpBinding(function, opName, names, getters, kinds);
    }

    /** The table function this binding calls. */
    String function() { return function; }

    /**
     * The arguments of the call for {@code op}: {@code dev}, then each component; {@code handle}
     * turns a (non-null) buffer and its name in messages ("adamStep g") into its native handle.
     */
    Object[] arguments(Op<?> op, MemorySegment dev, BiFunction<DeviceBuffer, String, MemorySegment> handle) {
        List<Object> args = new ArrayList<>(getters.length + 1);
        args.add(dev);
        boolean absent = false;   // the previous component was a null buffer: its offset goes as 0
        for (int i = 0; i < getters.length; i++) {
            Object v;
            try {
                v = getters[i].invoke(op);
            } catch (Throwable t) {
                throw new IllegalStateException("reading " + opName + " " + names[i], t);
            }
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
