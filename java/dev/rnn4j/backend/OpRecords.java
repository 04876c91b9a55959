package dev.rnn4j.backend;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.RecordComponent;

/**
 * An op's record components as data, for the backends that pass them to a kernel as they are
 * ({@link Op.Elementwise} on OpenCL, the table functions on CUDA): their names and types, and
 * their values in declaration order. Accessors are looked up once per op type.
 */
public final class OpRecords {
    private OpRecords() {}

    private record Layout(String[] names, Class<?>[] types, MethodHandle[] getters) {}

    private static final ClassValue<Layout> LAYOUTS = new ClassValue<>() {
        @Override
        protected Layout computeValue(Class<?> t) {
            if (!t.isRecord()) throw new IllegalArgumentException(t.getName() + " is not a record");
            RecordComponent[] rc = t.getRecordComponents();
            String[] names = new String[rc.length];
            Class<?>[] types = new Class<?>[rc.length];
            MethodHandle[] getters = new MethodHandle[rc.length];
            for (int i = 0; i < rc.length; i++) {
                names[i] = rc[i].getName();
                types[i] = rc[i].getType();
                try {
                    getters[i] = MethodHandles.lookup().unreflect(rc[i].getAccessor())
                            .asType(MethodType.methodType(Object.class, Object.class));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("cannot read " + t.getSimpleName() + "." + names[i], e);
                }
            }
            return new Layout(names, types, getters);
        }
    };

    /** The component names of op type {@code t}, in declaration order. */
    public static String[] names(Class<?> t) { return LAYOUTS.get(t).names().clone(); }

    /** The component types of op type {@code t}, in declaration order. */
    public static Class<?>[] types(Class<?> t) { return LAYOUTS.get(t).types().clone(); }

    /** The component values of {@code op}, in declaration order (primitives boxed). */
    public static Object[] values(Op<?> op) {
        MethodHandle[] g = LAYOUTS.get(op.getClass()).getters();
        Object[] v = new Object[g.length];
        try {
            for (int i = 0; i < g.length; i++) v[i] = g[i].invoke(op);
        } catch (Throwable t) {
            throw new IllegalStateException("reading the components of " + op.opName(), t);
        }
        return v;
    }

    /** The kernel name of an op type: rnn4j_ + its name in snake case (AdamStep: rnn4j_adam_step). */
    public static String kernelName(Class<?> t) {
        return "rnn4j_" + t.getSimpleName().replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
    }
}
