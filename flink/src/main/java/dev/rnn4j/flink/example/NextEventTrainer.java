// Trains the example's small GRU to predict a user's next event type, with rnn4j's public API:
// forward, explicit backward, plain SGD on the parameters.
package dev.rnn4j.flink.example;

import dev.rnn4j.Tensor;
import dev.rnn4j.flink.StreamingModel;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;

import java.util.SplittableRandom;

/** Embedding -> GRU -> Linear over event types, trained with softmax cross-entropy of the next type. */
public final class NextEventTrainer {
    private NextEventTrainer() {}

    /** Trains {@code model} (a GRU with an embedding and an output of vocabSize) for {@code iterations} batches; returns the last mean loss. */
    public static double train(StreamingModel model, UserEvents data, int iterations, int batch, int steps, float lr, long seed) {
        var dev = model.device();
        int v = model.spec().vocabSize();
        GRU gru = (GRU) model.rnn();
        SplittableRandom r = new SplittableRandom(seed);
        double loss = Double.NaN;
        model.train(true);
        for (int it = 0; it < iterations; it++) {
            // (steps + 1) consecutive events of `batch` random users: inputs 0..steps-1, targets 1..steps.
            int[] in = new int[steps * batch], target = new int[steps * batch];
            for (int b = 0; b < batch; b++) {
                int[] seq = data.types[r.nextInt(data.types.length)];
                int start = r.nextInt(seq.length - steps);
                for (int t = 0; t < steps; t++) {
                    in[t * batch + b] = seq[start + t];
                    target[t * batch + b] = seq[start + t + 1];
                }
            }
            model.zeroGrad();
            try (Tensor x = model.embedding().forward(in, steps, batch);
                 RecurrentOutput out = gru.forward(x);
                 Tensor logits = model.output().forward(out.output())) {
                float[] z = logits.toArray();
                float[] grad = new float[z.length];
                double total = 0;
                int n = steps * batch;
                for (int i = 0; i < n; i++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < v; j++) max = Math.max(max, z[i * v + j]);
                    for (int j = 0; j < v; j++) sum += Math.exp(z[i * v + j] - max);
                    total += -(z[i * v + target[i]] - max - Math.log(sum));
                    for (int j = 0; j < v; j++)
                        grad[i * v + j] = (float) ((Math.exp(z[i * v + j] - max) / sum - (j == target[i] ? 1 : 0)) / n);
                }
                loss = total / n;
                try (Tensor g = dev.tensor(grad, steps, batch, v);
                     Tensor dOut = model.output().backward(out.output(), g);
                     RecurrentGrads grads = gru.backward(out, dOut, null)) {
                    model.embedding().backward(in, grads.input());
                }
            }
            for (Parameter p : model.namedParameters().values()) {
                float[] w = p.value().toArray(), dw = p.grad().toArray();
                for (int i = 0; i < w.length; i++) w[i] -= lr * dw[i];
                p.set(w);
            }
        }
        model.eval();
        return loss;
    }
}
