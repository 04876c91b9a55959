package dev.rnn4j.lm;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.BackendUnavailableException;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.Parameter;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
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
import java.util.SplittableRandom;

/**
 * {@code rnn4j lm train|eval|sample}: the SRU paper's word-level language model from the command
 * line. {@code train} takes the original script's flags, names and defaults; with no data flags it
 * trains a smaller model on the bundled corpus ({@code data/kjv}). Exit status: 0 done, 1 the run
 * failed (the caller prints the exception), 2 usage error (bad or unknown flag, bad number,
 * missing file, unknown or unavailable backend), printed here on one line.
 */
public final class LmCommand {
    private LmCommand() {}

    static final int OK = 0, USAGE = 2;

    /** Flags that choose the data; when none is given, train uses the bundled corpus. */
    static final List<String> DATA_FLAGS = List.of("train", "dev", "test");

    /** The original script's defaults (the PTB configuration). */
    static final Map<String, String> SCRIPT_DEFAULTS = ordered(
            "batch_size", "32", "unroll_size", "35", "max_epoch", "300", "d", "910", "dropout", "0.7",
            "rnn_dropout", "0.2", "bias", "-3", "depth", "6", "lr", "1.0", "lr_decay", "0.98",
            "lr_decay_epoch", "175", "weight_decay", "1e-5", "clip_grad", "5");

    /** Defaults that replace the script's when training on the bundled corpus (sized for a few minutes on 2 CPU cores). */
    static final Map<String, String> BUNDLED_DEFAULTS = ordered(
            "max_epoch", "4", "d", "128", "dropout", "0.3", "rnn_dropout", "0.1", "depth", "2", "lr_decay_epoch", "2",
            "lr_decay", "0.5");

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

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    /** A usage error: printed on one line, exit status 2. */
    static final class UsageException extends Exception {
        UsageException(String message) { super(message); }
    }

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

    // ================================================================ options

    enum Kind { FLAG, INT, LONG, DOUBLE, FILE, OUT_FILE, TEXT }

    static final Map<String, Kind> TRAIN_OPTIONS = new LinkedHashMap<>();
    static {
        for (String f : DATA_FLAGS) TRAIN_OPTIONS.put(f, Kind.FILE);
        TRAIN_OPTIONS.put("lstm", Kind.FLAG);
        for (String f : List.of("batch_size", "unroll_size", "max_epoch", "d", "depth", "lr_decay_epoch"))
            TRAIN_OPTIONS.put(f, Kind.INT);
        for (String f : List.of("dropout", "rnn_dropout", "bias", "lr", "lr_decay", "weight_decay", "clip_grad", "save_interval"))
            TRAIN_OPTIONS.put(f, Kind.DOUBLE);
        TRAIN_OPTIONS.put("backend", Kind.TEXT);
        TRAIN_OPTIONS.put("seed", Kind.LONG);
        TRAIN_OPTIONS.put("init", Kind.FILE);
        TRAIN_OPTIONS.put("resume", Kind.FILE);
        TRAIN_OPTIONS.put("save", Kind.OUT_FILE);
    }

    /** The options given on the command line, validated against a table of names and kinds. */
    static final class Options {
        final Map<String, String> given = new LinkedHashMap<>();

        static Options parse(String[] args, Map<String, Kind> spec) throws UsageException {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (!a.startsWith("--") || a.length() == 2)
                    throw new UsageException("unexpected argument '" + a + "' (options are written --name value)");
                String name = a.substring(2), value = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                Kind kind = spec.get(name);
                if (kind == null) throw new UsageException("unknown option --" + name);
                if (o.given.containsKey(name)) throw new UsageException("--" + name + " is given twice");
                if (kind == Kind.FLAG) {
                    if (value != null) throw new UsageException("--" + name + " takes no value");
                    value = "true";
                } else if (value == null) {
                    if (i + 1 >= args.length) throw new UsageException("--" + name + " needs a value");
                    value = args[++i];
                }
                check(name, kind, value);
                o.given.put(name, value);
            }
            return o;
        }

        static void check(String name, Kind kind, String v) throws UsageException {
            try {
                switch (kind) {
                    case INT -> Integer.parseInt(v.strip());
                    case LONG -> Long.parseLong(v.strip());
                    case DOUBLE -> {
                        double d = Double.parseDouble(v.strip());
                        if (Double.isNaN(d)) throw new NumberFormatException();
                    }
                    case FILE -> {
                        if (!Files.isRegularFile(Path.of(v)))
                            throw new UsageException("--" + name + ": no such file: " + v);
                    }
                    case OUT_FILE -> {
                        Path p = Path.of(v).toAbsolutePath();
                        if (Files.isDirectory(p)) throw new UsageException("--" + name + ": " + v + " is a directory");
                        if (p.getParent() != null && !Files.isDirectory(p.getParent()))
                            throw new UsageException("--" + name + ": no such directory: " + p.getParent());
                    }
                    case TEXT -> {
                        if (v.isEmpty()) throw new UsageException("--" + name + " needs a non-empty value");
                    }
                    case FLAG -> { }
                }
            } catch (NumberFormatException e) {
                String what = kind == Kind.DOUBLE ? "a number" : "an integer";
                throw new UsageException("--" + name + ": expected " + what + ", got '" + v + "'");
            } catch (java.nio.file.InvalidPathException e) {
                throw new UsageException("--" + name + ": invalid path '" + v + "'");
            }
        }

        boolean has(String name) { return given.containsKey(name); }

        String get(String name) { return given.get(name); }
    }

    // ================================================================ train

    static int train(String[] args, PrintStream out, PrintStream err, boolean terminal) throws Exception {
        Options o = Options.parse(args, TRAIN_OPTIONS);
        boolean resume = o.has("resume");
        if (resume && o.has("init")) throw new UsageException("--init and --resume cannot be combined");
        long dataFlags = DATA_FLAGS.stream().filter(o::has).count();
        if (dataFlags != 0 && dataFlags != DATA_FLAGS.size())
            throw new UsageException("give all of --train, --dev and --test, or none of them to use the bundled corpus");

        // ---- configuration: script defaults < bundled defaults < checkpoint < explicit flags
        Checkpoint.Contents ckpt = resume ? Checkpoint.load(Path.of(o.get("resume"))) : null;
        boolean bundled;
        Map<String, String> cfg = new LinkedHashMap<>(SCRIPT_DEFAULTS);
        cfg.put("lstm", "false");
        cfg.put("seed", "1");
        Map<String, String> dataPaths = new LinkedHashMap<>();
        if (ckpt != null) {
            Map<String, String> saved = new LinkedHashMap<>();
            Checkpoint.config(ckpt.config(), saved);
            for (var e : saved.entrySet()) cfg.put(e.getKey().substring("config.".length()), e.getValue());
            for (var e : o.given.entrySet()) {
                String k = e.getKey();
                if (Set.of("resume", "save", "save_interval", "backend", "max_epoch").contains(k) || DATA_FLAGS.contains(k)) continue;
                if (!sameValue(TRAIN_OPTIONS.get(k), cfg.get(k), e.getValue()))
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
                    Long.parseLong(cfg.get("seed")));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        double saveInterval = o.has("save_interval") ? Double.parseDouble(o.get("save_interval").strip()) : 10;
        if (saveInterval < 0 || Double.isInfinite(saveInterval))
            throw new UsageException("--save_interval must be >= 0 minutes, got " + o.get("save_interval"));
        Path save = o.has("save") ? Path.of(o.get("save")) : resume ? Path.of(o.get("resume")) : null;
        String backend = o.has("backend") ? o.get("backend") : defaultBackend();

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
             LanguageModel model = new LanguageModel(device, vocab.size(), tc.d(), tc.depth(), tc.lstm(), tc.dropout(), tc.rnnDropout())) {
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
                origin = "initialised: matrices ~ U(-sqrt(3/d), sqrt(3/d)), vectors 0" + (tc.lstm() ? "" : ", SRU highway bias " + cfg.get("bias"))
                        + ", seed " + tc.seed();
            }

            printHeader(out, tc, bundled, o, dataPaths, backend, device, save, saveInterval, vocab, model, train, dev, test, origin);
            Map<String, String> dataMeta = new LinkedHashMap<>();
            for (String k : DATA_FLAGS) dataMeta.put(k, Path.of(dataPaths.get(k)).toAbsolutePath().normalize().toString());
            if (bundled) dataMeta.put("bundled", "true");

            TrainListener listener = new TrainListener(out, err, terminal, model, tc, vocab, save, saveInterval, dataMeta);
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

    private static boolean sameValue(Kind kind, String a, String b) {
        if (a == null) return false;
        try {
            return switch (kind) {
                case INT, LONG -> Long.parseLong(a.strip()) == Long.parseLong(b.strip());
                case DOUBLE -> Double.parseDouble(a.strip()) == Double.parseDouble(b.strip());
                default -> a.equals(b);
            };
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static int intOf(Map<String, String> m, String k) { return Integer.parseInt(m.get(k).strip()); }

    private static double dblOf(Map<String, String> m, String k) { return Double.parseDouble(m.get(k).strip()); }

    /**
     * The backend used without {@code --backend}: the fastest one available here, cuda (a GPU)
     * before cpu (always available; faster than OpenCL on a CPU driver such as PoCL and 60 to 140
     * times faster than the reference oracle); the header line "backend" prints which.
     */
    static String defaultBackend() {
        for (String name : new String[]{"cuda", "cpu"})
            for (dev.rnn4j.backend.BackendProvider p : Device.PROVIDERS) {
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

    private static void printHeader(PrintStream out, TrainConfig tc, boolean bundled, Options o, Map<String, String> data,
                                    String backend, Device device, Path save, double saveInterval, Vocabulary vocab,
                                    LanguageModel model, Batches train, Batches dev, Batches test, String origin) {
        if (bundled && !o.has("resume")) {
            List<String> smaller = new ArrayList<>();
            for (var e : BUNDLED_DEFAULTS.entrySet())
                if (!o.has(e.getKey())) smaller.add("--" + e.getKey() + " " + e.getValue());
            out.println("data: the bundled corpus " + BundledCorpus.display(Path.of(data.get("train")).getParent())
                    + " (King James Version); no --train/--dev/--test given");
            if (!smaller.isEmpty()) out.println("defaults for the bundled corpus: " + String.join(" ", smaller));
        }
        out.println("configuration:");
        Map<String, String> c = new LinkedHashMap<>();
        for (String k : DATA_FLAGS) c.put(k, BundledCorpus.display(Path.of(data.get(k))));
        c.put("lstm", Boolean.toString(tc.lstm()));
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
        c.put("backend", backend + ": " + device.backend().description());
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
    static final class TrainListener implements Trainer.Listener {
        private final PrintStream out, err;
        private final boolean terminal;
        private final LanguageModel model;
        private final TrainConfig cfg;
        private final Vocabulary vocab;
        private final Path save;
        private final double saveIntervalNanos;
        private final Map<String, String> dataMeta;
        private final long start = System.nanoTime();
        private long lastPrint = System.nanoTime(), lastSave = System.nanoTime();
        private int barWidth;
        private long tokensTotal;
        private double trainSecondsTotal;
        private int epochsRun;
        private double bestDev = Double.NaN, bestTest = Double.NaN;
        private int bestEpoch = -1;

        TrainListener(PrintStream out, PrintStream err, boolean terminal, LanguageModel model, TrainConfig cfg,
                      Vocabulary vocab, Path save, double saveIntervalMinutes, Map<String, String> dataMeta) {
            this.out = out;
            this.err = err;
            this.terminal = terminal;
            this.model = model;
            this.cfg = cfg;
            this.vocab = vocab;
            this.save = save;
            this.saveIntervalNanos = saveIntervalMinutes * 60e9;
            this.dataMeta = dataMeta;
        }

        @Override
        public void window(int epoch, int window, int windows, long tokens, double seconds, double lossSum, int windowsDone) {
            long now = System.nanoTime();
            boolean last = window + 1 == windows;
            double rate = tokens / Math.max(seconds, 1e-9);
            double loss = lossSum / Math.max(1, windowsDone);
            if (terminal) {
                if (now - lastPrint < 200_000_000L && !last) return;
                lastPrint = now;
                int width = 24, filled = (int) ((long) width * (window + 1) / windows);
                String line = String.format(Locale.ROOT, "epoch %d [%s%s] %d/%d  %,.0f tokens/s  loss %.3f (ppl %.1f)",
                        epoch, "#".repeat(filled), ".".repeat(width - filled), window + 1, windows, rate, loss, Math.exp(loss));
                err.print("\r" + line + " ".repeat(Math.max(0, barWidth - line.length())));
                barWidth = line.length();
                err.flush();
            } else if (now - lastPrint >= 30_000_000_000L && !last) {
                lastPrint = now;
                err.printf(Locale.ROOT, "  epoch %d: window %d/%d, %,.0f tokens/s, loss %.3f (ppl %.1f)%n",
                        epoch, window + 1, windows, rate, loss, Math.exp(loss));
                err.flush();
            }
        }

        private void clearBar() {
            if (terminal && barWidth > 0) {
                err.print("\r" + " ".repeat(barWidth) + "\r");
                err.flush();
                barWidth = 0;
            }
        }

        @Override
        public void epoch(Trainer.EpochResult r) {
            clearBar();
            tokensTotal += r.tokens();
            trainSecondsTotal += r.trainSeconds();
            epochsRun++;
            if (r.improved()) {
                bestDev = r.devPpl();
                bestEpoch = r.epoch();
            }
            out.printf(Locale.ROOT, "Epoch=%d  lr=%.4f  train_ppl=%.2f  dev_ppl=%.2f  [%.2fm]%n",
                    r.epoch(), r.lr(), r.trainPpl(), r.devPpl(), r.seconds() / 60);
            out.flush();
            lastPrint = System.nanoTime();
        }

        @Override
        public void test(int epoch, double testPpl, double seconds) {
            bestTest = testPpl;
            out.printf(Locale.ROOT, "        [eval]  test_ppl=%.2f  [%.2fm]%n", testPpl, seconds / 60);
            out.flush();
        }

        @Override
        public boolean checkpointDue() {
            return save != null && saveIntervalNanos > 0 && System.nanoTime() - lastSave >= saveIntervalNanos;
        }

        @Override
        public void checkpoint(TrainingState state) throws IOException {
            if (save == null) return;
            Checkpoint.save(save, model, cfg, vocab, state, dataMeta);
            lastSave = System.nanoTime();
            if (!state.atEpochBoundary()) {
                clearBar();
                err.println("  checkpoint: " + save + " (epoch " + state.epoch() + ", window " + state.window() + ")");
            }
        }

        void summary(TrainingState end) {
            clearBar();
            double minutes = (System.nanoTime() - start) / 60e9;
            String why = end.unchanged() >= TrainConfig.PATIENCE ? "no dev improvement for " + TrainConfig.PATIENCE + " epochs"
                    : "--max_epoch " + cfg.maxEpoch() + " reached";
            out.printf(Locale.ROOT, "done (%s): %d epochs in %.2fm, %,.0f tokens/s while training", why, epochsRun, minutes,
                    tokensTotal / Math.max(trainSecondsTotal, 1e-9));
            if (bestEpoch >= 0)
                out.printf(Locale.ROOT, "; best dev_ppl=%.2f (epoch %d), test_ppl=%.2f", bestDev, bestEpoch, bestTest);
            out.println();
            if (save != null) out.println("checkpoint: " + save);
            out.flush();
        }
    }

    // ================================================================ eval

    static final Map<String, Kind> EVAL_OPTIONS = new LinkedHashMap<>();
    static {
        EVAL_OPTIONS.put("checkpoint", Kind.FILE);
        EVAL_OPTIONS.put("data", Kind.FILE);
        EVAL_OPTIONS.put("backend", Kind.TEXT);
        EVAL_OPTIONS.put("unroll_size", Kind.INT);
    }

    static int eval(String[] args, PrintStream out) throws Exception {
        Options o = Options.parse(args, EVAL_OPTIONS);
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

    /** The model of a checkpoint on a device. */
    static LanguageModel load(Device device, Checkpoint.Contents c) {
        TrainConfig tc = c.config();
        LanguageModel model = new LanguageModel(device, c.vocabulary().size(), tc.d(), tc.depth(), tc.lstm(), tc.dropout(), tc.rnnDropout());
        try {
            model.loadStateDict(c.model());
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    // ================================================================ sample

    static final Map<String, Kind> SAMPLE_OPTIONS = new LinkedHashMap<>();
    static {
        SAMPLE_OPTIONS.put("checkpoint", Kind.FILE);
        SAMPLE_OPTIONS.put("words", Kind.INT);
        SAMPLE_OPTIONS.put("temperature", Kind.DOUBLE);
        SAMPLE_OPTIONS.put("seed", Kind.LONG);
        SAMPLE_OPTIONS.put("backend", Kind.TEXT);
    }

    static int sample(String[] args, PrintStream out) throws Exception {
        Options o = Options.parse(args, SAMPLE_OPTIONS);
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
            out.print(generate(model, c.vocabulary(), words, temperature, seed));
            out.flush();
        }
        return OK;
    }

    /**
     * Generates {@code words} words: starting after an end of line, each next word is drawn from
     * softmax(logits / temperature) with a generator seeded by {@code seed}; {@code </s>} ends a line.
     */
    static String generate(LanguageModel model, Vocabulary vocab, int words, double temperature, long seed) {
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

    // ================================================================ bundled corpus

    /** Finds the bundled corpus folder {@code data/kjv}: in the working directory or above the rnn4j classes / jar. */
    static final class BundledCorpus {
        static final String DIR = "data/kjv";

        static Path locate() throws UsageException {
            List<Path> tried = new ArrayList<>();
            Path cwd = Path.of("").toAbsolutePath();
            tried.add(cwd);
            try {
                Path code = Path.of(LmCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
                for (Path p = code; p != null && tried.size() < 6; p = p.getParent()) tried.add(p);
            } catch (URISyntaxException | SecurityException | NullPointerException | IllegalArgumentException e) {
                // no code location: the working directory is all we can try
            }
            for (Path base : tried) {
                Path dir = base.resolve(DIR);
                if (Files.isRegularFile(dir.resolve("train.txt")) && Files.isRegularFile(dir.resolve("valid.txt"))
                        && Files.isRegularFile(dir.resolve("test.txt")))
                    return dir;
            }
            throw new UsageException("the bundled corpus (" + DIR + "/train.txt, valid.txt, test.txt) was not found in the working"
                    + " directory or the rnn4j folder; pass --train, --dev and --test");
        }

        /** The folder relative to the working directory when it lies below it. */
        static String display(Path dir) {
            Path cwd = Path.of("").toAbsolutePath();
            Path abs = dir.toAbsolutePath().normalize();
            return abs.startsWith(cwd) ? cwd.relativize(abs).toString() : abs.toString();
        }
    }
}
