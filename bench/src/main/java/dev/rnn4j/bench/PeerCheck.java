package dev.rnn4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.rnn4j.Device;
import dev.rnn4j.HostTensor;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.RecurrentOutput;

import java.nio.FloatBuffer;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Before timing a peer, checks that it computes the same function: an rnn4j LSTM and GRU (on the
 * reference backend) and ONNX Runtime's node built from the same state dict, on one small input.
 */
final class PeerCheck {
    private PeerCheck() {}

    static String run() throws Exception {
        StringBuilder sb = new StringBuilder("peer check (rnn4j reference vs ONNX Runtime, same weights, T=5 B=3 d=16):");
        for (boolean lstm : new boolean[]{true, false}) {
            double err = maxError(lstm, new Shape(5, 3, 16));
            sb.append(String.format(Locale.ROOT, " %s max |diff| %.2g%s;", lstm ? "LSTM" : "GRU", err,
                    err < 1e-4 ? " ok" : " MISMATCH"));
            if (!(err < 1e-4)) throw new IllegalStateException(sb.toString());
        }
        return sb.toString();
    }

    private static double maxError(boolean lstm, Shape s) throws Exception {
        int d = s.width();
        float[] in = Shape.uniform(new SplittableRandom(9), Math.toIntExact(s.tokens() * d), 1);
        float[] mine;
        Map<String, HostTensor> w;
        try (Device dev = Device.reference();
             RNNBase layer = lstm ? LSTM.builder(d, d).seed(3).build(dev) : GRU.builder(d, d).seed(3).build(dev);
             Tensor x = dev.tensor(in, s.seqLen(), s.batch(), d);
             RecurrentOutput out = layer instanceof LSTM l ? l.forward(x) : ((GRU) layer).forward(x)) {
            mine = out.output().toArray();
            w = layer.stateDict();
        }
        byte[] onnx = OnnxModels.recurrent(lstm, s.seqLen(), s.batch(), d, d, w.get("weight_ih_l0").data(),
                w.get("weight_hh_l0").data(), w.get("bias_ih_l0").data(), w.get("bias_hh_l0").data());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = OrtBench.session(env, onnx);
             OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(in), new long[]{s.seqLen(), s.batch(), d});
             OrtSession.Result r = session.run(Map.of("X", x))) {
            FloatBuffer y = ((OnnxTensor) r.get(0)).getFloatBuffer();   // (T, 1, B, H) = (T, B, H) here
            double err = 0;
            for (int i = 0; i < mine.length; i++) err = Math.max(err, Math.abs(mine[i] - y.get(i)));
            return err;
        }
    }
}
