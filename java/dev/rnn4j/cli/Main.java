package dev.rnn4j.cli;

import dev.rnn4j.Device;
import dev.rnn4j.conformance.ConformanceCommand;
import dev.rnn4j.natives.NativeLib;
import dev.rnn4j.natives.NativeLibraryException;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The {@code ./rnn4j} command line: dispatches a subcommand and owns all printing (the library
 * itself never prints). Exit codes: 0 success, 1 the command failed (one line on stderr; a stack
 * trace only with {@code RNN4J_DEBUG=1}), 2 usage error.
 */
public final class Main {

    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE_ERROR = 2;

    static final String USAGE = """
            usage: rnn4j <command> [arguments]

            commands:
              lm train|eval|sample
                                train, evaluate or sample the SRU paper's word-level language
                                model (with no data flags: the bundled corpus; lm --help)
              conformance [--backend NAME] PATH...
                                check the layers against conformance vectors (files or
                                directories, e.g. tests/conformance)
              onnx test [--backend NAME] PATH...
                                run ONNX backend-test cases (e.g. tests/onnx-node)
              onnx run MODEL [--backend NAME] [--input NAME=FILE.pb]...
                                run an ONNX model and print its outputs (onnx --help)
              onnx export CHECKPOINT [-o MODEL.onnx]
                                write an `lm train` checkpoint's model as an ONNX model
              devices           list the backends and whether each can run here
              bench [--full]    build and run the benchmarks (bench/), print the table, write a chart
              version           print the rnn4j, Java and native library versions
              help              print this help

            environment:
              RNN4J_DEBUG=1     print the stack trace of an error
            """;

    /** A subcommand: its arguments (without the command name) in, exit code out. */
    @FunctionalInterface
    interface Command {
        int run(String[] args, PrintStream out, PrintStream err) throws Exception;
    }

    private final Supplier<NativeLib> nativeLib;
    private final Map<String, Command> commands = new LinkedHashMap<>();

    /** {@code nativeLib} is where version and devices get the native library from (tests pass a failing one). */
    Main(Supplier<NativeLib> nativeLib) {
        this.nativeLib = nativeLib;
        commands.put("lm", dev.rnn4j.lm.LmCommand::run);
        commands.put("conformance", ConformanceCommand::run);
        commands.put("onnx", OnnxCommand::run);
        commands.put("devices", this::devices);
        commands.put("bench", dev.rnn4j.bench.BenchCommand::run);
        commands.put("version", this::version);
    }

    public static void main(String[] args) {
        int code = run(args, System.out, System.err, "1".equals(System.getenv("RNN4J_DEBUG")));
        System.out.flush();
        System.err.flush();
        System.exit(code);
    }

    /** Runs the command line {@code args}; returns the exit code. */
    static int run(String[] args, PrintStream out, PrintStream err, boolean debug) {
        return new Main(NativeLib::get).dispatch(args, out, err, debug);
    }

    int dispatch(String[] args, PrintStream out, PrintStream err, boolean debug) {
        if (args.length == 0 || isHelp(args[0])) {
            out.print(USAGE);
            return OK;
        }
        String name = args[0];
        Command cmd = commands.get(name);
        if (cmd == null) {
            err.println("rnn4j: unknown command '" + name + "'");
            err.print(USAGE);
            return USAGE_ERROR;
        }
        return invoke(name, cmd, Arrays.copyOfRange(args, 1, args.length), out, err, debug);
    }

    /** Runs one command, turning any exception into a one-line message (and exit code 1). */
    static int invoke(String name, Command cmd, String[] args, PrintStream out, PrintStream err, boolean debug) {
        try {
            return cmd.run(args, out, err);
        } catch (Exception | LinkageError e) {
            out.flush();
            err.println("rnn4j: " + name + ": " + describe(e));
            if (debug) e.printStackTrace(err);
            return FAILED;
        }
    }

    private static boolean isHelp(String a) {
        return a.equals("help") || a.equals("--help") || a.equals("-h");
    }

    /**
     * The message of {@code e} on one line. Exceptions whose message is written for the user
     * (argument and state errors, I/O, rnn4j's own) print just the message; others get their
     * type in front, since "null" or an index alone says little.
     */
    static String describe(Throwable e) {
        String msg = e.getMessage();
        if (msg == null || msg.isBlank()) return e.getClass().getName();
        msg = msg.strip().replaceAll("\\s*\\R\\s*", " ");
        boolean userFacing = e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof UnsupportedOperationException || e instanceof IOException
                || e instanceof UncheckedIOException || e.getClass().getName().startsWith("dev.rnn4j.");
        return userFacing ? msg : e.getClass().getSimpleName() + ": " + msg;
    }

    private static int noArguments(String name, String[] args, PrintStream err) {
        err.println("rnn4j: " + name + " takes no arguments (got: " + String.join(" ", args) + ")");
        err.print(USAGE);
        return USAGE_ERROR;
    }

    private int version(String[] args, PrintStream out, PrintStream err) {
        if (args.length != 0) return noArguments("version", args, err);
        String own = Main.class.getPackage().getImplementationVersion();
        out.println("rnn4j " + (own != null ? own : "(version unknown: not run from the rnn4j jar)"));
        out.println("java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ", "
                + System.getProperty("java.home") + ")");
        try {
            NativeLib lib = nativeLib.get();
            out.println("native library " + lib.version() + ", ABI " + lib.abiVersion()
                    + ", from " + lib.source() + ": " + lib.path());
        } catch (NativeLibraryException e) {
            out.println("native library not loaded: " + describe(e));
        }
        return OK;
    }

    private int devices(String[] args, PrintStream out, PrintStream err) {
        if (args.length != 0) return noArguments("devices", args, err);
        for (Device.BackendInfo b : Device.backends())
            out.println(row(b.name(), b.available() ? "available" : "unavailable", b.detail()));
        String status, detail;
        try {
            NativeLib lib = nativeLib.get();
            status = "loaded";
            detail = "librnn4j " + lib.version() + " (ABI " + lib.abiVersion() + ") from " + lib.path();
        } catch (NativeLibraryException e) {
            status = "unavailable";
            detail = describe(e);
        }
        out.println(row("native", status, detail));
        return OK;
    }

    private static String row(String name, String status, String detail) {
        return String.format("%-10s %-12s %s", name, status, detail == null ? "" : detail.replaceAll("\\R", " "));
    }
}
