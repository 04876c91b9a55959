package dev.rnn4j.lm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Word ids in order of first occurrence in the training text (as the SRU language-model
 * script assigns them). Words missing from the vocabulary map to {@code <unk>} when the
 * vocabulary has it; otherwise mapping them is an error naming the word and its line.
 */
public final class Vocabulary {
    public static final String UNK = "<unk>";

    private final List<String> words;
    private final Map<String, Integer> ids;

    private Vocabulary(List<String> words) {
        this.words = List.copyOf(words);
        this.ids = new HashMap<>();
        for (int i = 0; i < this.words.size(); i++)
            if (ids.putIfAbsent(this.words.get(i), i) != null)
                throw new IllegalArgumentException("duplicate word in vocabulary: " + this.words.get(i));
    }

    public static Vocabulary build(Corpus train) {
        List<String> words = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (String w : train.tokens()) if (seen.putIfAbsent(w, words.size()) == null) words.add(w);
        return new Vocabulary(words);
    }

    /** A vocabulary from its word list, in id order (e.g. as stored in a checkpoint). */
    public static Vocabulary of(List<String> words) { return new Vocabulary(words); }

    public int size() { return words.size(); }

    public List<String> words() { return Collections.unmodifiableList(words); }

    public String word(int id) { return words.get(id); }

    /** The id of a word, or -1. */
    public int id(String word) { return ids.getOrDefault(word, -1); }

    /** Maps every token of a corpus to its id (or to {@code <unk>}); throws naming the first unknown word and its line. */
    public int[] map(Corpus corpus) {
        int unk = id(UNK);
        List<String> t = corpus.tokens();
        int[] out = new int[t.size()];
        for (int i = 0; i < out.length; i++) {
            int id = id(t.get(i));
            if (id < 0) {
                if (unk < 0)
                    throw new IllegalArgumentException((corpus.source() == null ? "text" : corpus.source().toString())
                            + " line " + corpus.lineOf(i) + ": word '" + t.get(i)
                            + "' is not in the training vocabulary, which has no " + UNK + " token");
                id = unk;
            }
            out[i] = id;
        }
        return out;
    }
}
