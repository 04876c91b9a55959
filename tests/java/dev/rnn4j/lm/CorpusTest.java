package dev.rnn4j.lm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CorpusTest {
    @Test
    void tokensEndOfLineAndBlankLines(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.txt");
        Files.writeString(f, "the cat  sat\n\n\tthe dog\r\nlast");
        Corpus c = Corpus.read(f);
        assertEquals(List.of("the", "cat", "sat", "</s>", "</s>", "the", "dog", "</s>", "last", "</s>"), c.tokens());
        assertEquals(1, c.lineOf(0));
        assertEquals(2, c.lineOf(4));
        assertEquals(4, c.lineOf(8));
        Vocabulary v = Vocabulary.build(c);
        assertEquals(List.of("the", "cat", "sat", "</s>", "dog", "last"), v.words());
        assertThrows(java.io.FileNotFoundException.class, () -> Corpus.read(dir.resolve("missing.txt")));
    }

    @Test
    void unknownWords() {
        Vocabulary v = Vocabulary.build(Corpus.ofLines(List.of("a b")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> v.map(Corpus.ofLines(List.of("a", "b zebra"))));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("'zebra'"), e.getMessage());
        Vocabulary withUnk = Vocabulary.build(Corpus.ofLines(List.of("a <unk> b")));
        assertArrayEquals(new int[]{0, 1, 2, 3}, withUnk.map(Corpus.ofLines(List.of("a zebra b"))));
    }

    @Test
    void batchingMatchesTheScript() {
        int[] ids = new int[11];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        Batches b = Batches.of(ids, 3);   // N=11, L=((11-1)//3)*3 = 9, 3 steps
        assertEquals(3, b.steps());
        assertEquals(9, b.tokens());
        // x rows are ids[0:9] reshaped (3, 3): [0 1 2],[3 4 5],[6 7 8], transposed
        assertArrayEquals(new int[]{0, 3, 6, 1, 4, 7, 2, 5, 8}, b.x(0, 3));
        assertArrayEquals(new int[]{1, 4, 7, 2, 5, 8, 3, 6, 9}, b.y(0, 3));
        assertArrayEquals(new int[]{2, 5, 8}, b.x(2, 1));
        assertThrows(IllegalArgumentException.class, () -> Batches.of(new int[]{1, 2}, 2));
        Batches one = Batches.of(new int[]{5, 6, 7}, 1);
        assertArrayEquals(new int[]{5, 6}, one.x(0, 2));
        assertArrayEquals(new int[]{6, 7}, one.y(0, 2));
    }
}
