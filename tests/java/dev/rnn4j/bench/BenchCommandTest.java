package dev.rnn4j.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bench command's own logic; running the suite itself is too slow for a unit test (and never timed here). */
class BenchCommandTest {

    @Test
    void helpPrintsUsageWithoutBuilding() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = BenchCommand.run(new String[]{"--help"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code);
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("usage: rnn4j bench"));
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void findsTheSourceTreeBesideTheJarsTarget(@TempDir Path dir) throws Exception {
        Path jar = dir.resolve("target").resolve("rnn4j-x.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> BenchCommand.sourceRoot(jar));
        assertTrue(e.getMessage().startsWith("bench needs the rnn4j source tree"), e.getMessage());
        Files.createDirectories(dir.resolve("bench"));
        Files.writeString(dir.resolve("bench").resolve("pom.xml"), "<project/>");
        assertEquals(dir, BenchCommand.sourceRoot(jar));
    }

    @Test
    void theBenchProjectIsInTheRepository() {
        Path root = Path.of(System.getProperty("rnn4j.conformance.dir")).getParent().getParent();
        assertTrue(Files.isRegularFile(root.resolve("bench").resolve("pom.xml")));
        assertTrue(Files.isRegularFile(root.resolve("bench/src/main/java/dev/rnn4j/bench/Suite.java")));
    }
}
