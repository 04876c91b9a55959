package dev.rnn4j.io;

import dev.rnn4j.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SafeTensors#write} is atomic under SIGKILL: a child JVM rewrites one file over and over
 * (each version self-consistent: every payload value equals the version's step) and is killed
 * with SIGKILL at random moments, 20 times. After every kill the file must read as a complete,
 * valid version, never older than the last one seen. The checkpoints of the language model are
 * written through the same call.
 */
class AtomicWriteKillTest {
    static final int KILLS = 20;
    static final int PAYLOAD = 1 << 20;   // 4 MiB per version: a write takes long enough to be interrupted

    @TempDir
    Path dir;

    /** The child: writes versions 0, 1, 2, ... of the file forever, printing each step once it is in place. */
    public static void main(String[] args) throws IOException {
        Path file = Path.of(args[0]);
        long step = Long.parseLong(args[1]);
        float[] payload = new float[PAYLOAD];
        for (;; step++) {
            Arrays.fill(payload, step);
            write(file, step, payload);
            System.out.println(step);
            System.out.flush();
        }
    }

    static void write(Path file, long step, float[] payload) throws IOException {
        Map<String, HostTensor> t = new LinkedHashMap<>();
        t.put("step", new HostTensor(new int[] {1}, new float[] {step}));
        t.put("payload", new HostTensor(new int[] {payload.length}, payload));
        SafeTensors.write(file, t, Map.of("step", Long.toString(step)));
    }

    /** Reads the file and checks it is one complete version; returns its step. */
    static long readVersion(Path file) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(file);
        long step = Long.parseLong(c.metadata().get("step"));
        assertEquals(step, (long) c.tensor("step").data()[0], "the step tensor matches the metadata");
        float[] p = c.tensor("payload").data();
        assertEquals(PAYLOAD, p.length);
        for (float v : p) if (v != step) throw new AssertionError("version " + step + " mixes in the value " + v);
        return step;
    }

    @Test
    void killingTheWriterAtRandomMomentsNeverLeavesAPartialFile() throws Exception {
        Path file = dir.resolve("checkpoint.safetensors");
        write(file, 0, filled(0));
        long last = 0;
        int interruptedWrites = 0;
        SplittableRandom rng = new SplittableRandom(0x4B111L);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int k = 0; k < KILLS; k++) {
            Process p = new ProcessBuilder(java, "-Xmx128m", "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"),
                    "-cp", System.getProperty("java.class.path"), AtomicWriteKillTest.class.getName(),
                    file.toString(), Long.toString(last + 1))
                    .redirectErrorStream(true).start();
            try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String first = out.readLine();           // the child has written at least one version
                assertTrue(first != null, "the writer died before writing anything");
                Thread.sleep(rng.nextInt(5, 120));       // then kill it somewhere in a later write
                p.toHandle().destroyForcibly();          // SIGKILL on Linux; keeps the pipe open to read what it printed
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the killed writer did not exit");
                long reported = Long.parseLong(first);
                String line;
                while ((line = out.readLine()) != null) if (!line.isBlank()) reported = Long.parseLong(line.trim());
                long step = readVersion(file);
                assertTrue(step >= reported, "the file is older (" + step + ") than a version reported in place (" + reported + ")");
                assertTrue(step <= reported + 1, "the file is a version (" + step + ") the writer never started");
                if (step == reported) interruptedWrites++;   // the write of reported + 1 was cut short (or not begun)
                assertTrue(step >= last, "went back from " + last + " to " + step);
                last = step;
            } finally {
                p.destroyForcibly();
            }
        }
        try (var s = Files.list(dir)) {
            List<Path> crashes = s.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList();
            assertTrue(crashes.isEmpty(), "JVM crash reports: " + crashes);
        }
        System.out.println("atomic write: " + KILLS + " kills, last version " + last + ", " + interruptedWrites
                + " kills left the previous version in place");
        assertEquals(last, readVersion(file));
    }

    private static float[] filled(long v) {
        float[] a = new float[PAYLOAD];
        Arrays.fill(a, v);
        return a;
    }
}
