package dev.rnn4j;

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
 * A JVM that denies native access (--illegal-native-access=deny, the future default) gets a
 * one-line reason naming the flag from Device.backends() and Device.open, not a raw
 * IllegalCallerException or a library's stack trace.
 */
class NativeAccessTest {
    /** Run in the child JVM: one line per backend, then the outcome of opening each. */
    public static void main(String[] args) {
        for (Device.BackendInfo b : Device.backends())
            System.out.println("probe " + b.name() + " " + b.available() + " " + b.detail().replace("\n", "<NL>"));
        for (String name : Device.names()) {
            try (Device d = Device.open(name)) {
                System.out.println("open " + name + " ok");
            } catch (RuntimeException e) {
                System.out.println("open " + name + " " + e.getClass().getSimpleName() + " " + String.valueOf(e.getMessage()).replace("\n", "<NL>"));
            }
        }
    }

    @Test
    void deniedNativeAccessNamesTheFlag() throws IOException, InterruptedException {
        List<String> parentAvailable = new ArrayList<>();
        for (Device.BackendInfo b : Device.backends()) if (b.available()) parentAvailable.add(b.name());

        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "--illegal-native-access=deny", "-cp", System.getProperty("java.class.path"),
                NativeAccessTest.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().toList();
        assertTrue(lines.contains("probe reference true " + lines.stream().filter(l -> l.startsWith("probe reference ")).findFirst().orElseThrow().substring(21)));
        assertTrue(lines.contains("open reference ok"), out);
        for (String l : lines) {
            assertTrue(!l.contains("<NL>"), "multi-line reason: " + l);
            assertTrue(!l.contains("IllegalCallerException"), "raw exception: " + l);
        }
        // cpu (OpenBLAS through FFM) and opencl (JOCL's JNI library) need native access: where this
        // JVM can run them, the denying one must say which flag is missing.
        for (String name : List.of("cpu", "opencl")) {
            if (!parentAvailable.contains(name)) continue;
            assertTrue(lines.contains("probe " + name + " false " + Device.NATIVE_ACCESS_HINT), out);
            assertTrue(lines.contains("open " + name + " BackendUnavailableException " + name + ": " + Device.NATIVE_ACCESS_HINT), out);
        }
    }
}
