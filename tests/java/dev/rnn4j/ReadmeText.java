package dev.rnn4j;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** README.md's sections and java blocks, for the tests that check the README's examples against code that runs. */
public final class ReadmeText {
    private ReadmeText() {}

    /** The text from the heading to the next heading of the same level. */
    public static String section(String markdown, String heading) {
        int start = markdown.indexOf("\n" + heading + "\n");
        assertNotEquals(-1, start, "README.md has no section " + heading);
        int end = markdown.indexOf("\n## ", start + heading.length() + 2);
        return end < 0 ? markdown.substring(start) : markdown.substring(start, end);
    }

    /** The java blocks of {@code text}, each {@link #normalized}. */
    public static List<List<String>> javaBlocks(String text) {
        List<List<String>> blocks = new ArrayList<>();
        List<String> current = null;
        for (String line : text.lines().toList()) {
            if (current == null && line.strip().equals("```java")) current = new ArrayList<>();
            else if (current != null && line.strip().equals("```")) {
                blocks.add(normalized(current));
                current = null;
            } else if (current != null) current.add(line);
        }
        assertNull(current, "unterminated java block in README.md");
        return blocks;
    }

    /** Lines without their indentation and trailing blanks, blank lines dropped. */
    public static List<String> normalized(List<String> lines) {
        return lines.stream().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }
}
