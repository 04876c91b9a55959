package dev.rnn4j.cli;

import dev.rnn4j.Device;
import dev.rnn4j.lm.Checkpoint;
import dev.rnn4j.lm.LanguageModel;
import dev.rnn4j.lm.TrainConfig;
import dev.rnn4j.onnx.OnnxExport;
import dev.rnn4j.onnx.OnnxFormatException;
import dev.rnn4j.onnx.OnnxModel;
import dev.rnn4j.onnx.OnnxTensor;
import dev.rnn4j.onnx.OnnxTestCase;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code onnx test [--backend NAME] PATH...}: runs ONNX backend-test cases (a case directory, or
 * a directory of them) and prints one line per case, then {@code N passed, N failed}; exit 0 only
 * when at least one case ran and all passed. {@code onnx run MODEL [--backend NAME]
 * [--input NAME=FILE.pb]... [--output-dir DIR]}: runs a model on TensorProto inputs and prints
 * each output's name, type, shape and first values (and writes them as NAME.pb with --output-dir).
 * {@code onnx export CHECKPOINT [-o MODEL.onnx] [--with-state]}: writes the language model of an
 * {@code lm train} checkpoint as an ONNX model ({@link OnnxExport}), its vocabulary in the
 * model's metadata. Usage errors and unreadable paths exit 2.
 */
final class OnnxCommand {
    private OnnxCommand() {}

    static final String USAGE = """
            usage: onnx test [--backend NAME] PATH...
                     run ONNX backend-test cases (CASE/model.onnx, CASE/test_data_set_N/{input,output}_K.pb);
                     PATH is a case or a directory of cases
                   onnx run MODEL [--backend NAME] [--input NAME=FILE.pb]... [--output-dir DIR]
                     run a model on TensorProto inputs (all of them, by graph input name) and print its outputs
                   onnx info MODEL
                     print a model's opset, inputs, outputs and operators
                   onnx export CHECKPOINT [-o MODEL.onnx] [--with-state]
                     write the language model of an `lm train` checkpoint as an ONNX model (default
                     output: the checkpoint's name with .onnx); input tokens (seq, batch) INT64,
                     output logits (seq, batch, vocabulary) and the last state h_n (LSTM), c_n;
                     --with-state adds the initial state inputs h0 (LSTM), c0 (depth, batch, d)""";

    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            (args.length == 0 ? err : out).println(USAGE);
            return args.length == 0 ? Main.USAGE_ERROR : Main.OK;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        return switch (args[0]) {
            case "test" -> test(rest, out, err);
            case "run" -> runModel(rest, out, err);
            case "info" -> info(rest, out, err);
            case "export" -> export(rest, out, err);
            default -> usage(err, "onnx: unknown subcommand '" + args[0] + "'");
        };
    }

    private static int usage(PrintStream err, String message) {
        err.println("rnn4j: " + message);
        err.println(USAGE);
        return Main.USAGE_ERROR;
    }

    private static int test(String[] args, PrintStream out, PrintStream err) {
        String backend = "reference";
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--backend") || a.equals("-b")) {
                if (++i >= args.length) return usage(err, "onnx test: " + a + " needs a backend name");
                backend = args[i];
            } else if (a.startsWith("--backend=")) backend = a.substring("--backend=".length());
            else if (a.startsWith("-")) return usage(err, "onnx test: unknown option " + a);
            else paths.add(Path.of(a));
        }
        if (paths.isEmpty()) return usage(err, "onnx test: no PATH given");
        List<Path> caseDirs = new ArrayList<>();
        for (Path p : paths) {
            if (OnnxTestCase.isCase(p)) caseDirs.add(p);
            else if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    List<Path> found = s.filter(OnnxTestCase::isCase).sorted().toList();
                    if (found.isEmpty()) {
                        err.println("rnn4j: onnx test: " + p + " is neither a case (no model.onnx) nor a directory of cases");
                        return Main.USAGE_ERROR;
                    }
                    caseDirs.addAll(found);
                } catch (IOException e) {
                    err.println("rnn4j: onnx test: cannot list " + p + ": " + e.getMessage());
                    return Main.USAGE_ERROR;
                }
            } else {
                err.println("rnn4j: onnx test: no such case or directory: " + p);
                return Main.USAGE_ERROR;
            }
        }
        List<OnnxTestCase> cases = new ArrayList<>();
        for (Path c : caseDirs) {
            try {
                cases.add(OnnxTestCase.load(c));
            } catch (OnnxFormatException e) {
                err.println("rnn4j: onnx test: " + Main.describe(e));
                return Main.USAGE_ERROR;
            }
        }
        Device device;
        try {
            device = Device.open(backend);
        } catch (RuntimeException | LinkageError e) {
            err.println("rnn4j: onnx test: cannot open backend '" + backend + "': " + Main.describe(e));
            return Main.USAGE_ERROR;
        }
        int passed = 0, failed = 0;
        try (device) {
            for (OnnxTestCase c : cases) {
                OnnxTestCase.Result r = c.run(device);
                out.println(r.line().replaceAll("\\s*\\R\\s*", " "));
                if (r.passed()) passed++;
                else failed++;
            }
        }
        out.println(passed + " passed, " + failed + " failed");
        return failed == 0 && passed > 0 ? Main.OK : Main.FAILED;
    }

    private static int runModel(String[] args, PrintStream out, PrintStream err) throws Exception {
        String backend = "reference";
        Path model = null, outDir = null;
        Map<String, Path> inputs = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--backend", "-b" -> {
                    if (++i >= args.length) return usage(err, "onnx run: " + a + " needs a backend name");
                    backend = args[i];
                }
                case "--input", "-i" -> {
                    if (++i >= args.length || !args[i].contains("=")) return usage(err, "onnx run: " + a + " needs NAME=FILE.pb");
                    String[] kv = args[i].split("=", 2);
                    if (inputs.put(kv[0], Path.of(kv[1])) != null) return usage(err, "onnx run: input '" + kv[0] + "' given twice");
                }
                case "--output-dir", "-o" -> {
                    if (++i >= args.length) return usage(err, "onnx run: " + a + " needs a directory");
                    outDir = Path.of(args[i]);
                }
                default -> {
                    if (a.startsWith("--backend=")) backend = a.substring("--backend=".length());
                    else if (a.startsWith("-")) return usage(err, "onnx run: unknown option " + a);
                    else if (model != null) return usage(err, "onnx run: more than one MODEL (" + model + ", " + a + ")");
                    else model = Path.of(a);
                }
            }
        }
        if (model == null) return usage(err, "onnx run: no MODEL given");
        OnnxModel m = OnnxModel.load(model);
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : inputs.entrySet()) in.put(e.getKey(), OnnxTensor.read(e.getValue()));
        Map<String, OnnxTensor> res;
        try (Device device = Device.open(backend)) {
            res = m.run(device, in);
        }
        if (outDir != null) Files.createDirectories(outDir);
        for (Map.Entry<String, OnnxTensor> e : res.entrySet()) {
            OnnxTensor t = e.getValue();
            out.println(e.getKey() + ": " + t + " " + preview(t));
            if (outDir != null) t.write(outDir.resolve(e.getKey().replaceAll("[^A-Za-z0-9_.-]", "_") + ".pb"), e.getKey());
        }
        return Main.OK;
    }

    private static String preview(OnnxTensor t) {
        int n = Math.min(t.numel(), 8);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < n; i++) {
            if (i > 0) sb.append(", ");
            sb.append(t.dataType() == OnnxTensor.DataType.FLOAT ? String.format(Locale.ROOT, "%.6g", t.floats()[i]) : Long.toString(t.longs()[i]));
        }
        if (t.numel() > n) sb.append(", ... (").append(t.numel()).append(" values)");
        return sb.append(']').toString();
    }

    private static int info(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (args.length != 1) return usage(err, "onnx info: needs exactly one MODEL");
        OnnxModel m = OnnxModel.load(Path.of(args[0]));
        out.println("opset " + m.opset());
        for (OnnxModel.ValueInfo v : m.inputs()) out.println("input  " + v);
        for (OnnxModel.ValueInfo v : m.outputs()) out.println("output " + v);
        out.println("operators " + String.join(" ", m.operators()));
        return Main.OK;
    }

    private static int export(String[] args, PrintStream out, PrintStream err) throws IOException {
        Path checkpoint = null, output = null;
        boolean withState = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-o", "--output" -> {
                    if (++i >= args.length) return usage(err, "onnx export: " + a + " needs a file name");
                    output = Path.of(args[i]);
                }
                case "--with-state" -> withState = true;
                default -> {
                    if (a.startsWith("--output=")) output = Path.of(a.substring("--output=".length()));
                    else if (a.startsWith("-")) return usage(err, "onnx export: unknown option " + a);
                    else if (checkpoint != null) return usage(err, "onnx export: more than one CHECKPOINT (" + checkpoint + ", " + a + ")");
                    else checkpoint = Path.of(a);
                }
            }
        }
        if (checkpoint == null) return usage(err, "onnx export: no CHECKPOINT given");
        if (!Files.isRegularFile(checkpoint)) {
            err.println("rnn4j: onnx export: no such checkpoint: " + checkpoint);
            return Main.USAGE_ERROR;
        }
        if (output == null) {
            String name = checkpoint.getFileName().toString();
            int dot = name.lastIndexOf('.');
            output = checkpoint.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".onnx");
        }
        Checkpoint.Contents c;
        try {
            c = Checkpoint.load(checkpoint);
        } catch (IOException e) {
            err.println("rnn4j: onnx export: " + Main.describe(e));
            return Main.USAGE_ERROR;
        }
        TrainConfig tc = c.config();
        int vocab = c.vocabulary().size();
        // The model as lm eval and lm sample rebuild it; the host backend is enough to read the weights.
        try (Device device = Device.reference();
             LanguageModel lm = new LanguageModel(device, vocab, tc.d(), tc.depth(), tc.lstm(), tc.dropout(), tc.rnnDropout(),
                     tc.sru2(), tc.layerNorm(), tc.bias())) {
            lm.loadStateDict(c.model());
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("vocabulary", String.join("\n", c.vocabulary().words()));
            meta.put("rnn4j.checkpoint", checkpoint.getFileName().toString());
            byte[] bytes = OnnxExport.toBytes(lm, OnnxExport.Options.DEFAULT.withInitialState(withState), meta);
            Files.write(output, bytes);
        }
        String kind = tc.lstm() ? "LSTM" : tc.sru2() ? "SRU 2.x" : "SRU";
        out.printf(Locale.ROOT, "wrote %s (%,d bytes): %s language model, vocabulary %d, d %d, depth %d%n",
                output, Files.size(output), kind, vocab, tc.d(), tc.depth());
        out.println("inputs  tokens[seq, batch] INT64" + (withState ? (tc.lstm() ? ", h0" : "") + ", c0 [" + tc.depth() + ", batch, " + tc.d() + "]" : ""));
        out.println("outputs logits[seq, batch, " + vocab + "]" + (tc.lstm() ? ", h_n" : "") + ", c_n [" + tc.depth() + ", batch, " + tc.d() + "]");
        return Main.OK;
    }
}
