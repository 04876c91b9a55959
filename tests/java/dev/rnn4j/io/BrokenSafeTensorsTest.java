package dev.rnn4j.io;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every hand-made broken file of {@code tests/safetensors-broken/} is rejected with a
 * {@link SafeTensorsFormatException} naming the file and the problem its README row gives, by
 * {@link SafeTensors#read}, {@link SafeTensors#readHeader} and the channel reader alike.
 */
class BrokenSafeTensorsTest {
    static final Path DIR = Path.of(System.getProperty("rnn4j.conformance.dir", "tests/conformance")).resolveSibling("safetensors-broken");
    private static final Pattern ROW = Pattern.compile("^\\| `([^`]+)` \\| .* \\| `(.+)` \\|$");

    /** file name -> expected message fragment, from the README table. */
    static Map<String, String> expectations() throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(DIR.resolve("README.md"))) {
            Matcher r = ROW.matcher(line);
            if (r.matches()) m.put(r.group(1), r.group(2).replace("\\|", "|"));
        }
        return m;
    }

    @Test
    void everyBrokenFileIsRejectedWithItsDocumentedProblem() throws IOException {
        Map<String, String> expected = expectations();
        List<Path> files = new ArrayList<>();
        try (var s = Files.newDirectoryStream(DIR, "*.safetensors")) { s.forEach(files::add); }
        assertTrue(files.size() >= 30, "broken files: " + files.size());
        Set<String> names = new TreeSet<>();
        for (Path f : files) names.add(f.getFileName().toString());
        assertEquals(new TreeSet<>(expected.keySet()), names, "the README table and the directory list the same files");
        for (Path f : files) {
            String fragment = expected.get(f.getFileName().toString());
            SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> SafeTensors.read(f), f.toString());
            assertTrue(e.problem().contains(fragment), f + ": expected a problem containing '" + fragment + "', got: " + e.problem());
            assertTrue(e.getMessage().startsWith(f.toString()), "the message names the file: " + e.getMessage());
            assertEquals(f, e.file());
            SafeTensorsFormatException h = assertThrows(SafeTensorsFormatException.class, () -> {
                SafeTensors.readHeader(f);
                SafeTensors.read(f);   // data problems (truncation) show only when reading the data
            });
            assertEquals(e.problem(), h.problem());
            byte[] bytes = Files.readAllBytes(f);
            SafeTensorsFormatException c = assertThrows(SafeTensorsFormatException.class,
                    () -> SafeTensors.read(f, new SafeTensorsFuzzTest.BytesChannel(bytes)));
            assertEquals(e.problem(), c.problem());
        }
    }
}
