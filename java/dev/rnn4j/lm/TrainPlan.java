package dev.rnn4j.lm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static dev.rnn4j.lm.LmOptions.DATA_FLAGS;

/**
 * Everything {@code rnn4j lm train} will do, resolved from its options before anything runs:
 * the model and training configuration (from the original script's defaults, then the bundled
 * corpus's values when no data is given, then a checkpoint being resumed, then the flags, in that
 * order), the data files, the backend, where and how often to save, and where training starts.
 *
 * @param config       the resolved configuration
 * @param bundled      whether the data is the bundled corpus
 * @param data         "train", "dev", "test" to their files
 * @param backend      the backend's name ({@code --backend}, else "reference")
 * @param save         where checkpoints go, or null for nowhere
 * @param saveInterval minutes between checkpoints within an epoch (0: at epoch ends only)
 * @param init         a state dict to initialise from, or null
 * @param resume       the checkpoint file resumed, or null
 * @param checkpoint   that checkpoint's contents, or null
 */
record TrainPlan(TrainConfig config, boolean bundled, Map<String, String> data, String backend, Path save,
                 double saveInterval, Path init, Path resume, Checkpoint.Contents checkpoint) {

    /** The original script's defaults (the PTB configuration). */
    static final Map<String, String> SCRIPT_DEFAULTS = ordered(
            "batch_size", "32", "unroll_size", "35", "max_epoch", "300", "d", "910", "dropout", "0.7",
            "rnn_dropout", "0.2", "bias", "-3", "depth", "6", "lr", "1.0", "lr_decay", "0.98",
            "lr_decay_epoch", "175", "weight_decay", "1e-5", "clip_grad", "5");

    /** Defaults that replace the script's when training on the bundled corpus (sized for a few minutes on 2 CPU cores). */
    static final Map<String, String> BUNDLED_DEFAULTS = ordered(
            "max_epoch", "4", "d", "128", "dropout", "0.3", "rnn_dropout", "0.1", "depth", "2", "lr_decay_epoch", "2",
            "lr_decay", "0.5");

    /** Options a resumed run may change; every other one must equal the checkpoint's. */
    private static final Set<String> RESUMABLE = Set.of("resume", "save", "save_interval", "backend", "max_epoch");

    /** Resolves the options of {@code lm train}; a contradiction or a bad value is a usage error. */
    static TrainPlan resolve(LmOptions o) throws UsageException, IOException {
        boolean resume = o.has("resume");
        if (resume && o.has("init")) throw new UsageException("--init and --resume cannot be combined");
        long dataFlags = DATA_FLAGS.stream().filter(o::has).count();
        if (dataFlags != 0 && dataFlags != DATA_FLAGS.size())
            throw new UsageException("give all of --train, --dev and --test, or none of them to use the bundled corpus");

        Checkpoint.Contents ckpt = resume ? Checkpoint.load(Path.of(o.get("resume"))) : null;
        boolean bundled;
        Map<String, String> cfg = new LinkedHashMap<>(SCRIPT_DEFAULTS);
        cfg.put("lstm", "false");
        cfg.put("sru2", "false");
        cfg.put("layer_norm", "false");
        cfg.put("seed", "1");
        Map<String, String> dataPaths = new LinkedHashMap<>();
        if (ckpt != null) {
            Map<String, String> saved = new LinkedHashMap<>();
            Checkpoint.config(ckpt.config(), saved);
            for (var e : saved.entrySet()) cfg.put(e.getKey().substring("config.".length()), e.getValue());
            for (var e : o.given.entrySet()) {
                String k = e.getKey();
                if (RESUMABLE.contains(k) || DATA_FLAGS.contains(k)) continue;
                if (!LmOptions.sameValue(LmOptions.TRAIN_OPTIONS.get(k), cfg.get(k), e.getValue()))
                    throw new UsageException("--" + k + " " + e.getValue() + " differs from the checkpoint's " + cfg.get(k)
                            + "; a resumed run keeps its configuration (only --max_epoch, --save, --save_interval,"
                            + " --backend and the data files may change)");
            }
            bundled = dataFlags == 0 && "true".equals(ckpt.data().get("bundled"));
            if (dataFlags == 0 && !bundled) {
                for (String k : DATA_FLAGS) {
                    String p = ckpt.data().get(k);
                    if (p == null || !Files.isRegularFile(Path.of(p)))
                        throw new UsageException("the checkpoint's --" + k + " file " + (p == null ? "is not recorded" : p + " does not exist")
                                + "; give --train, --dev and --test");
                    dataPaths.put(k, p);
                }
            }
        } else {
            bundled = dataFlags == 0;
            if (bundled) cfg.putAll(BUNDLED_DEFAULTS);
        }
        if (bundled) {
            Path dir = BundledCorpus.locate();
            dataPaths.put("train", dir.resolve("train.txt").toString());
            dataPaths.put("dev", dir.resolve("valid.txt").toString());
            dataPaths.put("test", dir.resolve("test.txt").toString());
        }
        for (var e : o.given.entrySet()) {
            if (DATA_FLAGS.contains(e.getKey())) dataPaths.put(e.getKey(), e.getValue());
            else if (cfg.containsKey(e.getKey()) || e.getKey().equals("lstm")) cfg.put(e.getKey(), e.getValue().strip());
        }
        TrainConfig tc;
        try {
            tc = new TrainConfig(Boolean.parseBoolean(cfg.get("lstm")), intOf(cfg, "batch_size"), intOf(cfg, "unroll_size"),
                    intOf(cfg, "max_epoch"), intOf(cfg, "d"), dblOf(cfg, "dropout"), dblOf(cfg, "rnn_dropout"),
                    dblOf(cfg, "bias"), intOf(cfg, "depth"), dblOf(cfg, "lr"), dblOf(cfg, "lr_decay"),
                    intOf(cfg, "lr_decay_epoch"), dblOf(cfg, "weight_decay"), dblOf(cfg, "clip_grad"),
                    Long.parseLong(cfg.get("seed")), Boolean.parseBoolean(cfg.get("sru2")), Boolean.parseBoolean(cfg.get("layer_norm")));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        double saveInterval = o.has("save_interval") ? Double.parseDouble(o.get("save_interval").strip()) : 10;
        if (saveInterval < 0 || Double.isInfinite(saveInterval))
            throw new UsageException("--save_interval must be >= 0 minutes, got " + o.get("save_interval"));
        Path save = o.has("save") ? Path.of(o.get("save")) : resume ? Path.of(o.get("resume")) : null;
        String backend = o.has("backend") ? o.get("backend") : "reference";
        return new TrainPlan(tc, bundled, Map.copyOf(dataPaths), backend, save, saveInterval,
                o.has("init") ? Path.of(o.get("init")) : null, resume ? Path.of(o.get("resume")) : null, ckpt);
    }

    /** The data file for "train", "dev" or "test". */
    Path file(String which) { return Path.of(data.get(which)); }

    private static int intOf(Map<String, String> m, String k) { return Integer.parseInt(m.get(k).strip()); }

    private static double dblOf(Map<String, String> m, String k) { return Double.parseDouble(m.get(k).strip()); }

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }
}
