package dev.rnn4j.lm;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Word-level text as the SRU language-model script reads it: each line split on whitespace,
 * with {@code </s>} appended to every line (a blank line yields a lone {@code </s>}).
 * Line numbers (1-based) are kept per token so errors can name where a word came from.
 */
public final class Corpus {
    public static final String EOS = "</s>";
    private static final Pattern WS = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private final Path source;
    private final List<String> tokens;
    private final int[] lines;

    private Corpus(Path source, List<String> tokens, int[] lines) {
        this.source = source;
        this.tokens = tokens;
        this.lines = lines;
    }

    /** Reads a UTF-8 text file; a missing or unreadable file is an IOException naming it. */
    public static Corpus read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new java.io.FileNotFoundException("no such file: " + file);
        Builder b = new Builder();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) b.addLine(line);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new IOException(file + ": not valid UTF-8 text", e);
        }
        return b.build(file);
    }

    /** A corpus from in-memory lines (for tests and generated text). */
    public static Corpus ofLines(List<String> lines) {
        Builder b = new Builder();
        for (String line : lines) b.addLine(line);
        return b.build(null);
    }

    /** Splits lines into tokens, appending EOS to each line and remembering each token's line. */
    private static final class Builder {
        private final List<String> tokens = new ArrayList<>();
        private final List<Integer> lineOf = new ArrayList<>();
        private int line;

        void addLine(String text) {
            line++;
            for (String w : WS.split(text.strip())) {
                if (w.isEmpty()) continue;
                tokens.add(w);
                lineOf.add(line);
            }
            tokens.add(EOS);
            lineOf.add(line);
        }

        Corpus build(Path source) {
            int[] lines = new int[lineOf.size()];
            for (int i = 0; i < lines.length; i++) lines[i] = lineOf.get(i);
            return new Corpus(source, List.copyOf(tokens), lines);
        }
    }

    public List<String> tokens() { return tokens; }

    public int size() { return tokens.size(); }

    /** The 1-based line of token i. */
    public int lineOf(int i) { return lines[i]; }

    /** The file it came from, or null. */
    public Path source() { return source; }
}
