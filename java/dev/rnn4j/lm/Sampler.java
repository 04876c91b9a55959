package dev.rnn4j.lm;

import dev.rnn4j.Tensor;

import java.util.SplittableRandom;

/** Text from a trained language model: words drawn one at a time from its softmax, with a temperature. */
public final class Sampler {
    private Sampler() {}

    /**
     * Generates {@code words} words: starting after an end of line, each next word is drawn from
     * softmax(logits / temperature) with a generator seeded by {@code seed}; {@code </s>} ends a line.
     */
    public static String generate(LanguageModel model, Vocabulary vocab, int words, double temperature, long seed) {
        model.eval();
        SplittableRandom rng = new SplittableRandom(seed);
        int eos = vocab.id(Corpus.EOS);
        int cur = eos >= 0 ? eos : 0;
        StringBuilder sb = new StringBuilder();
        boolean lineStart = true;
        double[] p = new double[vocab.size()];
        try (LanguageModel.State state = model.newState(1)) {
            for (int n = 0; n < words; n++) {
                float[] logits;
                try (Tensor t = model.logits(new int[] {cur}, 1, 1, state)) { logits = t.toArray(); }
                double max = Double.NEGATIVE_INFINITY;
                for (float l : logits) max = Math.max(max, l);
                double sum = 0;
                for (int j = 0; j < p.length; j++) sum += p[j] = Math.exp((logits[j] - max) / temperature);
                double u = rng.nextDouble() * sum, acc = 0;
                int next = p.length - 1;
                for (int j = 0; j < p.length; j++) {
                    acc += p[j];
                    if (u < acc) { next = j; break; }
                }
                cur = next;
                if (next == eos) {
                    sb.append('\n');
                    lineStart = true;
                } else {
                    if (!lineStart) sb.append(' ');
                    sb.append(vocab.word(next));
                    lineStart = false;
                }
            }
        }
        if (!lineStart) sb.append('\n');
        return sb.toString();
    }
}
