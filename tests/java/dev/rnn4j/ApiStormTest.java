package dev.rnn4j;

import dev.rnn4j.conformance.ConformanceCase;
import dev.rnn4j.conformance.ConformanceRunner;
import dev.rnn4j.io.SafeTensors;
import dev.rnn4j.io.StateDicts;
import dev.rnn4j.lm.LanguageModel;
import dev.rnn4j.nn.CellOutput;
import dev.rnn4j.nn.Dropout;
import dev.rnn4j.nn.Embedding;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.GRUCell;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.LSTMCell;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RNN;
import dev.rnn4j.nn.RNNCell;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
import dev.rnn4j.nn.SRUCell;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A seeded storm of random calls on the public API (Device, Tensor, HostTensor, every layer and
 * cell, Module and Parameter, Embedding/Linear/Dropout, io, conformance) with random shapes,
 * tensors of another device, closed tensors, modules, outputs and devices, nulls, negative and
 * overflowing sizes. Every call must return or throw a documented exception ({@link Outcomes});
 * afterwards no buffer is left open and the device computes an LSTM as before.
 */
class ApiStormTest {
    static final int CALLS = 10000;
    static final long SEED = 0xA91_57A7_2026L;
    /** Sizes: small, zero, negative, and large ones whose products overflow a tensor (none large but valid: no multi-GiB allocations). */
    private static final int[] SIZES = {0, 1, 2, 3, 4, 5, 7, -1, -3, 1 << 16, Integer.MAX_VALUE, Integer.MIN_VALUE};

    @TempDir
    Path tmp;

    private SplittableRandom rng;
    private Device dev, other, closedDev;
    /** Tensors of every kind: open on dev, closed, on another device, on a closed device. */
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<Module> modules = new ArrayList<>();
    private final List<AutoCloseable> outputs = new ArrayList<>();
    /** Everything a call returned, closed at the end. */
    private final List<AutoCloseable> results = new ArrayList<>();

    private int size() { return rng.nextInt(5) == 0 ? SIZES[rng.nextInt(SIZES.length)] : rng.nextInt(1, 6); }

    private int[] shape() {
        if (rng.nextInt(30) == 0) return null;
        int[] s = new int[rng.nextInt(0, 5)];
        for (int i = 0; i < s.length; i++) s[i] = rng.nextInt(8) == 0 ? SIZES[rng.nextInt(SIZES.length)] : rng.nextInt(1, 5);
        return s;
    }

    private float[] floats() { return rng.nextInt(20) == 0 ? null : new float[rng.nextInt(0, 130)]; }

    private Device device() {
        int r = rng.nextInt(20);
        return r == 0 ? null : r == 1 ? closedDev : r == 2 ? other : dev;
    }

    /** An argument: sometimes null. */
    /** Lengths for a batch of {@code batch} sequences of up to {@code steps} steps, sometimes wrong. */
    private int[] lengths(int batch, int steps) {
        if (rng.nextInt(20) == 0) return null;
        int[] l = new int[rng.nextInt(6) == 0 ? rng.nextInt(0, batch + 2) : batch];
        for (int i = 0; i < l.length; i++) l[i] = rng.nextInt(8) == 0 ? rng.nextInt(-1, steps + 2) : rng.nextInt(1, steps + 1);
        return l;
    }

    private Tensor tensor() { return rng.nextInt(15) == 0 ? null : receiver(); }

    /** A tensor to call a method on (never null; maybe closed, or of another device). */
    private Tensor receiver() { return tensors.get(rng.nextInt(tensors.size())); }

    /** Mostly a tensor of a shape the module might accept, else anything from the pool. */
    private Tensor tensorFor(int... likely) {
        if (rng.nextInt(3) == 0) return tensor();
        int[] s = likely.clone();
        if (rng.nextInt(4) == 0 && s.length > 0) s[rng.nextInt(s.length)] += rng.nextInt(-1, 2);
        return keep(tryZeros(s));
    }

    private Tensor tryZeros(int[] s) {
        try {
            return dev.zeros(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private Tensor keep(Tensor t) {
        if (t != null) results.add(t);
        return t;
    }

    /** A module of the type (never null: the pool starts with one of each; some get closed). */
    private <M extends Module> M module(Class<M> type) {
        List<M> of = new ArrayList<>();
        for (Module m : modules) if (type.isInstance(m)) of.add(type.cast(m));
        return of.get(rng.nextInt(of.size()));
    }

    private AutoCloseable output() { return outputs.isEmpty() || rng.nextInt(15) == 0 ? null : outputs.get(rng.nextInt(outputs.size())); }

    private <T extends AutoCloseable> T result(T r) {
        if (r != null) {
            results.add(r);
            if (rng.nextInt(4) == 0) outputs.add(r); // some results become inputs of later calls (and some get closed)
        }
        return r;
    }

    private <M extends Module> void built(Supplier<M> make) {
        M m = make.get();
        results.add(m);
        if (modules.size() < 40) modules.add(m);
    }

    private final List<Runnable> calls = List.of(
            // Device and tensors
            () -> Device.open(rng.nextInt(3) == 0 ? null : rng.nextBoolean() ? "nope" : "").close(),
            () -> keep(Tensor.zeros(device(), shape())),
            () -> keep(Tensor.of(device(), floats(), shape())),
            () -> keep(dev.tensor(rng.nextBoolean() ? null : HostTensor.zeros(shape()))),
            () -> keep(Tensor.of(device(), (HostTensor) null)),
            () -> new HostTensor(shape(), floats()),
            () -> receiver().copyFrom(floats()),
            () -> receiver().copyFrom(tensor()),
            () -> receiver().toArray(),
            () -> receiver().toHost(),
            () -> keep(receiver().copy()),
            () -> receiver().fill(2f),
            () -> receiver().size(rng.nextInt(-2, 6)),
            () -> receiver().buffer(),
            () -> receiver().backend(),
            () -> { if (rng.nextInt(40) == 0) receiver().close(); },
            // builders
            () -> built(() -> LSTM.builder(size(), size()).numLayers(rng.nextInt(-1, 3)).projSize(rng.nextInt(-1, 3))
                    .bidirectional(rng.nextBoolean()).batchFirst(rng.nextBoolean()).dropout(rng.nextInt(-1, 3) * 0.5)
                    .seed(rng.nextLong()).build(device())),
            () -> built(() -> GRU.builder(size(), size()).numLayers(rng.nextInt(-1, 3)).bidirectional(rng.nextBoolean())
                    .bias(rng.nextBoolean()).build(device())),
            () -> built(() -> RNN.builder(size(), size()).nonlinearity(rng.nextInt(10) == 0 ? "sigmoid" : rng.nextBoolean() ? "tanh" : "relu")
                    .numLayers(rng.nextInt(0, 3)).build(device())),
            () -> built(() -> LSTMCell.builder(size(), size()).build(device())),
            () -> built(() -> GRUCell.builder(size(), size()).build(device())),
            () -> built(() -> RNNCell.builder(size(), size()).nonlinearity(rng.nextInt(10) == 0 ? null : "relu").build(device())),
            () -> built(() -> SRU.builder(size(), size()).numLayers(rng.nextInt(-1, 3)).bidirectional(rng.nextBoolean())
                    .dropout(rng.nextInt(-1, 3) * 0.4).rnnDropout(rng.nextInt(-1, 3) * 0.4).build(device())),
            () -> built(() -> SRUCell.builder(size(), size()).bidirectional(rng.nextBoolean()).build(device())),
            () -> built(() -> new Linear(device(), size(), size(), rng.nextBoolean())),
            () -> built(() -> new Embedding(device(), size(), size())),
            () -> built(() -> new Dropout(device(), rng.nextInt(6) == 0 ? Double.NaN : rng.nextInt(-1, 4) * 0.34)),
            () -> { Linear l = module(Linear.class); built(() -> new Linear(rng.nextInt(8) == 0 ? null : l.weight(), rng.nextBoolean())); },
            // forward and backward
            () -> { LSTM m = module(LSTM.class); int b = rng.nextInt(1, 3);
                    result(m.forward(tensorFor(3, b, m == null ? 1 : m.inputSize()), rng.nextBoolean() ? null : tensor(),
                            rng.nextBoolean() ? null : tensor())); },
            () -> { GRU m = module(GRU.class); result(m.forward(tensorFor(2, 2, m == null ? 1 : m.inputSize()), rng.nextBoolean() ? null : tensor())); },
            () -> { RNN m = module(RNN.class); result(m.forward(tensorFor(2, m == null ? 1 : m.inputSize()))); },
            // variable lengths: mostly valid, else null, a wrong count or a length outside 1..T
            () -> { LSTM m = module(LSTM.class); result(m.forward(tensorFor(3, 2, m == null ? 1 : m.inputSize()),
                    rng.nextBoolean() ? null : tensor(), rng.nextBoolean() ? null : tensor(), lengths(2, 3))); },
            () -> { GRU m = module(GRU.class); result(m.forward(tensorFor(3, 2, m == null ? 1 : m.inputSize()), lengths(2, 3))); },
            () -> { RNN m = module(RNN.class); result(m.forward(tensorFor(3, m == null ? 1 : m.inputSize()),
                    rng.nextBoolean() ? null : tensor(), lengths(1, 3))); },
            () -> { SRU m = module(SRU.class); result(m.forward(tensorFor(3, 2, m == null ? 1 : m.inputSize()), rng.nextBoolean() ? null : tensor())); },
            () -> { SRUCell m = module(SRUCell.class); result(m.forward(tensorFor(2, 1, m == null ? 1 : m.nIn()), rng.nextBoolean() ? null : tensor())); },
            () -> { LSTMCell m = module(LSTMCell.class); result(m.forward(tensorFor(2, m == null ? 1 : m.inputSize()), null, rng.nextBoolean() ? null : tensor())); },
            () -> { GRUCell m = module(GRUCell.class); result(m.forward(tensorFor(m == null ? 1 : m.inputSize()), rng.nextBoolean() ? null : tensor())); },
            () -> { RNNCell m = module(RNNCell.class); result(m.forward(tensorFor(1, m == null ? 1 : m.inputSize()), null)); },
            () -> { LSTM m = module(LSTM.class); AutoCloseable o = output();
                    result(m.backward(o instanceof RecurrentOutput r ? r : null, rng.nextBoolean() ? null : tensor(),
                            rng.nextBoolean() ? null : tensor(), rng.nextBoolean() ? null : tensor())); },
            () -> { GRU m = module(GRU.class); AutoCloseable o = output();
                    result(m.backward(o instanceof RecurrentOutput r ? r : null, rng.nextBoolean() ? null : tensor(), null)); },
            () -> { RNN m = module(RNN.class); AutoCloseable o = output();
                    result(m.backward(o instanceof RecurrentOutput r ? r : null, tensor(), null)); },
            () -> { SRU m = module(SRU.class); AutoCloseable o = output();
                    result(m.backward(o instanceof RecurrentOutput r ? r : null, tensor(), rng.nextBoolean() ? null : tensor())); },
            () -> { SRUCell m = module(SRUCell.class); AutoCloseable o = output();
                    result(m.backward(o instanceof RecurrentOutput r ? r : null, tensor(), null)); },
            () -> { LSTMCell m = module(LSTMCell.class); AutoCloseable o = output();
                    result(m.backward(o instanceof CellOutput r ? r : null, tensor(), rng.nextBoolean() ? null : tensor())); },
            () -> { GRUCell m = module(GRUCell.class); AutoCloseable o = output();
                    result(m.backward(o instanceof CellOutput r ? r : null, tensor())); },
            () -> { Linear m = module(Linear.class); keep(m.forward(tensorFor(2, m == null ? 1 : m.inFeatures()))); },
            () -> { Linear m = module(Linear.class); keep(m.backward(tensorFor(2, m == null ? 1 : m.inFeatures()), tensorFor(2, m == null ? 1 : m.outFeatures()))); },
            () -> { Embedding m = module(Embedding.class); int[] ids = new int[rng.nextInt(0, 5)];
                    for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(8) == 0 ? size() : rng.nextInt(m == null ? 1 : m.numEmbeddings());
                    keep(m.forward(rng.nextInt(15) == 0 ? null : ids, rng.nextInt(4) == 0 ? shape() : new int[] {ids.length})); },
            () -> { Embedding m = module(Embedding.class); int[] ids = new int[rng.nextInt(0, 4)];
                    m.backward(rng.nextInt(15) == 0 ? null : ids, tensorFor(ids.length, m == null ? 1 : m.dim())); },
            () -> { Dropout m = module(Dropout.class); result(m.forward(tensor())); },
            () -> { Dropout m = module(Dropout.class); AutoCloseable o = output();
                    keep(m.backward(o instanceof Dropout.Output r ? r : null, tensor())); },
            () -> { AutoCloseable o = output(); if (o != null && rng.nextInt(5) == 0) close(o); },
            // modules and parameters
            () -> { Module m = module(Module.class); m.loadStateDict(randomState(m)); },
            () -> module(Module.class).stateDict(),
            () -> module(Module.class).zeroGrad(),
            () -> module(Module.class).train(rng.nextBoolean()),
            () -> module(Module.class).setDropoutSeed(rng.nextLong()),
            () -> { Module m = module(Module.class); if (rng.nextInt(10) == 0) m.close(); },
            () -> { Parameter p = parameter(); p.set(rng.nextInt(6) == 0 ? null : HostTensor.zeros(rng.nextBoolean() ? p.shape() : new int[] {rng.nextInt(0, 4)})); },
            () -> parameter().set(floats()),
            () -> parameter().grad(),
            () -> parameter().zeroGrad(),
            // the language model
            () -> built(() -> new LanguageModel(device(), size(), size(), rng.nextInt(-1, 3), rng.nextBoolean(),
                    rng.nextInt(-1, 3) * 0.4, rng.nextInt(-1, 3) * 0.4)),
            () -> { LanguageModel m = module(LanguageModel.class); result(m.newState(rng.nextInt(-1, 4))); },
            () -> { LanguageModel m = module(LanguageModel.class); int steps = rng.nextInt(-1, 4), batch = rng.nextInt(-1, 3);
                    AutoCloseable o = output();
                    LanguageModel.State st = o instanceof LanguageModel.State ls ? ls : null;
                    int[] x = ids(steps, batch, m.vocabSize()), y = ids(steps, batch, m.vocabSize());
                    switch (rng.nextInt(3)) {
                        case 0 -> m.trainWindow(x, y, steps, batch, st);
                        case 1 -> m.evalWindow(x, y, steps, batch, st);
                        default -> keep(m.logits(x, steps, batch, st));
                    } },
            () -> module(LanguageModel.class).initialize(rng.nextLong(), -3f),
            // io and conformance
            () -> io(() -> SafeTensors.read(null)),
            () -> io(() -> { Map<String, HostTensor> m = new HashMap<>(); m.put(rng.nextBoolean() ? null : "a", rng.nextBoolean() ? null : HostTensor.zeros(2));
                             SafeTensors.write(rng.nextBoolean() ? null : tmp.resolve("w.safetensors"), rng.nextInt(5) == 0 ? null : m); }),
            () -> io(() -> StateDicts.save(module(Module.class), tmp.resolve("s.safetensors"))),
            () -> io(() -> StateDicts.load(module(Module.class), tmp.resolve("s.safetensors"))),
            () -> { CaseResultHolder.run(rng.nextInt(4) == 0 ? null : conformanceCase(), device()); });

    /** Token ids for a (steps x batch) window, mostly in [0, vocab), sometimes not, sometimes null or of the wrong length. */
    private int[] ids(int steps, int batch, int vocab) {
        if (rng.nextInt(15) == 0) return null;
        int[] a = new int[Math.max(0, Math.max(0, steps) * Math.max(0, batch) + (rng.nextInt(8) == 0 ? 1 : 0))];
        for (int i = 0; i < a.length; i++) a[i] = rng.nextInt(20) == 0 ? size() : rng.nextInt(Math.max(1, vocab));
        return a;
    }

    /** A parameter of a random module (never null; it may belong to a closed module). */
    private Parameter parameter() {
        while (true) {
            List<Parameter> ps = new ArrayList<>(module(Module.class).namedParameters().values());
            if (!ps.isEmpty()) return ps.get(rng.nextInt(ps.size()));
        }
    }

    private Map<String, HostTensor> randomState(Module m) {
        if (rng.nextInt(10) == 0) return null;
        Map<String, HostTensor> s = new HashMap<>();
        if (!m.isClosed()) {
            for (var e : m.stateDict().entrySet()) {
                int r = rng.nextInt(12);
                if (r == 0) continue;                                       // missing
                if (r == 1) s.put(e.getKey(), HostTensor.zeros(rng.nextInt(1, 4)));   // mis-shaped
                else s.put(e.getKey(), e.getValue());
            }
        }
        if (rng.nextInt(8) == 0) s.put("unexpected", HostTensor.zeros(1));
        return s;
    }

    private static ConformanceCase conformance;

    private static ConformanceCase conformanceCase() {
        if (conformance == null) {
            try {
                conformance = ConformanceCase.load(Path.of(System.getProperty("rnn4j.conformance.dir", "tests/conformance"), "lstm_basic.safetensors"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return conformance;
    }

    /** ConformanceRunner.run returns a result (problems included) rather than throwing for a failing layer. */
    private static final class CaseResultHolder {
        static void run(ConformanceCase c, Device d) { ConformanceRunner.run(c, d); }
    }

    interface IoCall { void run() throws IOException; }

    /** I/O calls may also throw IOException (their signature's checked exception), never anything else. */
    private static void io(IoCall call) {
        try {
            call.run();
        } catch (IOException e) {
            // documented for I/O: a file system problem or a SafeTensorsFormatException
        }
    }

    private static void close(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new AssertionError("close threw", e);
        }
    }

    @ParameterizedTest
    @MethodSource("dev.rnn4j.Device#names")   // every backend of the provider registry
    void everyCallReturnsOrThrowsADocumentedException(String backend) throws Exception {
        rng = new SplittableRandom(SEED ^ backend.hashCode());
        dev = Outcomes.open(backend);
        other = Device.reference();
        closedDev = Outcomes.open(backend);
        try {
            float[] before = Outcomes.lstmOutput(dev);
            long base = dev.backend().liveBuffers(), otherBase = other.backend().liveBuffers();
            modules.add(LSTM.builder(1, 2).numLayers(2).build(dev));
            modules.add(GRU.builder(2, 2).build(dev));
            modules.add(RNN.builder(1, 3).build(dev));
            modules.add(SRU.builder(1, 2).build(dev));
            modules.add(SRUCell.builder(1, 2).build(dev));
            modules.add(LSTMCell.builder(2, 2).build(dev));
            modules.add(GRUCell.builder(1, 2).build(dev));
            modules.add(RNNCell.builder(2, 2).build(dev));
            modules.add(new Linear(dev, 2, 3, true));
            modules.add(new Embedding(dev, 5, 2));
            modules.add(new Dropout(dev, 0.5));
            modules.add(new LanguageModel(dev, 6, 3, 1, false, 0.2, 0.1));
            modules.add(new LanguageModel(dev, 5, 2, 2, true, 0.0, 0.3));
            results.addAll(modules);
            for (int[] s : new int[][] {{3, 2, 1}, {2, 2}, {2, 1}, {1}, {3, 1, 2}, {2, 3}, {0}, {4, 2, 3}})
                tensors.add(dev.zeros(s));
            Tensor closedT = dev.zeros(2, 2);
            closedT.close();
            tensors.add(closedT);
            tensors.add(other.zeros(2, 2));
            tensors.add(other.zeros(3, 2, 1));
            tensors.add(closedDev.zeros(3, 2, 1));
            closedDev.close();
            Files.createDirectories(tmp);

            Outcomes out = new Outcomes();
            for (int i = 0; i < CALLS; i++) {
                int which = rng.nextInt(calls.size());
                out.run(backend + " call " + i + " (#" + which + ")", calls.get(which));
            }
            System.out.println("API storm on " + backend + ": " + out);
            assertTrue(out.count("returned") > CALLS / 10, out.toString());

            for (int i = results.size() - 1; i >= 0; i--) close(results.get(i));
            for (Tensor t : tensors) if (t != null) t.close();
            assertEquals(base, dev.backend().liveBuffers(), "buffers left open on " + backend);
            assertEquals(otherBase, other.backend().liveBuffers(), "buffers left open on the other device");
            assertArrayEquals(before, Outcomes.lstmOutput(dev), "the device computes as before the storm");
            if (!backend.equals("reference")) {
                float[] ref = Outcomes.lstmOutput(other);
                for (int i = 0; i < ref.length; i++) assertEquals(ref[i], before[i], 1e-5, "element " + i + " vs the reference");
            }
        } finally {
            dev.close();
            other.close();
            closedDev.close();
        }
    }
}
