package dev.rnn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
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

import java.nio.FloatBuffer;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The peer: ONNX Runtime's LSTM and GRU operators on the CPU (forward only, 2 intra-op
 * threads), on a one-node model written by {@link OnnxModels} with PyTorch's initialisation
 * (U(-1/sqrt(H), 1/sqrt(H))).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class OrtBench {
    @Param({"LSTM", "GRU"})
    public String model;

    @Param({"35x32x910"})
    public String shape;

    private OrtEnvironment env;
    private OrtSession session;
    private OnnxTensor x;

    @Setup(Level.Trial)
    public void setUp() throws OrtException {
        Shape s = Shape.parse(shape);
        env = OrtEnvironment.getEnvironment();
        session = session(env, model.equals("LSTM"), s, new SplittableRandom(11));
        float[] in = Shape.uniform(new SplittableRandom(7), Math.toIntExact(s.tokens() * s.width()), 1);
        x = OnnxTensor.createTensor(env, FloatBuffer.wrap(in), new long[]{s.seqLen(), s.batch(), s.width()});
    }

    /** A session on a fresh random one-node model, 2 intra-op threads. */
    static OrtSession session(OrtEnvironment env, boolean lstm, Shape s, SplittableRandom rnd) throws OrtException {
        int d = s.width(), g = lstm ? 4 : 3;
        double bound = 1 / Math.sqrt(d);
        byte[] onnx = OnnxModels.recurrent(lstm, s.seqLen(), s.batch(), d, d,
                Shape.uniform(rnd, g * d * d, bound), Shape.uniform(rnd, g * d * d, bound),
                Shape.uniform(rnd, g * d, bound), Shape.uniform(rnd, g * d, bound));
        return session(env, onnx);
    }

    static OrtSession session(OrtEnvironment env, byte[] onnx) throws OrtException {
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(Integer.getInteger("rnn4j.bench.ort.threads", 2));
            o.setInterOpNumThreads(1);
            return env.createSession(onnx, o);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws OrtException {
        x.close();
        session.close();
    }

    @Benchmark
    public Object forward() throws OrtException {
        try (OrtSession.Result r = session.run(Map.of("X", x))) {
            return r.get(0).getInfo();
        }
    }
}
