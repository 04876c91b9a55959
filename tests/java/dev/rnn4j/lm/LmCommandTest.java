package dev.rnn4j.lm;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@code rnn4j lm}: argument errors, train / resume / eval / sample end to end on a tiny corpus, --init. */
class LmCommandTest {

    record Result(int code, String out, String err) {}

    static Result lm(String... args) throws Exception {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8); PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            code = LmCommand.run(args, out, err);
        }
        return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static Path[] corpus(Path dir) throws Exception {
        Path train = dir.resolve("train.txt"), valid = dir.resolve("valid.txt"), test = dir.resolve("test.txt");
        Files.write(train, TrainingTest.TEXT);
        Files.write(valid, List.of("the cat sat on the log", "a dog saw the mat"));
        Files.write(test, List.of("the dog sat on the mat", "", "a cat"));
        return new Path[] {train, valid, test};
    }

    /** train on the tiny corpus with a tiny model; {@code more} (name, value pairs or flags) overrides. */
    static String[] tiny(Path[] c, String... more) {
        Map<String, String> a = new LinkedHashMap<>();
        String[] defaults = {"--train", c[0].toString(), "--dev", c[1].toString(), "--test", c[2].toString(), "--d", "8",
                "--depth", "2", "--batch_size", "2", "--unroll_size", "5", "--dropout", "0.2", "--rnn_dropout", "0.1",
                "--lr", "0.5", "--lr_decay_epoch", "2", "--max_epoch", "2"};
        for (int i = 0; i < defaults.length; i += 2) a.put(defaults[i], defaults[i + 1]);
        for (int i = 0; i < more.length; i += 2) a.put(more[i], more[i + 1]);
        List<String> args = new java.util.ArrayList<>(List.of("train"));
        for (var e : a.entrySet()) { args.add(e.getKey()); args.add(e.getValue()); }
        return args.toArray(new String[0]);
    }

    @Test
    void helpListsTheScriptFlags() throws Exception {
        Result r = lm("--help");
        assertEquals(0, r.code());
        for (String f : List.of("--train", "--dev", "--test", "--lstm", "--batch_size", "--unroll_size", "--max_epoch", "--d ",
                "--dropout", "--rnn_dropout", "--bias", "--depth", "--lr ", "--lr_decay ", "--lr_decay_epoch", "--weight_decay",
                "--clip_grad", "--backend", "--seed", "--init", "--save", "--resume", "bundled"))
            assertTrue(r.out().contains(f), f);
        assertEquals(0, lm("train", "--help").code());
    }

    @Test
    void argumentErrorsExitWithStatus2AndOneClearLine(@TempDir Path dir) throws Exception {
        Path[] c = corpus(dir);
        Object[][] cases = {
                {new String[] {"train", "--frobnicate", "3"}, "unknown option --frobnicate"},
                {new String[] {"train", "--d", "ten"}, "--d: expected an integer, got 'ten'"},
                {new String[] {"train", "--lr", "fast"}, "--lr: expected a number, got 'fast'"},
                {new String[] {"train", "--d"}, "--d needs a value"},
                {new String[] {"train", "--train", dir.resolve("nope.txt").toString(), "--dev", c[1].toString(), "--test", c[2].toString()},
                        "--train: no such file"},
                {new String[] {"train", "--train", c[0].toString()}, "give all of --train, --dev and --test"},
                {new String[] {"train", "--dropout", "1.5"}, "--dropout must be in [0, 1)"},
                {new String[] {"train", "--init", c[0].toString(), "--resume", c[0].toString()}, "cannot be combined"},
                {new String[] {"train", "--backend", "abacus"}, "unknown backend"},
                {new String[] {"train", "stray"}, "unexpected argument 'stray'"},
                {new String[] {"train", "--lstm=yes"}, "--lstm takes no value"},
                {new String[] {"frobnicate"}, "unknown subcommand"},
                {new String[] {"eval", "--data", c[1].toString()}, "--checkpoint FILE is required"},
                {new String[] {"sample", "--checkpoint", dir.resolve("missing.safetensors").toString()}, "--checkpoint: no such file"},
                {new String[] {"sample", "--checkpoint", c[0].toString(), "--temperature", "0"}, "--temperature must be positive"},
        };
        for (Object[] k : cases) {
            String[] args = (String[]) k[0];
            Result r = lm(args);
            assertEquals(2, r.code(), String.join(" ", args) + " -> " + r.err());
            assertTrue(r.err().contains((String) k[1]), String.join(" ", args) + " -> " + r.err());
            assertTrue(r.err().startsWith("rnn4j lm"), r.err());
        }
    }

    @Test
    void sru2TrainsAndItsCheckpointHasSru2NamesThatEvalAndSampleRead(@TempDir Path dir) throws Exception {
        Path[] c = corpus(dir);
        Path ckpt = dir.resolve("lm2.safetensors");
        List<String> args = new java.util.ArrayList<>(List.of(tiny(c, "--save", ckpt.toString())));
        args.add("--sru2");
        args.add("--layer_norm");
        Result r = lm(args.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("rnn.rnn_lst.0.weight_c") && r.out().contains("rnn.rnn_lst.1.layer_norm.weight"), r.out());
        Map<String, HostTensor> t = SafeTensors.read(ckpt).tensors();
        for (String k : List.of("rnn.rnn_lst.0.weight", "rnn.rnn_lst.0.weight_c", "rnn.rnn_lst.0.bias", "rnn.rnn_lst.0.scale_x",
                "rnn.rnn_lst.0.layer_norm.weight", "rnn.rnn_lst.0.layer_norm.bias", "rnn.rnn_lst.1.weight_c"))
            assertTrue(t.containsKey(k), k + " in " + t.keySet());
        Checkpoint.Contents cc = Checkpoint.load(ckpt);
        assertTrue(cc.config().sru2() && cc.config().layerNorm());
        r = lm("eval", "--checkpoint", ckpt.toString(), "--data", c[2].toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*test\\.txt: 10 tokens, ppl=\\d+\\.\\d\\d .*"), r.out());
        Result s = lm("sample", "--checkpoint", ckpt.toString(), "--words", "5", "--seed", "2");
        assertEquals(0, s.code(), s.err());
        // the configuration errors name the flags
        r = lm("train", "--layer_norm");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--layer_norm needs --sru2"), r.err());
        r = lm("train", "--sru2", "--lstm");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--sru2 and --lstm cannot be combined"), r.err());
    }

    @Test
    void trainResumeEvalSample(@TempDir Path dir) throws Exception {
        Path[] c = corpus(dir);
        Path ckpt = dir.resolve("lm.safetensors");
        Result r = lm(tiny(c, "--save", ckpt.toString()));
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        assertTrue(out.contains("vocab size: 11"), out);
        assertTrue(out.contains("num of parameters: "), out);
        assertTrue(out.contains("output_layer.weight") && out.contains("(tied: the same tensor as embedding_layer.embedding.weight)"), out);
        assertTrue(out.matches("(?s).*Epoch=0  lr=0\\.5000  train_ppl=\\d+\\.\\d\\d  dev_ppl=\\d+\\.\\d\\d  \\[\\d+\\.\\d\\dm]\n.*"), out);
        assertTrue(out.contains("[eval]  test_ppl="), out);
        assertTrue(out.contains("Epoch=1  lr=0.5000"), out);
        assertFalse(out.contains("Epoch=2"), out);
        assertTrue(Files.isRegularFile(ckpt));
        try (var files = Files.list(dir)) {
            assertEquals(0, files.filter(p -> p.getFileName().toString().endsWith(".tmp")).count(), "no temporary file left");
        }
        assertEquals(2, Checkpoint.load(ckpt).state().epoch());

        // resume to 4 epochs: the lr decays from epoch 2 (0.98 by default)
        r = lm("train", "--resume", ckpt.toString(), "--max_epoch", "4");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("resumed from"), r.out());
        assertTrue(r.out().contains("Epoch=2  lr=0.4900"), r.out());
        assertTrue(r.out().contains("Epoch=3  lr=0.4802"), r.out());
        assertEquals(4, Checkpoint.load(ckpt).state().epoch(), "saved back to the resumed file");
        // a resumed run keeps its configuration
        r = lm("train", "--resume", ckpt.toString(), "--d", "16");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--d 16 differs from the checkpoint's 8"), r.err());

        r = lm("eval", "--checkpoint", ckpt.toString(), "--data", c[2].toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*test\\.txt: 10 tokens, ppl=\\d+\\.\\d\\d .*"), r.out());

        Path unknown = dir.resolve("unknown.txt");
        Files.write(unknown, List.of("the cat", "the zebra sat"));
        Exception e = assertThrows(IllegalArgumentException.class, () -> lm("eval", "--checkpoint", ckpt.toString(), "--data", unknown.toString()));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("'zebra'"), e.getMessage());

        Result s1 = lm("sample", "--checkpoint", ckpt.toString(), "--words", "30", "--seed", "5");
        Result s2 = lm("sample", "--checkpoint", ckpt.toString(), "--words", "30", "--seed", "5");
        assertEquals(0, s1.code(), s1.err());
        assertEquals(s1.out(), s2.out(), "same seed, same text");
        int words = 0;
        for (String line : s1.out().split("\n", -1)) for (String w : line.split(" ")) if (!w.isEmpty()) words++;
        long newlines = s1.out().chars().filter(ch -> ch == '\n').count();
        assertTrue(words + newlines >= 30 && words + newlines <= 31, s1.out());   // </s> prints as a line end
        Result cold = lm("sample", "--checkpoint", ckpt.toString(), "--words", "30", "--seed", "5", "--temperature", "0.01");
        assertEquals(0, cold.code());
    }

    /** --init: a state dict under the original PyTorch names, the tied matrix stored once (as PyTorch's safetensors writer does). */
    @Test
    void initLoadsAStateDictWithPyTorchNames(@TempDir Path dir) throws Exception {
        Path[] c = corpus(dir);
        Vocabulary v = Vocabulary.build(Corpus.read(c[0]));
        Path init = dir.resolve("init.safetensors");
        Map<String, HostTensor> sd = new LinkedHashMap<>();
        try (Device d = Device.reference(); LanguageModel m = new LanguageModel(d, v.size(), 8, 2, false, 0, 0)) {
            m.initialize(1234, -2f);
            for (var e : m.stateDict().entrySet()) {
                float[] a = e.getValue().data().clone();
                for (int i = 0; i < a.length; i++) a[i] += 0.25f;   // clearly not what the default seed draws
                sd.put(e.getKey(), new HostTensor(e.getValue().shape(), a));
            }
        }
        sd.remove("output_layer.weight");
        SafeTensors.write(init, sd);
        Path ckpt = dir.resolve("after.safetensors");
        Result r = lm(tiny(c, "--init", init.toString(), "--max_epoch", "0", "--save", ckpt.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("initialised from " + init), r.out());

        try (Device d = Device.reference(); LanguageModel m = new LanguageModel(d, v.size(), 8, 2, false, 0, 0)) {
            LmCommand.loadInit(m, init);
            Map<String, HostTensor> got = m.stateDict();
            for (var e : sd.entrySet()) assertEquals(e.getValue(), got.get(e.getKey()), e.getKey());
            assertEquals(sd.get("embedding_layer.embedding.weight"), got.get("output_layer.weight"));
        }

        // wrong names are listed
        Map<String, HostTensor> wrong = new LinkedHashMap<>(sd);
        wrong.put("rnn.rnn_lst.7.weight", wrong.remove("rnn.rnn_lst.1.weight"));
        Path bad = dir.resolve("bad.safetensors");
        SafeTensors.write(bad, wrong);
        Exception e = assertThrows(IllegalArgumentException.class, () -> lm(tiny(c, "--init", bad.toString())));
        assertTrue(e.getMessage().contains("missing keys: rnn.rnn_lst.1.weight") && e.getMessage().contains("unexpected keys: rnn.rnn_lst.7.weight"),
                e.getMessage());
    }
}
