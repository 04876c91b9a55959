package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.lm.LanguageModel;
import dev.rnn4j.lm.Sgd;
import dev.rnn4j.nn.Parameter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.Collection;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One training step of rnn4j's language model ({@link LanguageModel}, dev.rnn4j.lm) at the SRU
 * paper's Penn Treebank size: 6-layer SRU, d = 910, output layer tied to the embedding, a
 * 10000-word vocabulary, T = 35, B = 32, dropout 0.7 and recurrent dropout 0.2; the step is what
 * {@code lm train} does per window (dev.rnn4j.lm.Trainer): zero the gradients, forward + loss +
 * backward, clip the global gradient norm to 5, SGD with weight decay. Random token ids.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class LmBench {
    public static final int VOCAB = 10_000, DIM = 910, LAYERS = 6, SEQ = 35, BATCH = 32;

    @Param({"cpu"})
    public String backend;

    private Device device;
    private LanguageModel model;
    private LanguageModel.State state;
    private Collection<Parameter> params;
    private int[] x, y;
    private int window;

    @Setup(Level.Trial)
    public void setUp() {
        device = Device.open(backend);
        model = new LanguageModel(device, VOCAB, DIM, LAYERS, false, 0.7, 0.2);
        model.initialize(1, -3f);
        model.train(true);
        state = model.newState(BATCH);
        params = model.namedParameters().values();
        SplittableRandom rnd = new SplittableRandom(5);
        x = new int[SEQ * BATCH];
        y = new int[SEQ * BATCH];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextInt(VOCAB);
            y[i] = rnd.nextInt(VOCAB);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        state.close();
        model.close();
        device.close();
    }

    @Benchmark
    public double trainStep() {
        model.setDropoutSeed(window++);
        model.zeroGrad();
        double nll = model.trainWindow(x, y, SEQ, BATCH, state);
        Sgd.clipGradNorm(params, 5.0);
        Sgd.step(params, 1.0, 1e-5);
        return nll;
    }
}
