package dev.rnn4j.cli;

import dev.rnn4j.Device;
import dev.rnn4j.natives.NativeLib;
import dev.rnn4j.natives.NativeLibraryException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The command line's dispatch, output and exit codes, with stdout and stderr captured. */
class MainTest {

    /** One run's exit code and captured streams. */
    private record Result(int code, String out, String err) {
        List<String> outLines() { return out.lines().toList(); }
    }

    private static Result run(String... args) {
        return run(new Main(NativeLib::get), false, args);
    }

    private static Result run(Main main, boolean debug, String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code;
        try (var o = new PrintStream(out, true, StandardCharsets.UTF_8);
             var e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = main.dispatch(args, o, e, debug);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static Main withoutNativeLibrary(String reason) {
        return new Main(() -> { throw new NativeLibraryException(reason); });
    }

    @Test
    void noArgumentsPrintsUsage() {
        Result r = run();
        assertEquals(0, r.code());
        assertEquals(Main.USAGE, r.out());
        assertEquals("", r.err());
    }

    @Test
    void helpInEveryFormPrintsUsage() {
        for (String h : List.of("help", "--help", "-h")) {
            Result r = run(h);
            assertEquals(0, r.code(), h);
            assertTrue(r.out().startsWith("usage: rnn4j <command>"), r.out());
            for (String cmd : List.of("conformance", "devices", "version", "help"))
                assertTrue(r.out().contains("\n  " + cmd + " "), cmd + " missing from usage");
        }
    }

    @Test
    void unknownCommandIsAUsageErrorOnStderr() {
        Result r = run("frobnicate", "x");
        assertEquals(2, r.code());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith("rnn4j: unknown command 'frobnicate'\n"), r.err());
        assertTrue(r.err().contains(Main.USAGE), r.err());
    }

    @Test
    void devicesListsEveryBackendAndTheNativeLibrary() {
        Result r = run("devices");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.outLines();
        List<Device.BackendInfo> backends = Device.backends();
        assertEquals(backends.size() + 1, lines.size(), r.out());
        for (int i = 0; i < backends.size(); i++) {
            Device.BackendInfo b = backends.get(i);
            String[] cols = lines.get(i).split("\\s+", 3);
            assertEquals(b.name(), cols[0]);
            assertEquals(b.available() ? "available" : "unavailable", cols[1]);
            assertEquals(b.detail(), cols[2]);
        }
        assertTrue(lines.getFirst().matches("reference\\s+available\\s+.+"), lines.getFirst());
        String nativeLine = lines.getLast();
        assertTrue(nativeLine.matches("native\\s+loaded\\s+librnn4j .*"), nativeLine);
        assertTrue(nativeLine.contains(NativeLib.get().version()), nativeLine);
        assertTrue(nativeLine.contains(NativeLib.get().path().toString()), nativeLine);
    }

    @Test
    void devicesSaysWhyTheNativeLibraryIsUnavailable() {
        Result r = run(withoutNativeLibrary("no librnn4j for plan9-mips"), false, "devices");
        assertEquals(0, r.code());
        assertTrue(r.outLines().getLast().matches("native\\s+unavailable\\s+no librnn4j for plan9-mips"), r.out());
    }

    @Test
    void devicesTakesNoArguments() {
        Result r = run("devices", "--all");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("rnn4j: devices takes no arguments"), r.err());
    }

    @Test
    void versionPrintsJavaAndNativeVersions() {
        Result r = run("version");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.outLines();
        assertEquals(3, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("rnn4j "), lines.get(0));
        assertTrue(lines.get(1).startsWith("java " + Runtime.version() + " "), lines.get(1));
        assertTrue(lines.get(2).startsWith("native library " + NativeLib.get().version() + ", ABI 1, from "), lines.get(2));
    }

    @Test
    void versionGivesTheReasonWhenNativeLibraryCannotLoad() {
        Result r = run(withoutNativeLibrary("tried: [1] nothing"), false, "version");
        assertEquals(0, r.code());
        assertEquals("native library not loaded: tried: [1] nothing", r.outLines().getLast());
    }

    @Test
    void failingCommandPrintsOneLineWithoutStackTrace() {
        Main.Command boom = (args, out, err) -> { throw new IllegalArgumentException("no such directory: x\nsecond line"); };
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code = Main.invoke("conformance", boom, new String[0], new PrintStream(out, true), new PrintStream(err, true), false);
        assertEquals(1, code);
        assertEquals("rnn4j: conformance: no such directory: x second line\n", err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void debugAddsTheStackTrace() {
        Main.Command boom = (args, out, err) -> { throw new IllegalStateException("broken"); };
        var err = new ByteArrayOutputStream();
        int code = Main.invoke("devices", boom, new String[0], new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true), true);
        assertEquals(1, code);
        String e = err.toString();
        assertTrue(e.startsWith("rnn4j: devices: broken\n"), e);
        assertTrue(e.contains("java.lang.IllegalStateException: broken"), e);
        assertTrue(e.contains("\tat "), e);
    }

    @Test
    void bugTypeExceptionsKeepTheirTypeInTheMessage() {
        assertEquals("NullPointerException: x is null", Main.describe(new NullPointerException("x is null")));
        assertEquals("java.lang.NullPointerException", Main.describe(new NullPointerException()));
        assertEquals("bad shape", Main.describe(new IllegalArgumentException("bad shape")));
        assertEquals("no library", Main.describe(new NativeLibraryException("no library")));
    }

    @Test
    void checkedExceptionsAreReportedLikeOthers() {
        Main.Command checked = (args, out, err) -> { throw new java.io.IOException("cannot read " + args[0]); };
        var err = new ByteArrayOutputStream();
        int code = Main.invoke("conformance", checked, new String[] {"dir"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true), false);
        assertEquals(1, code);
        assertEquals("rnn4j: conformance: cannot read dir\n", err.toString());
    }
}
