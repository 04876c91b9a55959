package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.nn.Embedding;
import dev.rnn4j.nn.Linear;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;
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

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One training step of the SRU language model of the SRU paper's language-modelling setup:
 * embedding (V = 10000, d = 910), a 6-layer SRU, the output layer tied to the embedding,
 * log-softmax + NLL, then backward through all of it and a plain SGD update of every parameter.
 * T = 35, B = 32; composed from dev.rnn4j.nn modules. No dropout (the masks cost little and
 * would only add noise).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class LmBench {
    public static final int VOCAB = 10_000, DIM = 910, LAYERS = 6, SEQ = 35, BATCH = 32;

    @Param({"cpu"})
    public String backend;

    private Device device;
    private Embedding embedding;
    private SRU sru;
    private Linear output;
    private int[] ids, targets;
    private List<Parameter> params;

    @Setup(Level.Trial)
    public void setUp() {
        device = Device.open(backend);
        embedding = new Embedding(device, VOCAB, DIM);
        embedding.resetParameters(1);
        sru = SRU.builder(DIM, DIM).numLayers(LAYERS).build(device);
        output = new Linear(embedding.weight(), true);
        SplittableRandom rnd = new SplittableRandom(5);
        ids = new int[SEQ * BATCH];
        targets = new int[SEQ * BATCH];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rnd.nextInt(VOCAB);
            targets[i] = rnd.nextInt(VOCAB);
        }
        params = new ArrayList<>();
        params.addAll(embedding.namedParameters().values());
        params.addAll(sru.namedParameters().values());
        if (output.bias() != null) params.add(output.bias());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        output.close();
        sru.close();
        embedding.close();
        device.close();
    }

    @Benchmark
    public double trainStep() {
        Backend be = device.backend();
        double loss;
        try (Tensor emb = embedding.forward(ids, SEQ, BATCH);
             RecurrentOutput h = sru.forward(emb, null);
             Tensor flat = reshapeRows(h.output());
             Tensor logits = output.forward(flat)) {
            loss = be.logSoftmaxNll(SEQ * BATCH, VOCAB, logits.buffer(), 0, targets, 0, 1f / (SEQ * BATCH),
                    logits.buffer(), 0) / (SEQ * BATCH);
            try (Tensor dFlat = output.backward(flat, logits);
                 Tensor dH = reshapeSeq(dFlat);
                 RecurrentGrads g = sru.backward(h, dH, null)) {
                embedding.backward(ids, g.input());
            }
        }
        for (Parameter p : params) {
            be.axpy(p.numel(), -0.1f, p.grad().buffer(), 0, p.value().buffer(), 0);
            p.zeroGrad();
        }
        return loss;
    }

    /** (T, B, d) as (T*B, d): a copy, since tensors have a fixed shape. */
    private Tensor reshapeRows(Tensor t) {
        Tensor r = device.zeros(SEQ * BATCH, DIM);
        device.backend().copy(t.buffer(), 0, r.buffer(), 0, t.numel());
        return r;
    }

    private Tensor reshapeSeq(Tensor t) {
        Tensor r = device.zeros(SEQ, BATCH, DIM);
        device.backend().copy(t.buffer(), 0, r.buffer(), 0, t.numel());
        return r;
    }
}
