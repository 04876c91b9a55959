package dev.rnn4j.conformance;

import dev.rnn4j.Device;
import dev.rnn4j.io.SafeTensorsFormatException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code conformance [--backend NAME] [--verbose] PATH...}: runs conformance cases (files, or
 * directories whose {@code *.safetensors} files are taken in name order) on one backend and
 * prints one line per case, then {@code N passed, N failed}.
 *
 * <p>Exit status: 0 if at least one case ran and all passed; 1 if any case failed; 2 for a
 * usage error, a missing, unreadable or corrupt file, a directory without cases, or a backend
 * that is unknown or unavailable (one line on {@code err}, no stack trace). All files are read
 * and validated before any case runs.
 */
public final class ConformanceCommand {
    private ConformanceCommand() {}

    public static final String USAGE = "usage: conformance [--backend NAME] [--verbose] PATH...  (files or directories of *.safetensors cases)";

    public static int run(String[] args, PrintStream out, PrintStream err) {
        String backend = "reference";
        boolean verbose = false;
        List<String> paths = new ArrayList<>();
        boolean optionsDone = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (optionsDone || !a.startsWith("-") || a.equals("-")) {
                paths.add(a);
            } else if (a.equals("--")) {
                optionsDone = true;
            } else if (a.equals("--backend") || a.equals("-b")) {
                if (i + 1 >= args.length) return usage(err, "conformance: " + a + " needs a backend name");
                backend = args[++i];
            } else if (a.startsWith("--backend=")) {
                backend = a.substring("--backend=".length());
            } else if (a.equals("--verbose") || a.equals("-v")) {
                verbose = true;
            } else if (a.equals("--help") || a.equals("-h")) {
                out.println(USAGE);
                return 0;
            } else {
                return usage(err, "conformance: unknown option " + a);
            }
        }
        if (backend.isEmpty()) return usage(err, "conformance: empty backend name");
        if (paths.isEmpty()) return usage(err, "conformance: no PATH given");

        List<Path> files = new ArrayList<>();
        for (String p : paths) {
            Path path = Path.of(p);
            if (Files.isDirectory(path)) {
                List<Path> found;
                try (Stream<Path> s = Files.list(path)) {
                    found = s.filter(f -> f.getFileName().toString().endsWith(".safetensors") && !Files.isDirectory(f))
                            .sorted().toList();
                } catch (IOException | RuntimeException e) {
                    return fail(err, "conformance: cannot list directory " + path + ": " + ioReason(e));
                }
                if (found.isEmpty()) return fail(err, "conformance: no *.safetensors files in directory " + path);
                files.addAll(found);
            } else if (Files.exists(path)) {
                files.add(path);
            } else {
                return fail(err, "conformance: no such file or directory: " + path);
            }
        }

        List<ConformanceCase> cases = new ArrayList<>();
        for (Path f : files) {
            try {
                cases.add(ConformanceCase.load(f));
            } catch (SafeTensorsFormatException | ConformanceFormatException e) {
                return fail(err, "conformance: invalid case file " + oneLine(e.getMessage()));
            } catch (IOException | RuntimeException e) {
                return fail(err, "conformance: cannot read " + f + ": " + ioReason(e));
            }
        }

        Device device;
        try {
            device = Device.open(backend);
        } catch (RuntimeException | LinkageError e) {
            return fail(err, "conformance: cannot open backend '" + backend + "': " + oneLine(e.getMessage()));
        }
        int passed = 0, failed = 0;
        try (device) {
            for (ConformanceCase c : cases) {
                CaseResult r;
                try {
                    r = ConformanceRunner.run(c, device);
                } catch (RuntimeException e) {
                    r = new CaseResult(c.name(), c.file(), device.name(), List.of(),
                            List.of("unexpected error: " + ConformanceRunner.describe(e)));
                }
                out.println(r.line());
                if (verbose) {
                    for (TensorResult t : r.tensors()) out.println("    " + t.describe());
                }
                if (r.passed()) passed++;
                else failed++;
            }
        }
        out.println(passed + " passed, " + failed + " failed");
        out.flush();
        return failed == 0 && passed > 0 ? 0 : 1;
    }

    private static int usage(PrintStream err, String message) {
        err.println(message);
        err.println(USAGE);
        return 2;
    }

    private static int fail(PrintStream err, String message) {
        err.println(message);
        return 2;
    }

    private static String ioReason(Exception e) {
        if (e instanceof NoSuchFileException) return "no such file";
        if (e instanceof AccessDeniedException) return "permission denied";
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + oneLine(m));
    }

    private static String oneLine(String s) {
        if (s == null) return "(no message)";
        return s.replace("\r", "").replace("\n  ", " ").replace('\n', ' ');
    }
}
