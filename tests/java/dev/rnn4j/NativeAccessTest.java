package dev.rnn4j;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A JVM that denies native access (--illegal-native-access=deny, the future default) gets a
 * one-line reason naming the flag from Device.backends() and Device.open, not a raw
 * IllegalCallerException or a library's stack trace; on the module path the flag that hint names
 * for modules (rnn4j and JOCL's automatic module) is enough.
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
        // The cpu backend is plain Java (no native code): it runs without native access.
        assertTrue(lines.contains("open cpu ok"), out);
        // opencl (JOCL's JNI library) needs native access: where this JVM can run it, the denying
        // one must say which flag is missing.
        for (String name : List.of("opencl")) {
            if (!parentAvailable.contains(name)) continue;
            assertTrue(lines.contains("probe " + name + " false " + Device.NATIVE_ACCESS_HINT), out);
            assertTrue(lines.contains("open " + name + " BackendUnavailableException " + name + ": " + Device.NATIVE_ACCESS_HINT), out);
        }
    }

    @Test
    void hintNamesEveryModuleThatNeedsNativeAccess() {
        assertTrue(Device.NATIVE_ACCESS_HINT.contains("--enable-native-access=ALL-UNNAMED (class path"), Device.NATIVE_ACCESS_HINT);
        assertTrue(Device.NATIVE_ACCESS_HINT.contains("--enable-native-access=dev.rnn4j,jocl (module path)"), Device.NATIVE_ACCESS_HINT);
    }

    /**
     * rnn4j (target/classes, an exploded module) and JOCL (an automatic module) on the module path
     * of a JVM that denies native access: granting it to dev.rnn4j alone leaves OpenCL with the
     * hint; granting it as the hint says opens OpenCL.
     */
    @Test
    void modulePathNeedsNativeAccessForJoclToo() throws IOException, InterruptedException {
        assumeTrue(Device.backends().stream().anyMatch(b -> b.name().equals("opencl") && b.available()), "no OpenCL here");
        List<String> cp = Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator));
        String classes = cp.stream().filter(e -> Path.of(e).endsWith(Path.of("target", "classes"))).findFirst().orElseThrow();
        String jocl = cp.stream().filter(e -> Path.of(e).getFileName().toString().startsWith("jocl")).findFirst().orElseThrow();
        // Every module dev.rnn4j requires goes on the module path with it (protobuf-java for ONNX).
        String protobuf = cp.stream().filter(e -> Path.of(e).getFileName().toString().startsWith("protobuf-java")).findFirst().orElseThrow();
        List<String> rest = cp.stream().filter(e -> !e.equals(classes) && !e.equals(jocl) && !e.equals(protobuf)).toList();

        String onlyRnn4j = modulePathChild("dev.rnn4j", classes + File.pathSeparator + protobuf, jocl, rest);
        assertTrue(onlyRnn4j.lines().anyMatch(l -> l.equals("module dev.rnn4j")), onlyRnn4j);
        assertTrue(onlyRnn4j.lines().anyMatch(l -> l.equals("open opencl BackendUnavailableException opencl: " + Device.NATIVE_ACCESS_HINT)), onlyRnn4j);
        assertTrue(onlyRnn4j.lines().anyMatch(l -> l.equals("open cpu ok")), onlyRnn4j);

        String both = modulePathChild("dev.rnn4j,jocl", classes + File.pathSeparator + protobuf, jocl, rest);
        assertTrue(both.lines().anyMatch(l -> l.equals("open opencl ok")), both);
    }

    private static String modulePathChild(String grant, String classes, String jocl, List<String> classPath) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "--illegal-native-access=deny", "--enable-native-access=" + grant,
                "-p", classes + File.pathSeparator + jocl, "--add-modules", "dev.rnn4j",
                "-cp", String.join(File.pathSeparator, classPath), "dev.rnn4j.consumer.ModulePathProbe").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
