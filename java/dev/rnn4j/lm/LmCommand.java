package dev.rnn4j.lm;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.Parameter;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code rnn4j lm train|eval|sample}: the SRU paper's word-level language model from the command
 * line. This class parses ({@link LmOptions}), resolves the run ({@link TrainPlan}) and prints;
 * training is {@link Trainer}'s, progress output {@link TrainProgress}'s, text generation
 * {@link Sampler}'s. {@code train} takes the original script's flags, names and defaults; with no data flags it
 * trains a smaller model on the bundled corpus ({@code data/kjv}). Exit status: 0 done, 1 the run
 * failed (the caller prints the exception), 2 usage error (bad or unknown flag, bad number,
 * missing file, unknown or unavailable backend), printed here on one line.
 */
public final class LmCommand {
    private LmCommand() {}

    static final int OK = 0, USAGE = 2;

    static final String HELP = """
            usage: rnn4j lm train  [options]            train a word-level language model
                   rnn4j lm eval   --checkpoint FILE --data FILE [--backend NAME] [--unroll_size N]
                   rnn4j lm sample --checkpoint FILE [--words N] [--temperature T] [--seed N] [--backend NAME]

            The SRU paper's language model (Penn Treebank experiment): embedding (V x d) -> dropout ->
            SRU(d, d, depth) or LSTM -> dropout -> linear (d -> V) tied to the embedding; SGD with
            gradient clipping and weight decay; the original script's flags, names and defaults.

            train options (defaults of the original script; [bundled: ...] see below):
              --train FILE --dev FILE --test FILE
                                    word-level text, one sentence per line (as the PTB files);
                                    give all three, or none to use the bundled corpus
              --lstm                LSTM instead of SRU
              --sru2                sru 2.x layers (v1=False: weight_c peepholes) instead of SRU v1
              --layer_norm          with --sru2: layer normalisation in every layer
              --batch_size N        32
              --unroll_size N       35      steps per truncated-BPTT window
              --max_epoch N         300     [bundled: 4]
              --d N                 910     embedding and hidden size   [bundled: 128]
              --dropout P           0.7     on embeddings and RNN output   [bundled: 0.3]
              --rnn_dropout P       0.2     inside the RNN   [bundled: 0.1]
              --bias B              -3      SRU highway-gate bias
              --depth N             6       recurrent layers   [bundled: 2]
              --lr X                1.0
              --lr_decay X          0.98    [bundled: 0.5]
              --lr_decay_epoch N    175     lr *= lr_decay before each epoch >= N (0: never)   [bundled: 2]
              --weight_decay X      1e-5
              --clip_grad X         5       maximum global gradient norm
              --backend NAME        the fastest available: cuda, else cpu
              --seed N              1       initialisation and dropout masks
              --init FILE           start from a state dict (safetensors, the original model's
                                    PyTorch names) instead of the random initialisation
              --save FILE           write a checkpoint (safetensors) after every epoch, and every
                                    --save_interval minutes during one (atomically)
              --save_interval MIN   10      0: only after epochs
              --resume FILE         continue a checkpoint exactly where it stopped (saves back to
                                    FILE unless --save is given; --max_epoch, --backend and the
                                    data paths may be given, other flags keep their saved values)

            With no --train/--dev/--test, train uses the bundled corpus data/kjv (King James Version:
            Matthew, Mark, Luke and Acts to train, John to validate and test; 2002-word vocabulary)
            and the smaller defaults marked [bundled: ...], so that it finishes in a few minutes on a
            2-core CPU. Flags given explicitly always win.

            eval options:  --checkpoint FILE  --data FILE  --backend NAME  --unroll_size N (35)
            sample options: --checkpoint FILE  --words N (100)  --temperature T (1.0)  --seed N (1)  --backend NAME
            """;

    /** Runs {@code lm} with its arguments (without "lm"); returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (args.length == 0 || isHelp(args[0])) {
            out.print(HELP);
            return OK;
        }
        String sub = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (Arrays.stream(rest).anyMatch(LmCommand::isHelp)) {
            out.print(HELP);
            return OK;
        }
        try {
            return switch (sub) {
                case "train" -> train(rest, out, err, stderrIsTerminal(err));
                case "eval" -> eval(rest, out);
                case "sample" -> sample(rest, out);
                default -> throw new UsageException("unknown subcommand '" + sub + "' (expected train, eval or sample)");
            };
        } catch (UsageException e) {
            out.flush();
            err.println("rnn4j lm" + (Set.of("train", "eval", "sample").contains(sub) ? " " + sub : "") + ": " + e.getMessage());
            err.println("(rnn4j lm --help lists the options)");
            return USAGE;
        }
    }

    private static boolean isHelp(String a) { return a.equals("--help") || a.equals("-h") || a.equals("help"); }

    // ================================================================ train

    static int train(String[] args, PrintStream out, PrintStream err, boolean terminal) throws Exception {
        LmOptions o = LmOptions.parse(args, LmOptions.TRAIN_OPTIONS);
        TrainPlan plan = TrainPlan.resolve(o);
        TrainConfig tc = plan.config();
        Checkpoint.Contents ckpt = plan.checkpoint();
        Map<String, String> dataPaths = plan.data();
        boolean bundled = plan.bundled();
        String backend = plan.backend();
        Path save = plan.save();
        double saveInterval = plan.saveInterval();

        // ---- data
        Corpus trainText = Corpus.read(Path.of(dataPaths.get("train")));
        Corpus devText = Corpus.read(Path.of(dataPaths.get("dev")));
        Corpus testText = Corpus.read(Path.of(dataPaths.get("test")));
        Vocabulary vocab = Vocabulary.build(trainText);
        if (ckpt != null && !vocab.words().equals(ckpt.vocabulary().words()))
            throw new IllegalArgumentException("the vocabulary of " + dataPaths.get("train") + " (" + vocab.size()
                    + " words) differs from the checkpoint's (" + ckpt.vocabulary().size() + " words): resume with the same training text");
        Batches train = Batches.of(vocab.map(trainText), tc.batchSize());
        Batches dev = Batches.of(vocab.map(devText), 1);
        Batches test = Batches.of(vocab.map(testText), 1);

        // ---- model
        try (Device device = openDevice(backend);
             LanguageModel model = newModel(device, vocab.size(), tc)) {
            TrainingState state;
            String origin;
            if (ckpt != null) {
                model.loadStateDict(ckpt.model());
                TrainingState s = ckpt.state();
                state = s;
                origin = "resumed from " + o.get("resume") + " at epoch " + s.epoch()
                        + (s.window() > 0 ? ", window " + s.window() : "") + " (lr=" + fmt4(s.lr()) + ")";
            } else if (o.has("init")) {
                model.initialize(tc.seed(), (float) tc.bias());
                loadInit(model, Path.of(o.get("init")));
                state = TrainingState.start(tc);
                origin = "initialised from " + o.get("init");
            } else {
                model.initialize(tc.seed(), (float) tc.bias());
                state = TrainingState.start(tc);
                origin = "initialised: matrices ~ U(-sqrt(3/d), sqrt(3/d)), vectors 0" + (tc.lstm() ? "" : ", SRU highway bias " + num(tc.bias()))
                        + (tc.sru2() ? ", sru 2.x weight_c ~ U(-sqrt(3/2), sqrt(3/2))" + (tc.layerNorm() ? ", layer norms (1, 0)" : "") : "")
                        + ", seed " + tc.seed();
            }

            printHeader(out, tc, bundled, o, dataPaths, backend, device, save, saveInterval, vocab, model, train, dev, test, origin);
            Map<String, String> dataMeta = new LinkedHashMap<>();
            for (String k : LmOptions.DATA_FLAGS) dataMeta.put(k, Path.of(dataPaths.get(k)).toAbsolutePath().normalize().toString());
            if (bundled) dataMeta.put("bundled", "true");

            TrainProgress listener = new TrainProgress(out, err, terminal, model, tc, vocab, save, saveInterval, dataMeta);
            if (state.finished(tc)) {
                out.println("nothing to do: the run stopped at epoch " + state.epoch()
                        + (state.unchanged() >= TrainConfig.PATIENCE ? " (no dev improvement for " + TrainConfig.PATIENCE + " epochs)" : " (--max_epoch " + tc.maxEpoch() + ")"));
                return OK;
            }
            Trainer trainer = new Trainer(model, tc, train, dev, test);
            TrainingState end = trainer.run(state, listener);
            listener.summary(end);
        }
        return OK;
    }

    /**
     * The backend used without {@code --backend}: the fastest one available here, cuda (a GPU)
     * before cpu (always available; faster than OpenCL on a CPU driver such as PoCL and 60 to 140
     * times faster than the reference oracle); the header line "backend" prints which.
     */
    static String defaultBackend() {
        for (String name : new String[]{"cuda", "cpu"})
            for (dev.rnn4j.backend.BackendProvider p : DeviceAccess.providers()) {
                if (!p.name().equals(name)) continue;
                try {
                    if (p.probe().available()) return name;
                } catch (RuntimeException | LinkageError e) {
                    // a probe that fails counts as unavailable, as in ./rnn4j devices
                }
            }
        return "reference";
    }

    static Device openDevice(String name) throws UsageException {
        try {
            return Device.open(name);
        } catch (IllegalArgumentException | BackendUnavailableException e) {
            throw new UsageException("--backend " + name + ": " + e.getMessage());
        }
    }

    /**
     * Loads a state dict file (e.g. saved from the original PyTorch model) into the model. The tied
     * matrix may be stored under either name or both (PyTorch's safetensors writer keeps only one
     * of two shared names); anything else must match exactly.
     */
    static void loadInit(LanguageModel model, Path file) throws IOException {
        Map<String, HostTensor> t = new LinkedHashMap<>(SafeTensors.read(file).tensors());
        t.remove(Checkpoint.HIDDEN_C);
        t.remove(Checkpoint.HIDDEN_H);
        String emb = "embedding_layer.embedding.weight", out = "output_layer.weight";
        if (t.containsKey(emb) && !t.containsKey(out)) t.put(out, t.get(emb));
        if (t.containsKey(out) && !t.containsKey(emb)) t.put(emb, t.get(out));
        if (t.containsKey(emb) && !t.get(emb).equals(t.get(out)))
            throw new IllegalArgumentException(file + ": " + emb + " and " + out + " differ, but the model ties them");
        try {
            model.loadStateDict(t);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--init " + file + ": " + e.getMessage(), e);
        }
    }

    private static void printHeader(PrintStream out, TrainConfig tc, boolean bundled, LmOptions o, Map<String, String> data,
                                    String backend, Device device, Path save, double saveInterval, Vocabulary vocab,
                                    LanguageModel model, Batches train, Batches dev, Batches test, String origin) {
        if (bundled && !o.has("resume")) {
            List<String> smaller = new ArrayList<>();
            for (var e : TrainPlan.BUNDLED_DEFAULTS.entrySet())
                if (!o.has(e.getKey())) smaller.add("--" + e.getKey() + " " + e.getValue());
            out.println("data: the bundled corpus " + BundledCorpus.display(Path.of(data.get("train")).getParent())
                    + " (King James Version); no --train/--dev/--test given");
            if (!smaller.isEmpty()) out.println("defaults for the bundled corpus: " + String.join(" ", smaller));
        }
        out.println("configuration:");
        Map<String, String> c = new LinkedHashMap<>();
        for (String k : LmOptions.DATA_FLAGS) c.put(k, BundledCorpus.display(Path.of(data.get(k))));
        c.put("lstm", Boolean.toString(tc.lstm()));
        if (tc.sru2()) c.put("sru2", "true");
        if (tc.layerNorm()) c.put("layer_norm", "true");
        c.put("batch_size", Integer.toString(tc.batchSize()));
        c.put("unroll_size", Integer.toString(tc.unrollSize()));
        c.put("max_epoch", Integer.toString(tc.maxEpoch()));
        c.put("d", Integer.toString(tc.d()));
        c.put("dropout", num(tc.dropout()));
        c.put("rnn_dropout", num(tc.rnnDropout()));
        c.put("bias", num(tc.bias()));
        c.put("depth", Integer.toString(tc.depth()));
        c.put("lr", num(tc.lr()));
        c.put("lr_decay", num(tc.lrDecay()));
        c.put("lr_decay_epoch", Integer.toString(tc.lrDecayEpoch()));
        c.put("weight_decay", num(tc.weightDecay()));
        c.put("clip_grad", num(tc.clipGrad()));
        c.put("backend", backend + ": " + DeviceAccess.backend(device).description());
        c.put("seed", Long.toString(tc.seed()));
        c.put("init", o.has("init") ? o.get("init") : "-");
        c.put("resume", o.has("resume") ? o.get("resume") : "-");
        c.put("save", save == null ? "-" : save + (saveInterval > 0 ? " (after every epoch and every " + num(saveInterval) + " min)" : " (after every epoch)"));
        for (var e : c.entrySet()) out.printf(Locale.ROOT, "  %-15s %s%n", e.getKey(), e.getValue());
        out.println("vocab size: " + vocab.size());
        out.println("num of parameters: " + model.numParameters());
        IdentityHashMap<Parameter, String> first = new IdentityHashMap<>();
        for (var e : model.allNamedParameters().entrySet()) {
            String prev = first.putIfAbsent(e.getValue(), e.getKey());
            out.printf(Locale.ROOT, "  %-34s %s%s%n", e.getKey(), Arrays.toString(e.getValue().shape()),
                    prev == null ? "" : "  (tied: the same tensor as " + prev + ")");
        }
        int windows = Trainer.windows(train.steps(), tc.unrollSize());
        out.printf(Locale.ROOT, "train: %d tokens as %d x %d steps, %d windows per epoch; dev: %d tokens; test: %d tokens%n",
                train.tokens(), tc.batchSize(), train.steps(), windows, dev.tokens(), test.tokens());
        out.println(origin);
        out.flush();
    }

    /** A number as written on a command line: 1, -3, 0.98, 0.00001. */
    static String num(double v) {
        if (!Double.isFinite(v)) return Double.toString(v);
        return java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    static String fmt4(double v) { return String.format(Locale.ROOT, "%.4f", v); }

    /** Whether {@code err} is the process's standard error and that is a terminal. */
    static boolean stderrIsTerminal(PrintStream err) {
        if (err != System.err) return false;
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            java.io.Console c = System.console();
            return c != null && c.isTerminal();
        }
    }

    /** Prints progress (stderr), epoch lines (stdout) and writes checkpoints. */
    // ================================================================ eval

    static int eval(String[] args, PrintStream out) throws Exception {
        LmOptions o = LmOptions.parse(args, LmOptions.EVAL_OPTIONS);
        if (!o.has("checkpoint")) throw new UsageException("--checkpoint FILE is required");
        if (!o.has("data")) throw new UsageException("--data FILE is required");
        int unroll = o.has("unroll_size") ? Integer.parseInt(o.get("unroll_size").strip()) : 35;
        if (unroll < 1) throw new UsageException("--unroll_size must be >= 1, got " + unroll);
        Checkpoint.Contents c = Checkpoint.load(Path.of(o.get("checkpoint")));
        Corpus text = Corpus.read(Path.of(o.get("data")));
        Batches data = Batches.of(c.vocabulary().map(text), 1);
        try (Device device = openDevice(o.has("backend") ? o.get("backend") : defaultBackend());
             LanguageModel model = load(device, c)) {
            long t0 = System.nanoTime();
            double nll = Trainer.nll(model, data, unroll);
            double seconds = (System.nanoTime() - t0) / 1e9;
            out.printf(Locale.ROOT, "%s: %d tokens, ppl=%.2f (cross-entropy %.4f nats per token)  [%.2fm, %,.0f tokens/s]%n",
                    o.get("data"), data.tokens(), Math.exp(nll / data.tokens()), nll / data.tokens(), seconds / 60,
                    data.tokens() / Math.max(seconds, 1e-9));
        }
        return OK;
    }

    /** The model a configuration describes (SRU v1, sru 2.x or LSTM), not yet initialised. */
    static LanguageModel newModel(Device device, int vocabSize, TrainConfig tc) {
        return new LanguageModel(device, vocabSize, tc.d(), tc.depth(), tc.lstm(), tc.dropout(), tc.rnnDropout(),
                tc.sru2(), tc.layerNorm(), tc.bias());
    }

    /** The model of a checkpoint on a device. */
    static LanguageModel load(Device device, Checkpoint.Contents c) {
        TrainConfig tc = c.config();
        LanguageModel model = newModel(device, c.vocabulary().size(), tc);
        try {
            model.loadStateDict(c.model());
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    // ================================================================ sample

    static int sample(String[] args, PrintStream out) throws Exception {
        LmOptions o = LmOptions.parse(args, LmOptions.SAMPLE_OPTIONS);
        if (!o.has("checkpoint")) throw new UsageException("--checkpoint FILE is required");
        int words = o.has("words") ? Integer.parseInt(o.get("words").strip()) : 100;
        if (words < 0) throw new UsageException("--words must be >= 0, got " + words);
        double temperature = o.has("temperature") ? Double.parseDouble(o.get("temperature").strip()) : 1.0;
        if (!(temperature > 0) || Double.isInfinite(temperature))
            throw new UsageException("--temperature must be positive, got " + o.get("temperature"));
        long seed = o.has("seed") ? Long.parseLong(o.get("seed").strip()) : 1;
        Checkpoint.Contents c = Checkpoint.load(Path.of(o.get("checkpoint")));
        try (Device device = openDevice(o.has("backend") ? o.get("backend") : defaultBackend());
             LanguageModel model = load(device, c)) {
            out.print(Sampler.generate(model, c.vocabulary(), words, temperature, seed));
            out.flush();
        }
        return OK;
    }

    // ================================================================ bundled corpus


}
