package dev.rnn4j.lm;

import dev.rnn4j.HostTensor;
import dev.rnn4j.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A language-model training checkpoint: one safetensors file holding
 *
 * <ul>
 *   <li>the model's tensors under their {@code state_dict} names, the tied matrix under both
 *       {@code embedding_layer.embedding.weight} and {@code output_layer.weight} (so the file loads
 *       as a PyTorch state dict of the original model);</li>
 *   <li>only when written in the middle of an epoch: the recurrent state carried into the next
 *       window, as {@code trainer.hidden_c} (and {@code trainer.hidden_h} for the LSTM);</li>
 *   <li>metadata (strings): {@code format}, every hyper-parameter as {@code config.NAME} (the
 *       script's flag names), the data files as {@code data.train/dev/test}, the vocabulary in id
 *       order as {@code vocabulary} (one word per line), and the trainer's position and optimiser
 *       state as {@code state.*}: epoch, window, lr, loss_sum, tokens, best_dev, unchanged.</li>
 * </ul>
 *
 * SGD keeps no per-parameter state, so lr is the whole optimiser state; the dropout masks of
 * window w of epoch e derive from (config.seed, e, w) alone ({@link Trainer#windowSeed}), so the
 * seed is the whole generator state. Together they make a resumed run continue exactly. Files are
 * written atomically by {@link SafeTensors#write}: a crash leaves the old file or the new one.
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static final String FORMAT = "rnn4j-lm-checkpoint-1";
    static final String HIDDEN_C = "trainer.hidden_c", HIDDEN_H = "trainer.hidden_h";

    /**
     * A checkpoint's contents.
     *
     * @param model the model's tensors under their state-dict names (both tied names)
     * @param data  the data files the run was given: keys train, dev, test (values as given, may be absent)
     */
    public record Contents(TrainConfig config, Vocabulary vocabulary, TrainingState state,
                           Map<String, HostTensor> model, Map<String, String> data) {}

    /** Writes a checkpoint of {@code model} at {@code state} to {@code path}, atomically. */
    public static void save(Path path, LanguageModel model, TrainConfig cfg, Vocabulary vocab, TrainingState state,
                            Map<String, String> data) throws IOException {
        Map<String, HostTensor> tensors = new LinkedHashMap<>(model.stateDict());
        if (state.hidden() != null) tensors.put(HIDDEN_C, state.hidden());
        if (state.hiddenH() != null) tensors.put(HIDDEN_H, state.hiddenH());
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        config(cfg, meta);
        for (var e : data.entrySet()) if (e.getValue() != null) meta.put("data." + e.getKey(), e.getValue());
        meta.put("vocabulary", String.join("\n", vocab.words()));
        meta.put("state.epoch", Integer.toString(state.epoch()));
        meta.put("state.window", Integer.toString(state.window()));
        meta.put("state.lr", Double.toString(state.lr()));
        meta.put("state.loss_sum", Double.toString(state.lossSum()));
        meta.put("state.tokens", Long.toString(state.tokens()));
        meta.put("state.best_dev", Double.toString(state.bestDev()));
        meta.put("state.unchanged", Integer.toString(state.unchanged()));
        meta.put("rng", "dropout masks of window w of epoch e are drawn from seeds derived from (config.seed, e, w)");
        SafeTensors.write(path, tensors, meta);
    }

    /** The hyper-parameters as metadata entries {@code config.NAME}, NAME the script's flag name. */
    static void config(TrainConfig c, Map<String, String> meta) {
        meta.put("config.lstm", Boolean.toString(c.lstm()));
        meta.put("config.batch_size", Integer.toString(c.batchSize()));
        meta.put("config.unroll_size", Integer.toString(c.unrollSize()));
        meta.put("config.max_epoch", Integer.toString(c.maxEpoch()));
        meta.put("config.d", Integer.toString(c.d()));
        meta.put("config.dropout", Double.toString(c.dropout()));
        meta.put("config.rnn_dropout", Double.toString(c.rnnDropout()));
        meta.put("config.bias", Double.toString(c.bias()));
        meta.put("config.depth", Integer.toString(c.depth()));
        meta.put("config.lr", Double.toString(c.lr()));
        meta.put("config.lr_decay", Double.toString(c.lrDecay()));
        meta.put("config.lr_decay_epoch", Integer.toString(c.lrDecayEpoch()));
        meta.put("config.weight_decay", Double.toString(c.weightDecay()));
        meta.put("config.clip_grad", Double.toString(c.clipGrad()));
        meta.put("config.seed", Long.toString(c.seed()));
        meta.put("config.sru2", Boolean.toString(c.sru2()));
        meta.put("config.layer_norm", Boolean.toString(c.layerNorm()));
    }

    /** Reads a checkpoint; a file that is not one (e.g. a bare state dict) is an IOException saying so. */
    public static Contents load(Path path) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(path);
        Map<String, String> m = c.metadata();
        if (!FORMAT.equals(m.get("format")))
            throw new IOException(path + " is not an rnn4j language-model checkpoint (metadata format is "
                    + (m.get("format") == null ? "missing" : "'" + m.get("format") + "'") + ", expected '" + FORMAT + "')");
        try {
            TrainConfig cfg = new TrainConfig(
                    bool(m, "config.lstm"), integer(m, "config.batch_size"), integer(m, "config.unroll_size"),
                    integer(m, "config.max_epoch"), integer(m, "config.d"), dbl(m, "config.dropout"),
                    dbl(m, "config.rnn_dropout"), dbl(m, "config.bias"), integer(m, "config.depth"),
                    dbl(m, "config.lr"), dbl(m, "config.lr_decay"), integer(m, "config.lr_decay_epoch"),
                    dbl(m, "config.weight_decay"), dbl(m, "config.clip_grad"), Long.parseLong(get(m, "config.seed")),
                    // absent from checkpoints written before sru 2.x layers: the v1 SRU
                    m.containsKey("config.sru2") && bool(m, "config.sru2"),
                    m.containsKey("config.layer_norm") && bool(m, "config.layer_norm"));
            Vocabulary vocab = Vocabulary.of(List.of(get(m, "vocabulary").split("\n", -1)));
            Map<String, HostTensor> model = new LinkedHashMap<>(c.tensors());
            HostTensor hc = model.remove(HIDDEN_C), hh = model.remove(HIDDEN_H);
            TrainingState st = new TrainingState(integer(m, "state.epoch"), integer(m, "state.window"), dbl(m, "state.lr"),
                    dbl(m, "state.loss_sum"), Long.parseLong(get(m, "state.tokens")), dbl(m, "state.best_dev"),
                    integer(m, "state.unchanged"), hc, hh);
            if (st.window() > 0 && hc == null)
                throw new IOException(path + ": a mid-epoch checkpoint without " + HIDDEN_C);
            if (hc != null && !Arrays.equals(hc.shape(), new int[] {cfg.depth(), cfg.batchSize(), cfg.d()}))
                throw new IOException(path + ": " + HIDDEN_C + " has shape " + Arrays.toString(hc.shape()));
            Map<String, String> data = new LinkedHashMap<>();
            for (String k : List.of("train", "dev", "test")) if (m.containsKey("data." + k)) data.put(k, m.get("data." + k));
            return new Contents(cfg, vocab, st, model, data);
        } catch (IllegalArgumentException e) {
            throw new IOException(path + ": invalid checkpoint metadata: " + e.getMessage(), e);
        }
    }

    private static String get(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException("missing " + key);
        return v;
    }

    private static int integer(Map<String, String> m, String key) { return Integer.parseInt(get(m, key)); }

    private static double dbl(Map<String, String> m, String key) { return Double.parseDouble(get(m, key)); }

    private static boolean bool(Map<String, String> m, String key) {
        String v = get(m, key);
        if (!v.equals("true") && !v.equals("false")) throw new IllegalArgumentException(key + " is '" + v + "', not true or false");
        return Boolean.parseBoolean(v);
    }
}
