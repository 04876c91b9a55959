// flink/example finds its JDK as ./rnn4j does and hands the same JDK to Maven, so a machine whose
// `java` is older than 25 and whose JAVA_HOME is unset still builds (Maven packs a Java 25 module
// descriptor). Maven and the old `java` are stand-ins here: the launcher is run from a copy with
// nothing built, so it calls "mvn" first, which reports the JDK it was given.
package dev.rnn4j.flink;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ExampleLauncherTest {
    private static Path executable(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    /** Runs a copy of flink/example with JAVA_HOME unset and {@code bin} first on the PATH; returns its output. */
    private static String run(Path dir, Path bin) throws Exception {
        Path flink = Files.createDirectories(dir.resolve("repo/flink"));
        Files.copy(Path.of("example"), flink.resolve("example"));
        executable(bin.resolve("mvn"), "#!/bin/sh\necho \"mvn: JAVA_HOME=$JAVA_HOME\"\n\"$JAVA_HOME/bin/java\" -version 2>&1 | head -n 1\n"
                + "echo \"mvn: java on PATH: $(command -v java)\"\nexit 3\n");
        ProcessBuilder pb = new ProcessBuilder("bash", flink.resolve("example").toString()).redirectErrorStream(true);
        pb.environment().remove("JAVA_HOME");
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertNotEquals(0, p.exitValue(), out);   // the stand-in Maven fails the build on purpose
        return out;
    }

    private static String major(String javaHome) throws Exception {
        Process p = new ProcessBuilder(javaHome + "/bin/java", "-version").redirectErrorStream(true).start();
        String v = new String(p.getInputStream().readAllBytes());
        p.waitFor(30, TimeUnit.SECONDS);
        return v.lines().findFirst().orElse("");
    }

    @Test
    void mavenRunsOnTheJdkFoundForTheJob(@TempDir Path dir) throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        // The java on the PATH is this JVM's (25 or newer): the launcher must pass its home to Maven.
        Path javaHome = Path.of(System.getProperty("java.home")).toRealPath();
        Files.createSymbolicLink(bin.resolve("java"), javaHome.resolve("bin/java"));
        String out = run(dir, bin);
        assertTrue(out.contains("mvn: JAVA_HOME=" + javaHome + "\n"), out);
        assertTrue(out.contains("mvn: java on PATH: " + javaHome + "/bin/java"), out);
    }

    @Test
    void anOldJavaOnThePathIsPassedOverForMavenToo(@TempDir Path dir) throws Exception {
        // What the issue saw: JAVA_HOME unset, `java` is 17, a JDK 25 under /usr/lib/jvm.
        List<Path> jdks = new ArrayList<>();
        Path jvm = Path.of("/usr/lib/jvm");
        if (Files.isDirectory(jvm))
            try (var s = Files.list(jvm)) {
                for (Path d : s.toList())
                    if (Files.isExecutable(d.resolve("bin/java")) && major(d.toString()).matches(".*version \"(2[5-9]|[3-9][0-9]).*")) jdks.add(d);
            }
        assumeTrue(!jdks.isEmpty(), "no JDK >= 25 under /usr/lib/jvm");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        executable(bin.resolve("java"), "#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\nexit 0\n");
        String out = run(dir, bin);
        String line = out.lines().filter(l -> l.startsWith("mvn: JAVA_HOME=")).findFirst().orElse(null);
        assertNotNull(line, out);
        String home = line.substring("mvn: JAVA_HOME=".length());
        assertTrue(home.startsWith("/usr/lib/jvm/"), out);
        assertTrue(major(home).matches(".*version \"(2[5-9]|[3-9][0-9]).*"), out);
        assertTrue(out.contains("mvn: java on PATH: " + home + "/bin/java"), out);
    }
}
