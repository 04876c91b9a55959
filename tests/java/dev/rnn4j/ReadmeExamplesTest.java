package dev.rnn4j;

import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.io.StateDicts;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.ModuleList;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.LoadResult;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.RecurrentStream;
import dev.rnn4j.nn.SRU;
import dev.rnn4j.nn.Sequential;
import dev.rnn4j.train.Adam;
import dev.rnn4j.train.Checkpoints;
import dev.rnn4j.train.Gradients;
import dev.rnn4j.train.LossValue;
import dev.rnn4j.train.Losses;
import dev.rnn4j.train.Reduction;
import dev.rnn4j.train.StepLR;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The examples of README.md's "Java API" section, verbatim, so that they compile and run, with
 * assertions on what they compute. {@link #readmeShowsTheseExamples()} checks that every Java
 * block of that section appears in this file line by line, indentation and assertion lines
 * aside: change both together.
 */
class ReadmeExamplesTest {
    @TempDir
    Path dir;

    @Test
    void devicesAndTensors() {
        for (Device.BackendInfo b : Device.backends())
            System.out.println(b.name() + (b.available() ? " available: " : " unavailable: ") + b.detail());

        try (Device device = Device.reference();                  // or Device.open("reference")
             Tensor x = device.tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            float[] values = x.toArray();                         // row-major: {1, 2, 3, 4, 5, 6}
            int[] shape = x.shape();                              // {2, 3}
            HostTensor onHeap = x.toHost();                       // shape and float[] on the Java heap

            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, values);
            assertArrayEquals(new int[] {2, 3}, shape);
            assertEquals(new HostTensor(new int[] {2, 3}, values), onHeap);
        }
    }

    @Test
    void lstmForwardAndBackward() {
        float[] data = new float[5 * 3 * 10];                     // (seq_len, batch, input_size), row-major
        Arrays.fill(data, 0.5f);
        try (Device device = Device.reference();
             LSTM lstm = LSTM.builder(10, 20)                     // input_size, hidden_size
                     .numLayers(2).bidirectional(true).dropout(0.1).seed(42)
                     .build(device);
             Tensor x = device.tensor(data, 5, 3, 10);
             RecurrentOutput out = lstm.forward(x)) {             // h0 = c0 = 0; or forward(x, h0, c0)
            Tensor y = out.output();                              // (5, 3, 2*20)
            Tensor hN = out.hN(), cN = out.cN();                  // (2*2, 3, 20) each

            // Backward of loss = sum(output): d loss / d output is all ones.
            lstm.zeroGrad();
            try (Tensor gradOutput = device.zeros(y.shape())) {
                gradOutput.fill(1f);
                try (RecurrentGrads grads = lstm.backward(out, gradOutput, null, null)) {   // null: no gradient for h_n, c_n
                    float[] dx = grads.input().toArray();         // d loss / d x, (5, 3, 10)
                    Tensor dh0 = grads.h0(), dc0 = grads.c0();    // also when h0 and c0 defaulted to zeros

                    assertEquals(data.length, dx.length);
                    assertArrayEquals(hN.shape(), dh0.shape());
                    assertArrayEquals(cN.shape(), dc0.shape());
                }
            }
            // Parameter gradients accumulate (until zeroGrad) under PyTorch's state_dict names.
            float[] dWih = lstm.namedParameters().get("weight_ih_l0").grad().toArray();

            assertArrayEquals(new int[] {5, 3, 40}, y.shape());
            assertArrayEquals(new int[] {4, 3, 20}, hN.shape());
            assertEquals(4 * 20 * 10, dWih.length);
            assertTrue(anyNonZero(lstm.namedParameters().get("bias_hh_l1_reverse").grad().toArray()), "the last layer got gradients");
        }
    }

    @Test
    void variableLengthBatch() {
        int[] lengths = {4, 7, 2};                                // one per sentence, any order, each 1..T
        float[] padded = new float[7 * 3 * 16];                   // (T = 7, batch = 3, input_size = 16)
        for (int t = 0; t < 7; t++)
            for (int b = 0; b < 3; b++)
                if (t < lengths[b]) Arrays.fill(padded, (t * 3 + b) * 16, (t * 3 + b + 1) * 16, 0.1f * (t + 1));
        try (Device device = Device.reference();
             LSTM lstm = LSTM.builder(16, 32).bidirectional(true).seed(1).build(device);
             Tensor x = device.tensor(padded, 7, 3, 16);
             RecurrentOutput out = lstm.forward(x, lengths)) {    // or forward(x, h0, c0, lengths)
            Tensor y = out.output();                              // (7, 3, 2*32), zero after each sentence's end
            Tensor hN = out.hN();                                 // (2, 3, 32): each sentence's own last state
            try (Tensor gradOutput = device.zeros(y.shape())) {
                gradOutput.fill(1f);
                try (RecurrentGrads grads = lstm.backward(out, gradOutput, null, null)) {
                    float[] dx = grads.input().toArray();         // zero at the padded steps

                    assertEquals(0f, dx[(5 * 3) * 16], "sentence 0 has ended at t = 5");
                    assertNotEquals(0f, dx[(3 * 3) * 16], "sentence 0's last word gets a gradient");
                    assertArrayEquals(new int[] {7, 3, 64}, y.shape());
                    assertEquals(0f, y.toArray()[(2 * 3 + 2) * 64 + 3], "sentence 2 has ended at t = 2");
                    assertNotEquals(0f, y.toArray()[(1 * 3 + 2) * 64 + 3], "sentence 2's last word");
                    assertArrayEquals(Arrays.copyOfRange(y.toArray(), (1 * 3 + 2) * 64, (1 * 3 + 2) * 64 + 32), Arrays.copyOfRange(hN.toArray(), 2 * 32, 3 * 32), "forward h_n of sentence 2 = its output at its last word, t = 1");
                    assertArrayEquals(Arrays.copyOfRange(y.toArray(), 2 * 64 + 32, 3 * 64), Arrays.copyOfRange(hN.toArray(), 5 * 32, 6 * 32), "reverse h_n of sentence 2 = its output at t = 0");
                }
            }
        }
    }

    @Test
    void sruForwardAndBackward() {
        try (Device device = Device.reference();
             SRU sru = SRU.builder(32, 64)                        // input_size, hidden_size
                     .numLayers(3).bidirectional(true).dropout(0.2).rnnDropout(0.1)
                     .build(device);
             Tensor x = device.zeros(7, 4, 32)) {                 // (seq_len, batch, input_size)
            sru.initWeight(1);                                    // the original init_weight(), seeded
            sru.setBias(-3f);                                     // the original set_bias(-3) on every layer
            try (RecurrentOutput out = sru.forward(x, null);      // c0 = 0; else (num_layers, batch, 2*64)
                 Tensor gradOutput = device.zeros(out.output().shape())) {
                gradOutput.fill(1f);
                try (RecurrentGrads grads = sru.backward(out, gradOutput, null)) {   // out.hN() and grads.h0() are null
                    float[] dx = grads.input().toArray();         // (7, 4, 32)

                    assertEquals(7 * 4 * 32, dx.length);
                    assertNull(out.hN());
                    assertArrayEquals(new int[] {3, 4, 128}, out.cN().shape());
                }
            }
            float[] dW0 = sru.namedParameters().get("rnn_lst.0.weight").grad().toArray();   // (32, 2*64*4)

            assertEquals(32 * 128 * 4, dW0.length);
        }
    }

    @Test
    void sru2WithLengths() {
        try (Device device = Device.reference();
             SRU sru = SRU.builder(32, 64)                        // sru 2.x: SRU(32, 64, num_layers=2, ...)
                     .v1(false).numLayers(2).layerNorm(true).highwayBias(-2).projectionSize(16)
                     .build(device);
             Tensor x = device.zeros(7, 4, 32)) {                 // (seq_len, batch, input_size), right-padded
            int[] lengths = {7, 3, 5, 1};                         // valid steps per sequence: sru's mask_pad
            try (RecurrentOutput out = sru.forward(x, null, lengths);   // output is zero at padded steps
                 Tensor gradOutput = device.zeros(out.output().shape())) {
                gradOutput.fill(1f);
                sru.backward(out, gradOutput, null).close();
            }
            float[] dWc = sru.namedParameters().get("rnn_lst.0.weight_c").grad().toArray();   // (2*64) peepholes
            Map<String, HostTensor> state = sru.stateDict();      // sru's names: weight_proj, weight, weight_c, bias,
            sru.loadStateDict(state);                             // scale_x, layer_norm.weight/.bias; strict

            assertEquals(2 * 64, dWc.length);
            assertTrue(state.containsKey("rnn_lst.1.scale_x") && state.containsKey("rnn_lst.1.layer_norm.bias"));
        }
    }

    @Test
    void trainAndEval() {
        try (Device device = Device.reference();
             SRU model = SRU.builder(8, 8).dropout(0.5).build(device)) {
            model.train(true);                                    // the default: dropout is active
            model.eval();                                         // no dropout, e.g. for validation
            boolean training = model.isTraining();                // false

            assertFalse(training);
            assertFalse(model.layers().get(0).isTraining(), "eval reaches every child");
        }
    }

    @Test
    void loadAPyTorchStateDict() throws IOException {
        // Stands in for the file PyTorch writes: an LSTM's state dict under PyTorch's names.
        Path file = dir.resolve("lstm.safetensors"), copy = dir.resolve("lstm-copy.safetensors");
        try (Device device = Device.reference(); LSTM pytorch = LSTM.builder(10, 20).numLayers(2).seed(7).build(device)) {
            StateDicts.save(pytorch, file);
        }

        try (Device device = Device.reference();
             LSTM lstm = LSTM.builder(10, 20).numLayers(2).build(device)) {
            Map<String, String> metadata = StateDicts.load(lstm, file);   // strict: exactly these names and shapes
            StateDicts.save(lstm, copy);                          // and back: PyTorch reads it with load_file

            assertEquals(Map.of(), metadata);
            assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(copy));
        }
    }

    @Test
    void loadUnderAPrefixAndNonStrictly() throws IOException {
        // Stand in for PyTorch's files: a model with the LSTM as its encoder, and a 2-layer LSTM.
        Path model = dir.resolve("model.safetensors"), file = dir.resolve("lstm2.safetensors");
        Map<String, HostTensor> expected;
        try (Device device = Device.reference();
             LSTM pytorch = LSTM.builder(10, 20).seed(7).build(device);
             LSTM twoLayers = LSTM.builder(10, 20).numLayers(2).seed(8).build(device)) {
            expected = pytorch.stateDict();
            Map<String, HostTensor> nested = new java.util.LinkedHashMap<>();
            expected.forEach((k, v) -> nested.put("encoder." + k, v));
            nested.put("decoder.weight", HostTensor.zeros(3, 20));
            SafeTensors.write(model, nested);
            StateDicts.save(twoLayers, file);
        }

        try (Device device = Device.reference();
             LSTM encoder = LSTM.builder(10, 20).build(device)) {
            StateDicts.load(encoder, model, "encoder.");          // encoder.weight_ih_l0, ...; the file's other names ignored
            assertEquals(expected, encoder.stateDict());
            LoadResult r = StateDicts.loadNonStrict(encoder, file); // the 2-layer file: layer 0 loads
            List<String> missing = r.missing();                   // []: the module's names the file lacks (kept as they were)
            List<String> unexpected = r.unexpected();             // [weight_ih_l1, weight_hh_l1, bias_ih_l1, bias_hh_l1]: ignored

            assertEquals(List.of(), missing);
            assertEquals(List.of("weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"), unexpected);
            assertEquals(SafeTensors.read(file).tensor("weight_hh_l0"), encoder.stateDict().get("weight_hh_l0"));
        }
    }

    @Test
    void tensorViewsSlicesAndStreams() {
        try (Device device = Device.reference();
             Tensor seq = device.tensor(new float[6 * 2 * 3], 6, 2, 3);            // (T, B, F)
             GRU gru = GRU.builder(3, 4).seed(1).build(device)) {
            Tensor flat = seq.view(6 * 2, 3);                     // same memory, (T*B, F); -1 infers a dimension
            try (Tensor firstSteps = seq.slice(0, 0, 2);          // time steps [0, 2): a new (2, 2, 3) tensor
                 Tensor joined = Tensor.cat(0, firstSteps, seq)) { // (8, 2, 3)
                float[] row = new float[3];
                seq.copyToHost(3, row, 0, 3);                     // elements [3, 6) of the row-major data
                seq.copyFromHost(new float[] {1, 2, 3}, 0, 0, 3); // overwrite elements [0, 3)

                assertArrayEquals(new int[] {8, 2, 3}, joined.shape());
                assertArrayEquals(new float[] {1, 2, 3}, Arrays.copyOf(flat.toArray(), 3));
            }
            try (RecurrentStream stream = new RecurrentStream(gru)) {   // carries h_n to the next chunk, on the device
                for (int t = 0; t < 6; t += 3)
                    try (Tensor chunk = seq.slice(0, t, t + 3);
                         RecurrentOutput out = stream.forward(chunk)) {
                        float[] y = out.output().toArray();       // (3, 2, 4)

                        assertEquals(3 * 2 * 4, y.length);
                    }
            }
        }
    }

    @Test
    void trainWithAdamAndMse() throws IOException {
        Path checkpoint = dir.resolve("gru.safetensors");
        try (Device device = Device.reference();
             GRU gru = GRU.builder(3, 8).seed(1).build(device);
             Tensor x = device.tensor(new float[5 * 2 * 3], 5, 2, 3);
             Tensor target = device.zeros(5, 2, 8);
             Adam adam = Adam.builder(gru.namedParameters().values()).lr(1e-2).build()) {   // or SGD, AdamW
            StepLR schedule = new StepLR(adam, 10, 0.5);          // halve the lr every 10 epochs
            target.fill(0.5f);
            for (int epoch = 0; epoch < 20; epoch++) {
                gru.zeroGrad();
                try (RecurrentOutput out = gru.forward(x);
                     LossValue loss = Losses.mse(out.output(), target)) {   // or Losses.crossEntropy(logits, classes)
                    gru.backward(out, loss.grad(), null).close();
                }
                Gradients.clipGradNorm(gru.namedParameters().values(), 1.0);
                adam.step();
                schedule.step();
            }
            Checkpoints.save(checkpoint, gru, adam, schedule);    // model, Adam's moments and the schedule, one file

            assertEquals(0.0025, adam.lr(), 1e-12);
            assertTrue(mse(gru, x, target) < 0.25 * 0.9, "the loss fell below 90% of its start");
        }
    }

    @Test
    void compositeModelWithMaskedLoss() throws IOException {
        float[] data = new float[4 * 2 * 2];
        for (int i = 0; i < data.length; i++) data[i] = (float) Math.sin(i);
        try (Device device = Device.reference();
             GRU gru = GRU.builder(2, 8).seed(1).build(device);
             Sequential head = new Sequential(device, new Linear(device, 8, 8, true, 2), new Linear(device, 8, 3, true, 3));
             ModuleList model = new ModuleList(device, gru, head);     // one model: "0.weight_ih_l0", ..., "1.1.bias"
             Tensor x = device.tensor(data, 4, 2, 2);                 // (T, B, I); the second sequence has 2 steps
             Adam adam = Adam.builder(model.namedParameters().values()).lr(1e-2).build()) {
            int[] lengths = {4, 2};
            int[] targets = {0, 1, 2, 0, 1, Losses.IGNORE_INDEX, 2, Losses.IGNORE_INDEX};   // per (t, b); padding ignored
            for (int epoch = 0; epoch < 10; epoch++) {
                model.zeroGrad();
                try (RecurrentOutput out = gru.forward(x, lengths);
                     Sequential.Output logits = head.forward(out.output());            // (T, B, 3)
                     LossValue loss = Losses.crossEntropy(logits.output().view(-1, 3), targets, null,
                             Losses.IGNORE_INDEX, Reduction.MEAN);                      // mean over the 6 real steps
                     Tensor dh = head.backward(logits, loss.grad().view(4, 2, 3))) {
                    gru.backward(out, dh, null).close();
                }
                Gradients.clipGradNorm(model.namedParameters(), 1.0, true);   // a NaN gradient throws, naming it
                adam.step();
            }
            StateDicts.save(model, dir.resolve("model.safetensors"));
            try (Tensor meanOverTime = x.mean(0);                          // (B, I)
                 Tensor batchFirst = x.transpose(0, 1)) {                  // (B, T, I)

                assertArrayEquals(new int[] {2, 2}, meanOverTime.shape());
                assertArrayEquals(new int[] {2, 4, 2}, batchFirst.shape());
            }
            assertTrue(model.stateDict().containsKey("0.weight_ih_l0") && model.stateDict().containsKey("1.1.bias"));
        }
    }

    private static double mse(GRU gru, Tensor x, Tensor target) {
        try (RecurrentOutput out = gru.forward(x); LossValue loss = Losses.mse(out.output(), target)) {
            return loss.value();
        }
    }

    private static boolean anyNonZero(float[] a) {
        for (float v : a) if (v != 0) return true;
        return false;
    }

    // ------------------------------------------------------------------ README and this file agree

    @Test
    void readmeShowsTheseExamples() throws IOException {
        List<List<String>> blocks = ReadmeText.javaBlocks(ReadmeText.section(Files.readString(Path.of("README.md")), "## Java API"));
        assertFalse(blocks.isEmpty(), "README.md's Java API section has no java block");
        // This file without its assertions: the README shows the examples, not their checks.
        List<String> mine = ReadmeText.normalized(Files.readString(Path.of("tests/java/dev/rnn4j/ReadmeExamplesTest.java")).lines()
                .filter(l -> !l.strip().startsWith("assert")).toList());
        for (List<String> block : blocks)
            assertNotEquals(-1, Collections.indexOfSubList(mine, block),
                    "README example not found in ReadmeExamplesTest (update both):\n" + String.join("\n", block));
    }

    /** The consumer section's Java blocks are the code of the example project CI builds and runs against the installed jar. */
    @Test
    void readmeConsumerExampleIsTheExampleProject() throws IOException {
        List<List<String>> blocks = ReadmeText.javaBlocks(ReadmeText.section(Files.readString(Path.of("README.md")), "## Using rnn4j from Maven"));
        assertFalse(blocks.isEmpty(), "README.md's Maven section has no java block");
        List<String> example = ReadmeText.normalized(Files.readString(Path.of("examples/src/main/java/dev/rnn4j/examples/TrainGru.java")).lines().toList());
        for (List<String> block : blocks) {
            // The README leaves out the example's progress output; compare the lines it shows, in order.
            int at = 0;
            for (String line : block) {
                int found = example.subList(at, example.size()).indexOf(line);
                assertNotEquals(-1, found, "README line not found (in order) in examples/.../TrainGru.java: " + line);
                at += found + 1;
            }
        }
        // The consumer's wildcard import with the single-type import beside it compiles there and here (WildcardImportTest).
        assertTrue(example.contains("import dev.rnn4j.nn.*;") && example.contains("import dev.rnn4j.nn.Module;   // wins over java.lang.Module, which the wildcard would clash with"));
    }
}
