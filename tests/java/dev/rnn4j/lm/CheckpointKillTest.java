package dev.rnn4j.lm;

import dev.rnn4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code rnn4j lm train --save FILE} killed with SIGKILL while it writes checkpoints, 20 times:
 * a child JVM trains a tiny model and checkpoints every few milliseconds (mid-epoch included);
 * it is killed at a random moment soon after a checkpoint landed, and the next child resumes
 * from the file. After every kill the file must read as safetensors and as a checkpoint whose
 * training position never goes back; at the end a resume must run to completion.
 */
class CheckpointKillTest {
    static final int KILLS = 20;

    @TempDir
    Path dir;

    @Test
    void killedTrainingAlwaysLeavesALoadableCheckpointAndResumes() throws Exception {
        Path[] c = LmCommandTest.corpus(dir);
        Path ckpt = dir.resolve("lm.safetensors"), log = dir.resolve("child.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        SplittableRandom rng = new SplittableRandom(0xC4EC4L);
        long lastPosition = -1;
        List<String> positions = new ArrayList<>();
        for (int k = 0; k < KILLS; k++) {
            List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
                    "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"), "-cp", System.getProperty("java.class.path"),
                    "dev.rnn4j.cli.Main", "lm"));
            if (k == 0) cmd.addAll(List.of(LmCommandTest.tiny(c, "--save", ckpt.toString(), "--max_epoch", "100000",
                    "--save_interval", "0.0001")));
            else cmd.addAll(List.of("train", "--resume", ckpt.toString(), "--max_epoch", "100000", "--save_interval", "0.0001"));
            FileTime before = Files.exists(ckpt) ? Files.getLastModifiedTime(ckpt) : null;
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                // Wait for a checkpoint written by this child, then kill it a moment later: in its next write or between writes.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (p.isAlive() && System.nanoTime() < deadline
                        && (!Files.exists(ckpt) || Files.getLastModifiedTime(ckpt).equals(before))) Thread.sleep(5);
                assertTrue(p.isAlive(), "the training exited early: " + Files.readString(log));
                Thread.sleep(rng.nextInt(0, 60));
            } finally {
                p.toHandle().destroyForcibly();              // SIGKILL
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the killed training did not exit");
            }
            SafeTensors.read(ckpt);                          // valid safetensors
            Checkpoint.Contents cc = Checkpoint.load(ckpt);  // and a complete checkpoint
            long position = (long) cc.state().epoch() << 32 | cc.state().window();
            assertTrue(position >= lastPosition, "the checkpoint went back from " + lastPosition + " to " + position);
            lastPosition = position;
            positions.add(cc.state().epoch() + "." + cc.state().window());
        }
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(f -> f.getFileName().toString().startsWith("hs_err")), "a JVM crashed");
        }
        long cutShort;   // a kill during a write leaves that write's temporary file behind
        try (var s = Files.list(dir)) {
            cutShort = s.filter(f -> f.getFileName().toString().endsWith(".tmp")).count();
        }
        // A resume runs to the end: one more epoch than the checkpoint has completed.
        int target = Checkpoint.load(ckpt).state().epoch() + 1;
        LmCommandTest.Result r = LmCommandTest.lm("train", "--resume", ckpt.toString(), "--max_epoch", Integer.toString(target));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("resumed from"), r.out());
        assertEquals(target, Checkpoint.load(ckpt).state().epoch());
        assertEquals(0, Checkpoint.load(ckpt).state().window(), "an end-of-epoch checkpoint");
        System.out.println("lm checkpoints: " + KILLS + " kills, positions (epoch.window) " + positions + ", " + cutShort + " kills in the middle of a write, resumed to epoch " + target);
    }
}
