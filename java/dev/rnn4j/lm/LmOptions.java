package dev.rnn4j.lm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The options of {@code rnn4j lm train|eval|sample}: a table of names and kinds per subcommand,
 * and the options given on a command line, parsed and checked against one of them (unknown
 * options, repeated ones, missing values, numbers that do not parse, missing files are usage
 * errors). The meaning of the options is {@link TrainPlan}'s and {@link LmCommand}'s.
 */
final class LmOptions {
    /** What an option's value is. */
    enum Kind { FLAG, INT, LONG, DOUBLE, FILE, OUT_FILE, TEXT }

    /** Flags that choose the data; when none is given, train uses the bundled corpus. */
    static final List<String> DATA_FLAGS = List.of("train", "dev", "test");


    static final Map<String, Kind> TRAIN_OPTIONS = new LinkedHashMap<>();
    static {
        for (String f : DATA_FLAGS) TRAIN_OPTIONS.put(f, Kind.FILE);
        TRAIN_OPTIONS.put("lstm", Kind.FLAG);
        TRAIN_OPTIONS.put("sru2", Kind.FLAG);
        TRAIN_OPTIONS.put("layer_norm", Kind.FLAG);
        for (String f : List.of("batch_size", "unroll_size", "max_epoch", "d", "depth", "lr_decay_epoch"))
            TRAIN_OPTIONS.put(f, Kind.INT);
        for (String f : List.of("dropout", "rnn_dropout", "bias", "lr", "lr_decay", "weight_decay", "clip_grad", "save_interval"))
            TRAIN_OPTIONS.put(f, Kind.DOUBLE);
        TRAIN_OPTIONS.put("backend", Kind.TEXT);
        TRAIN_OPTIONS.put("seed", Kind.LONG);
        TRAIN_OPTIONS.put("init", Kind.FILE);
        TRAIN_OPTIONS.put("resume", Kind.FILE);
        TRAIN_OPTIONS.put("save", Kind.OUT_FILE);
    }



    static final Map<String, Kind> EVAL_OPTIONS = new LinkedHashMap<>();
    static {
        EVAL_OPTIONS.put("checkpoint", Kind.FILE);
        EVAL_OPTIONS.put("data", Kind.FILE);
        EVAL_OPTIONS.put("backend", Kind.TEXT);
        EVAL_OPTIONS.put("unroll_size", Kind.INT);
    }

    static final Map<String, Kind> SAMPLE_OPTIONS = new LinkedHashMap<>();
    static {
        SAMPLE_OPTIONS.put("checkpoint", Kind.FILE);
        SAMPLE_OPTIONS.put("words", Kind.INT);
        SAMPLE_OPTIONS.put("temperature", Kind.DOUBLE);
        SAMPLE_OPTIONS.put("seed", Kind.LONG);
        SAMPLE_OPTIONS.put("backend", Kind.TEXT);
    }

    /** The options given, by name, in command-line order. */
    final Map<String, String> given = new LinkedHashMap<>();

    private LmOptions() {}

    static LmOptions parse(String[] args, Map<String, Kind> spec) throws UsageException {
        LmOptions o = new LmOptions();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || a.length() == 2)
                throw new UsageException("unexpected argument '" + a + "' (options are written --name value)");
            String name = a.substring(2), value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            Kind kind = spec.get(name);
            if (kind == null) throw new UsageException("unknown option --" + name);
            if (o.given.containsKey(name)) throw new UsageException("--" + name + " is given twice");
            if (kind == Kind.FLAG) {
                if (value != null) throw new UsageException("--" + name + " takes no value");
                value = "true";
            } else if (value == null) {
                if (i + 1 >= args.length) throw new UsageException("--" + name + " needs a value");
                value = args[++i];
            }
            check(name, kind, value);
            o.given.put(name, value);
        }
        return o;
    }

    static void check(String name, Kind kind, String v) throws UsageException {
        try {
            switch (kind) {
                case INT -> Integer.parseInt(v.strip());
                case LONG -> Long.parseLong(v.strip());
                case DOUBLE -> {
                    double d = Double.parseDouble(v.strip());
                    if (Double.isNaN(d)) throw new NumberFormatException();
                }
                case FILE -> {
                    if (!Files.isRegularFile(Path.of(v)))
                        throw new UsageException("--" + name + ": no such file: " + v);
                }
                case OUT_FILE -> {
                    Path p = Path.of(v).toAbsolutePath();
                    if (Files.isDirectory(p)) throw new UsageException("--" + name + ": " + v + " is a directory");
                    if (p.getParent() != null && !Files.isDirectory(p.getParent()))
                        throw new UsageException("--" + name + ": no such directory: " + p.getParent());
                }
                case TEXT -> {
                    if (v.isEmpty()) throw new UsageException("--" + name + " needs a non-empty value");
                }
                case FLAG -> { }
            }
        } catch (NumberFormatException e) {
            String what = kind == Kind.DOUBLE ? "a number" : "an integer";
            throw new UsageException("--" + name + ": expected " + what + ", got '" + v + "'");
        } catch (java.nio.file.InvalidPathException e) {
            throw new UsageException("--" + name + ": invalid path '" + v + "'");
        }
    }

    boolean has(String name) { return given.containsKey(name); }

    String get(String name) { return given.get(name); }

    /** Whether two option values of a kind mean the same (1e-5 and 0.00001, say). */
    static boolean sameValue(Kind kind, String a, String b) {
        if (a == null) return false;
        try {
            return switch (kind) {
                case INT, LONG -> Long.parseLong(a.strip()) == Long.parseLong(b.strip());
                case DOUBLE -> Double.parseDouble(a.strip()) == Double.parseDouble(b.strip());
                default -> a.equals(b);
            };
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static int intOf(Map<String, String> m, String k) { return Integer.parseInt(m.get(k).strip()); }

    private static double dblOf(Map<String, String> m, String k) { return Double.parseDouble(m.get(k).strip()); }
}
