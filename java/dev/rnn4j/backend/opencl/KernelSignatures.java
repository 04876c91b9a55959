package dev.rnn4j.backend.opencl;

import dev.rnn4j.backend.DeviceBuffer;
import org.jocl.cl_mem;

import java.lang.reflect.RecordComponent;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameter lists of the kernels of {@code kernels/*.cl}, read from the program source the
 * backend builds, and the check that a launch's named arguments are exactly those parameters, in
 * order, each of its kind. OpenCL sets kernel arguments by position alone, so without this check
 * two arguments of one type passed in each other's place would run and compute garbage.
 */
final class KernelSignatures {
    private KernelSignatures() {}

    /** What a kernel parameter takes, as far as {@code clSetKernelArg} can tell them apart. */
    enum Kind {
        /** A pointer: a buffer (an {@code OpenClBuffer}, a {@code cl_mem}, or null for the dummy). */
        BUFFER,
        /** {@code i32} or {@code u32}: an {@code Integer}. */
        INT,
        /** {@code i64}: a {@code Long}. */
        LONG,
        /** {@code float}: a {@code Float}. */
        FLOAT
    }

    /** One kernel parameter: its name, its kind, and its declaration as written (for messages). */
    record Param(String name, Kind kind, String declared) {}

    /** One launch argument: the kernel parameter it is for, by name, and its value. */
    record Arg(String name, Object value) {}

    // KERNEL [RNN4J_LAUNCH_BOUNDS(...)] name(params) at the start of a line; the macros are rnn4j_compat.h's.
    private static final Pattern KERNEL = Pattern.compile(
            "(?m)^KERNEL\\s+(?:RNN4J_LAUNCH_BOUNDS\\s*\\([^()]*\\)\\s*)?(\\w+)\\s*\\(([^()]*)\\)");
    private static final Pattern PARAM = Pattern.compile("(.*?)(\\w+)");

    /**
     * Every {@code KERNEL} of {@code source} with its parameters, in source order. Throws
     * {@link IllegalStateException} for a parameter of a type a launch cannot pass.
     */
    static Map<String, List<Param>> parse(String source) {
        String text = source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", "");
        Map<String, List<Param>> kernels = new LinkedHashMap<>();
        Matcher k = KERNEL.matcher(text);
        while (k.find()) {
            String name = k.group(1);
            List<Param> params = new ArrayList<>();
            String list = k.group(2).strip();
            if (!list.isEmpty() && !list.equals("void"))
                for (String p : list.split(",")) params.add(param(name, p.strip().replaceAll("\\s+", " ")));
            if (kernels.put(name.intern(), Collections.unmodifiableList(params)) != null)
                throw new IllegalStateException("OpenCL kernel " + name + " is defined twice in the kernel sources");
        }
        return Collections.unmodifiableMap(kernels);
    }

    private static Param param(String kernel, String declared) {
        Matcher m = PARAM.matcher(declared);
        if (!m.matches()) throw new IllegalStateException("OpenCL kernel " + kernel + ": cannot read the parameter \"" + declared + "\"");
        String type = m.group(1).strip(), name = m.group(2).intern();
        Kind kind;
        if (type.contains("*")) kind = Kind.BUFFER;
        else kind = switch (type.replaceAll("\\b(const|RESTRICT)\\b", "").strip()) {
            case "i32", "u32" -> Kind.INT;
            case "i64" -> Kind.LONG;
            case "float" -> Kind.FLOAT;
            default -> throw new IllegalStateException("OpenCL kernel " + kernel + ": parameter \"" + declared
                    + "\" has a type the host cannot pass (i32, u32, i64, float or a GLOBAL pointer)");
        };
        return new Param(name, kind, declared);
    }

    /** The kind of a launch argument's value; null for a value no parameter takes. */
    static Kind kindOf(Object value) {
        if (value == null || value instanceof OpenClBackend.OpenClBuffer || value instanceof cl_mem) return Kind.BUFFER;
        if (value instanceof Integer) return Kind.INT;
        if (value instanceof Long) return Kind.LONG;
        if (value instanceof Float) return Kind.FLOAT;
        return null;
    }

    /**
     * Checks that {@code args} are the parameters of {@code kernel}, in order: the same count,
     * each the parameter's name and a value of its kind. Throws {@link IllegalStateException}
     * naming the kernel, the position and what it expected and got.
     */
    static void check(String kernel, List<Param> params, Arg[] args) {
        if (params == null) throw new IllegalStateException("OpenCL kernel " + kernel + " is not in the kernel sources");
        int n = Math.min(params.size(), args.length);
        for (int i = 0; i < n; i++) {
            Param p = params.get(i);
            Arg a = args[i];
            // the names are interned string constants on both sides: usually the same object
            if (!p.name().equals(a.name()))
                throw mismatch(kernel, i, p, "an argument named " + a.name());
            if (kindOf(a.value()) != p.kind())
                throw mismatch(kernel, i, p, a.name() + " as " + describe(a.value()));
        }
        if (params.size() != args.length) {
            List<String> want = params.stream().map(Param::name).toList();
            List<String> got = java.util.Arrays.stream(args).map(Arg::name).toList();
            throw new IllegalStateException("OpenCL kernel " + kernel + " takes " + params.size() + " arguments " + want
                    + ", the launch passes " + args.length + " " + got);
        }
    }

    /**
     * Checks an {@code Op.Elementwise} record type against its kernel as {@link #check} checks a
     * launch: its components, by name and kind ({@code DeviceBuffer}, int, long, float), are the
     * kernel's parameters in order.
     */
    static void checkRecord(String kernel, List<Param> params, Class<?> record) {
        RecordComponent[] rc = record.getRecordComponents();
        Arg[] args = new Arg[rc.length];
        for (int i = 0; i < rc.length; i++) {
            Class<?> t = rc[i].getType();
            Object sample = t == long.class ? (Object) 0L : t == int.class ? (Object) 0 : t == float.class ? (Object) 0f
                    : DeviceBuffer.class.isAssignableFrom(t) ? null : new Object();
            args[i] = new Arg(rc[i].getName(), sample);
        }
        check(kernel, params, args);
    }

    private static IllegalStateException mismatch(String kernel, int i, Param p, String got) {
        return new IllegalStateException("OpenCL kernel " + kernel + ", argument " + i + ": the kernel declares \""
                + p.declared() + "\" (" + p.kind().name().toLowerCase(java.util.Locale.ROOT) + "), the launch passes " + got);
    }

    private static String describe(Object v) {
        Kind k = kindOf(v);
        return k != null ? k.name().toLowerCase(java.util.Locale.ROOT) : v.getClass().getName();
    }
}
