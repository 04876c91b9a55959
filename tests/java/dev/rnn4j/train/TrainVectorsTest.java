package dev.rnn4j.train;

import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Parameter;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every optimizer, the clipping, the losses and the schedules against values PyTorch computed
 * (tests/vectors/train/generate.py), on every available backend.
 */
class TrainVectorsTest {
    static final Path DIR = Path.of("tests/vectors/train");
    static final List<String> OPTIMIZER_CASES = List.of("sgd_plain", "sgd_momentum", "sgd_nesterov",
            "adam_default", "adam_options", "adamw_default", "adamw_options");

    static Stream<String> backends() { return Backends.available().stream(); }

    static Stream<Object[]> optimizerCases() {
        return Backends.available().stream().flatMap(b -> OPTIMIZER_CASES.stream().map(c -> new Object[] {b, c}));
    }

    static SafeTensors.Contents read(String name) throws IOException { return SafeTensors.read(DIR.resolve(name + ".safetensors")); }

    static double num(Map<String, String> meta, String key, double dflt) {
        String v = meta.get(key);
        return v == null ? dflt : Double.parseDouble(v);
    }

    /** The optimizer a vector file describes, with PyTorch's defaults where the file gives none. */
    static Optimizer optimizer(Map<String, String> m, List<Parameter> ps) {
        return switch (m.get("type")) {
            case "SGD" -> SGD.builder(ps).lr(num(m, "lr", 1e-3)).momentum(num(m, "momentum", 0)).dampening(num(m, "dampening", 0))
                    .weightDecay(num(m, "weight_decay", 0)).nesterov(Boolean.parseBoolean(m.getOrDefault("nesterov", "False"))).build();
            case "Adam" -> Adam.builder(ps).lr(num(m, "lr", 1e-3)).betas(num(m, "beta1", 0.9), num(m, "beta2", 0.999))
                    .eps(num(m, "eps", 1e-8)).weightDecay(num(m, "weight_decay", 0)).build();
            case "AdamW" -> AdamW.builder(ps).lr(num(m, "lr", 1e-3)).betas(num(m, "beta1", 0.9), num(m, "beta2", 0.999))
                    .eps(num(m, "eps", 1e-8)).weightDecay(num(m, "weight_decay", 1e-2)).build();
            default -> throw new AssertionError(m.get("type"));
        };
    }

    static void setGrads(SafeTensors.Contents c, List<Parameter> ps, int step) {
        for (int i = 0; i < ps.size(); i++) ps.get(i).grad().copyFrom(c.tensor("grad." + step + "." + i).data());
    }

    static void checkParams(String what, SafeTensors.Contents c, List<Parameter> ps, int step) {
        for (int i = 0; i < ps.size(); i++)
            Backends.assertClose(what + " step " + step + " param " + i, c.tensor("param." + step + "." + i).data(),
                    ps.get(i).value().toArray(), 2e-5, 2e-6);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("optimizerCases")
    void optimizerMatchesPyTorch(String backend, String name) throws IOException {
        SafeTensors.Contents c = read(name);
        int steps = Integer.parseInt(c.metadata().get("steps"));
        try (Device dev = Device.open(backend); Linear holder = new Linear(dev, 4, 3, true, 0)) {
            List<Parameter> ps = List.of(holder.weight(), holder.bias());
            for (int i = 0; i < 2; i++) ps.get(i).set(c.tensor("param.init." + i));
            try (Optimizer opt = optimizer(c.metadata(), ps)) {
                for (int s = 0; s < steps; s++) {
                    setGrads(c, ps, s);
                    opt.step();
                    checkParams(name + " on " + backend, c, ps, s);
                }
                Map<String, HostTensor> state = opt.stateTensors();
                int expected = 0;
                for (var e : c.tensors().entrySet()) {
                    if (!e.getKey().startsWith("state.")) continue;
                    expected++;
                    HostTensor mine = state.get(e.getKey());
                    assertTrue(mine != null, name + ": no optimizer state " + e.getKey() + " (have " + state.keySet() + ")");
                    Backends.assertClose(name + " " + e.getKey(), e.getValue().data(), mine.data(), 2e-5, 1e-7);
                }
                assertEquals(expected, state.size(), name + ": state entries " + state.keySet());
            }
        }
    }

    /** Two steps, a checkpoint, then the remaining steps in a fresh model and optimizer: the same values as the uninterrupted run. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("optimizerCases")
    void checkpointResumesExactly(String backend, String name, @TempDir Path tmp) throws IOException {
        SafeTensors.Contents c = read(name);
        int steps = Integer.parseInt(c.metadata().get("steps"));
        Path file = tmp.resolve("ckpt.safetensors");
        try (Device dev = Device.open(backend)) {
            try (Linear a = new Linear(dev, 4, 3, true, 0)) {
                List<Parameter> ps = List.of(a.weight(), a.bias());
                for (int i = 0; i < 2; i++) ps.get(i).set(c.tensor("param.init." + i));
                try (Optimizer opt = optimizer(c.metadata(), ps)) {
                    StepLR sched = new StepLR(opt, 2, 0.5);
                    for (int s = 0; s < 2; s++) {
                        setGrads(c, ps, s);
                        opt.step();
                    }
                    sched.step();
                    Checkpoints.save(file, a, opt, sched);
                }
            }
            try (Linear b = new Linear(dev, 4, 3, true, 99)) {
                List<Parameter> ps = List.of(b.weight(), b.bias());
                try (Optimizer opt = optimizer(Map.of("type", c.metadata().get("type"), "lr", "0.5", "momentum", c.metadata().getOrDefault("momentum", "0"),
                        "dampening", c.metadata().getOrDefault("dampening", "0"), "weight_decay", c.metadata().getOrDefault("weight_decay",
                                c.metadata().get("type").equals("AdamW") ? "0.01" : "0"),
                        "nesterov", c.metadata().getOrDefault("nesterov", "False"), "beta1", c.metadata().getOrDefault("beta1", "0.9"),
                        "beta2", c.metadata().getOrDefault("beta2", "0.999"), "eps", c.metadata().getOrDefault("eps", "1e-8")), ps)) {
                    StepLR sched = new StepLR(opt, 2, 0.5);
                    Checkpoints.load(file, b, opt, sched);
                    assertEquals(1, sched.lastEpoch());
                    assertEquals(Double.parseDouble(c.metadata().getOrDefault("lr", "0.001")), opt.lr());
                    checkParams(name + " resumed on " + backend, c, ps, 1);
                    for (int s = 2; s < steps; s++) {
                        setGrads(c, ps, s);
                        opt.step();
                        checkParams(name + " resumed on " + backend, c, ps, s);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void clipGradNormMatchesPyTorch(String backend) throws IOException {
        for (String name : List.of("clip_active", "clip_inactive")) {
            SafeTensors.Contents c = read(name);
            try (Device dev = Device.open(backend); Linear holder = new Linear(dev, 4, 3, true, 0)) {
                List<Parameter> ps = List.of(holder.weight(), holder.bias());
                for (int i = 0; i < 2; i++) ps.get(i).grad().copyFrom(c.tensor("grad." + i).data());
                double norm = Gradients.clipGradNorm(ps, Double.parseDouble(c.metadata().get("max_norm")));
                assertEquals(c.tensor("total_norm").data()[0], norm, 1e-5 * norm, name);
                for (int i = 0; i < 2; i++)
                    Backends.assertClose(name + " grad " + i, c.tensor("clipped." + i).data(), ps.get(i).grad().toArray(), 1e-5, 1e-7);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void mseMatchesPyTorch(String backend) throws IOException {
        SafeTensors.Contents c = read("mse");
        try (Device dev = Device.open(backend);
             Tensor x = dev.tensor(c.tensor("input")); Tensor y = dev.tensor(c.tensor("target"))) {
            for (Reduction r : Reduction.values()) {
                String red = r.name().toLowerCase();
                try (LossValue l = Losses.mse(x, y, r)) {
                    assertEquals(c.tensor("loss." + red).data()[0], l.value(), 1e-6 * Math.abs(l.value()), "mse " + red);
                    assertArrayEquals(x.shape(), l.grad().shape());
                    Backends.assertClose("mse grad " + red, c.tensor("grad." + red).data(), l.grad().toArray(), 1e-6, 1e-7);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void crossEntropyMatchesPyTorch(String backend) throws IOException {
        SafeTensors.Contents c = read("cross_entropy");
        float[] tf = c.tensor("targets").data();
        int[] targets = new int[tf.length];
        for (int i = 0; i < tf.length; i++) targets[i] = (int) tf[i];
        try (Device dev = Device.open(backend); Tensor logits = dev.tensor(c.tensor("logits"));
             Tensor one = dev.tensor(c.tensor("unbatched.logits"))) {
            for (Reduction r : Reduction.values()) {
                String red = r.name().toLowerCase();
                try (LossValue l = Losses.crossEntropy(logits, targets, r)) {
                    assertEquals(c.tensor("loss." + red).data()[0], l.value(), 2e-6 * Math.abs(l.value()), "cross-entropy " + red);
                    Backends.assertClose("cross-entropy grad " + red, c.tensor("grad." + red).data(), l.grad().toArray(), 1e-5, 1e-7);
                }
            }
            try (LossValue l = Losses.crossEntropy(one, new int[] {Integer.parseInt(c.metadata().get("unbatched.target"))})) {
                assertEquals(c.tensor("unbatched.loss").data()[0], l.value(), 2e-6 * Math.abs(l.value()));
                Backends.assertClose("unbatched grad", c.tensor("unbatched.grad").data(), l.grad().toArray(), 1e-5, 1e-7);
            }
        }
    }

    /** Class weights and ignore_index against cross_entropy(weight=..., ignore_index=...), both reductions. */
    @ParameterizedTest
    @MethodSource("backends")
    void maskedCrossEntropyMatchesPyTorch(String backend) throws IOException {
        SafeTensors.Contents c = read("cross_entropy_masked");
        float[] weight = c.tensor("weight").data();
        int checked = 0;
        try (Device dev = Device.open(backend); Tensor logits = dev.tensor(c.tensor("logits"))) {
            for (String name : c.metadata().get("cases").split(",")) {
                float[] tf = c.tensor(name + ".targets").data();
                int[] targets = new int[tf.length];
                for (int i = 0; i < tf.length; i++) targets[i] = (int) tf[i];
                float[] w = Boolean.parseBoolean(c.metadata().get(name + ".weighted")) ? weight : null;
                int ignore = Integer.parseInt(c.metadata().get(name + ".ignore_index"));
                for (Reduction r : Reduction.values()) {
                    String red = r.name().toLowerCase();
                    try (LossValue l = Losses.crossEntropy(logits, targets, w, ignore, r)) {
                        assertEquals(c.tensor(name + ".loss." + red).data()[0], l.value(), 2e-6 * Math.abs(l.value()), name + " " + red);
                        Backends.assertClose(name + " grad " + red, c.tensor(name + ".grad." + red).data(), l.grad().toArray(), 1e-5, 1e-7);
                    }
                    checked++;
                }
            }
        }
        assertEquals(8, checked);
    }

    /** MSE over a 0/1 mask and over weights against ((x - y)**2 * w).sum() (/ w.sum()). */
    @ParameterizedTest
    @MethodSource("backends")
    void weightedMseMatchesPyTorch(String backend) throws IOException {
        SafeTensors.Contents c = read("mse_masked");
        try (Device dev = Device.open(backend);
             Tensor x = dev.tensor(c.tensor("input")); Tensor y = dev.tensor(c.tensor("target"))) {
            for (String name : List.of("mask", "weights")) {
                try (Tensor w = dev.tensor(c.tensor(name))) {
                    for (Reduction r : Reduction.values()) {
                        String red = r.name().toLowerCase();
                        try (LossValue l = Losses.mse(x, y, w, r)) {
                            assertEquals(c.tensor(name + ".loss." + red).data()[0], l.value(), 1e-6 * Math.abs(l.value()), name + " " + red);
                            assertArrayEquals(x.shape(), l.grad().shape());
                            Backends.assertClose(name + " grad " + red, c.tensor(name + ".grad." + red).data(), l.grad().toArray(), 1e-6, 1e-7);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void schedulesMatchPyTorch(String backend) throws IOException {
        Map<String, String> m = read("schedules").metadata();
        try (Device dev = Device.open(backend); Linear holder = new Linear(dev, 1, 1, false, 0);
             SGD opt = SGD.builder(List.of(holder.weight())).lr(Double.parseDouble(m.get("base_lr"))).build()) {
            check("StepLR", new StepLR(opt, Integer.parseInt(m.get("step.step_size")), Double.parseDouble(m.get("step.gamma"))), m.get("step.lrs"));
            opt.setLr(Double.parseDouble(m.get("base_lr")));
            check("ExponentialLR", new ExponentialLR(opt, Double.parseDouble(m.get("exp.gamma"))), m.get("exp.lrs"));
        }
    }

    private static void check(String what, LRScheduler s, String lrs) {
        String[] expected = lrs.split(",");
        assertEquals(Double.parseDouble(expected[0]), s.lastLr(), what + " epoch 0");
        for (int e = 1; e < expected.length; e++) {
            s.optimizer().step();
            s.step();
            // Python doubles, reached by the same chain of multiplications: exactly equal.
            assertEquals(Double.parseDouble(expected[e]), s.lastLr(), what + " epoch " + e);
        }
    }
}
