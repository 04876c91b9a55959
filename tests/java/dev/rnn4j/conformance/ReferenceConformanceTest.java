package dev.rnn4j.conformance;

import dev.rnn4j.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every conformance file in the conformance directory (system property
 * {@code rnn4j.conformance.dir}, set by the build; else {@code tests/conformance}) must pass on
 * the reference backend. An empty or missing directory is a failure, never a skip.
 */
class ReferenceConformanceTest {

    static Path dir() {
        String p = System.getProperty("rnn4j.conformance.dir");
        return Path.of(p != null && !p.isBlank() ? p : "tests/conformance");
    }

    /** File names of every case; throws (failing the tests) if there are none. */
    static List<String> cases() {
        Path d = dir();
        if (!Files.isDirectory(d)) throw new IllegalStateException("conformance directory " + d + " does not exist");
        List<String> names;
        try (Stream<Path> s = Files.list(d)) {
            names = s.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + d, e);
        }
        if (names.isEmpty()) throw new IllegalStateException("no *.safetensors conformance files in " + d);
        return names;
    }

    @Test
    void directoryHasCasesForEveryMode() throws IOException {
        Set<ConformanceCase.Mode> seen = EnumSet.noneOf(ConformanceCase.Mode.class);
        for (String n : cases()) seen.add(ConformanceCase.load(dir().resolve(n)).mode());
        Set<ConformanceCase.Mode> absent = EnumSet.complementOf(EnumSet.copyOf(seen));
        assertTrue(absent.isEmpty(), "no conformance case for " + absent);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void passesOnReference(String fileName) throws IOException {
        ConformanceCase c = ConformanceCase.load(dir().resolve(fileName));
        try (Device device = Device.reference()) {
            CaseResult r = ConformanceRunner.run(c, device);
            String report = r.line() + r.tensors().stream().map(t -> "\n    " + t.describe()).collect(Collectors.joining());
            System.out.println(r.line());
            assertTrue(r.passed(), report);
            assertEquals(0, device.backend().liveBuffers(), "device buffers still open after the case: " + c.name());
        }
    }
}
