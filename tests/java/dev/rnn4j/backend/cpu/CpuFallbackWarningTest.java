package dev.rnn4j.backend.cpu;

import dev.rnn4j.Device;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cpu backend's plain-Java fallback is not silent: a JVM started without
 * {@code --add-modules jdk.incubator.vector} logs one WARNING naming the flag and
 * {@code rnn4j.cpu.requireFast}, however often it opens the backend; with
 * {@code -Drnn4j.cpu.requireFast=true} opening it fails with that reason; with the flag there is
 * no warning. Each case runs in a child JVM, since the kernels are picked once per JVM.
 */
class CpuFallbackWarningTest {
    private static final String WARNING = "the cpu backend runs its plain-Java kernels";

    /** Run in the child JVM: probes every backend, opens cpu three times, prints each outcome. */
    public static void main(String[] args) {
        for (Device.BackendInfo b : Device.backends())
            if (b.name().equals("cpu")) System.out.println("probe cpu " + b.available() + " " + b.detail());
        for (int i = 0; i < 3; i++) {
            try (Device d = Device.open("cpu")) {
                d.tensor(new float[] {1, 2}, 2).close();
                System.out.println("open cpu ok");
            } catch (RuntimeException e) {
                System.out.println("open cpu " + e.getClass().getSimpleName() + " " + e.getMessage());
            }
        }
    }

    private static List<String> child(String... jvmArgs) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), CpuFallbackWarningTest.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        return out.lines().toList();
    }

    private static long warnings(List<String> lines) { return lines.stream().filter(l -> l.contains(WARNING)).count(); }

    @Test
    void fallbackWarnsOnceNamingTheFlagAndTheProperty() throws IOException, InterruptedException {
        List<String> lines = child();
        String out = String.join("\n", lines);
        assertEquals(1, warnings(lines), out);
        String warning = lines.stream().filter(l -> l.contains(WARNING)).findFirst().orElseThrow();
        assertTrue(warning.contains("--add-modules jdk.incubator.vector"), warning);
        assertTrue(warning.contains("-Drnn4j.cpu.requireFast=true"), warning);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("probe cpu true ") && l.contains("jdk.incubator.vector is not enabled")), out);
        assertEquals(3, lines.stream().filter(l -> l.equals("open cpu ok")).count(), out);
    }

    @Test
    void requireFastRefusesTheFallback() throws IOException, InterruptedException {
        List<String> lines = child("-D" + CpuBackendProvider.REQUIRE_FAST + "=true");
        String out = String.join("\n", lines);
        assertEquals(0, warnings(lines), out);
        String reason = "-Drnn4j.cpu.requireFast=true but only the plain-Java kernels can run: jdk.incubator.vector is not enabled:"
                + " run the JVM with --add-modules jdk.incubator.vector for the vector kernels";
        assertTrue(lines.contains("probe cpu false " + reason), out);
        assertEquals(3, lines.stream().filter(l -> l.equals("open cpu BackendUnavailableException cpu: " + reason)).count(), out);
    }

    @Test
    void vectorKernelsDoNotWarn() throws IOException, InterruptedException {
        List<String> lines = child("--add-modules", "jdk.incubator.vector", "-D" + CpuBackendProvider.REQUIRE_FAST + "=true");
        String out = String.join("\n", lines);
        // This JVM runs with the flag too: only a CPU without AVX2 leaves it on the fallback.
        boolean fast = CpuBackendProvider.scalarReason() == null;
        assertEquals(0, warnings(lines), out);
        assertEquals(fast ? 3 : 0, lines.stream().filter(l -> l.equals("open cpu ok")).count(), out);
        List<String> plain = child("--add-modules", "jdk.incubator.vector");
        assertEquals(fast ? 0 : 1, warnings(plain), String.join("\n", plain));
    }
}
