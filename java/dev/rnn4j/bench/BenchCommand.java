package dev.rnn4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code ./rnn4j bench [--full] [options]}: builds the JMH benchmarks of {@code bench/} (a Maven
 * project of its own, so the library's build stays lean) against the jar this command runs from,
 * then runs their suite ({@code dev.rnn4j.bench.Suite} in {@code bench/}) in a child JVM, which
 * prints the table and writes {@code report.md}, {@code results.csv} and {@code chart.png} to
 * {@code target/bench/} (or {@code --out DIR}).
 *
 * <p>Steps: install the running jar into the local Maven repository (the bench project depends
 * on it), {@code mvn -f bench/pom.xml package} (log in {@code target/bench-build.log}, shown only
 * on failure), then the suite. It needs the source tree the jar was built in, and Maven.
 */
public final class BenchCommand {
    private BenchCommand() {}

    static final String USAGE = """
            usage: rnn4j bench [--full] [--out DIR] [--backends a,b] [--shapes TxBxd,...] [--lm|--no-lm] [--no-peers] [--varlen-only]

              (default)   the short suite, a few minutes: the cpu backend, ONNX Runtime, the cpu backend's SGEMM and the
                          copy bandwidth at the four shapes 35x32x910, 32x32x256, 128x32x512, 35x1x910
              --full      every available backend and the 6-layer SRU language-model step, longer measurement
              --out DIR   where report.md, results.csv and chart.png go (default target/bench)
              --varlen-only  only the variable-length batches (lengths uniform in [T/8, T]) against the same batches padded
            """;

    public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        Path jar = ownLocation();
        Path root = sourceRoot(jar);
        Path javaHome = Path.of(System.getProperty("java.home"));
        Path log = root.resolve("target").resolve("bench-build.log");
        Files.createDirectories(log.getParent());

        err.println("rnn4j bench: building the benchmarks (log: " + log + ")...");
        maven(root, javaHome, log, err, "-B", "-q", "org.apache.maven.plugins:maven-install-plugin:3.1.3:install-file",
                "-Dfile=" + jar, "-DpomFile=" + root.resolve("pom.xml"));
        maven(root, javaHome, log, err, "-B", "-q", "-f", root.resolve("bench").resolve("pom.xml").toString(), "package");

        Path benchTarget = root.resolve("bench").resolve("target");
        List<String> cmd = new ArrayList<>(List.of(javaHome.resolve("bin").resolve("java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "--sun-misc-unsafe-memory-access=allow", "-Djava.awt.headless=true",
                "-cp", benchTarget.resolve("classes") + java.io.File.pathSeparator + benchTarget.resolve("lib") + "/*",
                "dev.rnn4j.bench.Suite"));
        cmd.addAll(Arrays.asList(args));
        if (!Arrays.asList(args).contains("--out")) cmd.addAll(List.of("--out", root.resolve("target").resolve("bench").toString()));
        Process p = new ProcessBuilder(cmd).directory(root.toFile()).start();
        p.getOutputStream().close();
        Thread errPump = pump(p.getErrorStream(), err);
        pump(p.getInputStream(), out).join();
        errPump.join();
        int code = p.waitFor();
        if (code != 0) throw new IllegalStateException("the benchmark suite failed (exit " + code + ")");
        return 0;
    }

    /** The jar (or classes directory) this class was loaded from. */
    private static Path ownLocation() throws URISyntaxException {
        var src = BenchCommand.class.getProtectionDomain().getCodeSource();
        if (src == null) throw new IllegalStateException("cannot tell where the rnn4j classes were loaded from");
        return Path.of(src.getLocation().toURI());
    }

    /** The source tree: the jar sits in its target/; it must hold bench/pom.xml. */
    static Path sourceRoot(Path jar) {
        Path target = jar.getParent(), root = target == null ? null : target.getParent();
        if (root == null || !Files.isRegularFile(jar) || !Files.isRegularFile(root.resolve("bench").resolve("pom.xml")))
            throw new IllegalStateException("bench needs the rnn4j source tree: run it as ./rnn4j bench from a clone"
                    + " (looked for bench/pom.xml beside the jar's target/, from " + jar + ")");
        return root;
    }

    private static void maven(Path root, Path javaHome, Path log, PrintStream err, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(findOnPath("mvn"));
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("JAVA_HOME", javaHome.toString());
        Process p = pb.start();
        p.getOutputStream().close();
        if (p.waitFor() != 0) {
            err.print(Files.readString(log));
            throw new IllegalStateException("building the benchmarks failed: mvn " + String.join(" ", args) + " (log: " + log + ")");
        }
    }

    private static String findOnPath(String exe) {
        String path = System.getenv("PATH");
        if (path != null)
            for (String dir : path.split(java.io.File.pathSeparator)) {
                Path c = Path.of(dir).resolve(exe);
                if (Files.isExecutable(c)) return c.toString();
            }
        throw new IllegalStateException("Maven (mvn) is needed to build the benchmarks; install it and run again");
    }

    private static Thread pump(InputStream in, PrintStream to) {
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    to.write(buf, 0, n);
                    to.flush();
                }
            } catch (IOException ignored) {
                // the child ended
            }
        });
        return t;
    }
}
