package dev.rnn4j.examples;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.*;
import dev.rnn4j.nn.Module;   // wins over java.lang.Module, which the wildcard would clash with
import dev.rnn4j.train.Adam;
import dev.rnn4j.train.Gradients;
import dev.rnn4j.train.LossValue;
import dev.rnn4j.train.Losses;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Trains a GRU and a linear read-out with Adam and mean squared error on a small sequence task
 * (y_t = tanh(x_t[0] - x_{t-1}[1]): the network must remember the previous step) on every
 * backend that can run here. Exits with status 1 unless the loss falls below {@link #THRESHOLD}
 * within {@link #MAX_STEPS} steps on each of them.
 */
public final class TrainGru {
    static final int T = 12, B = 8, I = 2, H = 16, MAX_STEPS = 400;
    static final double THRESHOLD = 0.002;

    public static void main(String[] args) {
        SplittableRandom rng = new SplittableRandom(7);
        float[] x = new float[T * B * I], y = new float[T * B];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rng.nextDouble() * 2 - 1);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++)
                y[t * B + b] = (float) Math.tanh(x[(t * B + b) * I] - (t > 0 ? x[((t - 1) * B + b) * I + 1] : 0));

        List<String> failed = new ArrayList<>();
        for (Device.BackendInfo info : Device.backends()) {
            if (!info.available()) {
                System.out.println(info.name() + ": skipped (" + info.detail() + ")");
                continue;
            }
            try (Device device = Device.open(info.name())) {
                double loss = train(device, x, y);
                boolean ok = loss < THRESHOLD;
                System.out.printf("%s: final loss %.5f %s threshold %s%n", info.name(), loss, ok ? "<" : ">=", THRESHOLD);
                if (!ok) failed.add(info.name());
            }
        }
        if (!failed.isEmpty()) {
            System.out.println("loss did not fall below " + THRESHOLD + " on " + failed);
            System.exit(1);
        }
    }

    /** Trains a fresh seeded model on {@code device}; returns the loss once it is below the threshold, or the last loss. */
    static double train(Device device, float[] xs, float[] ys) {
        try (GRU gru = GRU.builder(I, H).seed(1).build(device);
             Linear head = new Linear(device, H, 1, true, 2);
             ModuleList model = new ModuleList(device, gru, head);   // one model: "0.weight_ih_l0", ..., "1.bias"
             Tensor x = device.tensor(xs, T, B, I);
             Tensor y = device.tensor(ys, T, B, 1)) {
            Collection<Parameter> params = model.namedParameters().values();
            double loss = Double.NaN;
            try (Adam adam = Adam.builder(params).lr(0.02).build()) {
                for (int step = 0; step < MAX_STEPS; step++) {
                    model.zeroGrad();
                    try (RecurrentOutput out = gru.forward(x);
                         Tensor features = out.output().view(T * B, H);
                         Tensor pred = head.forward(features);
                         Tensor pred3 = pred.view(T, B, 1);
                         LossValue l = Losses.mse(pred3, y);
                         Tensor dFeatures = head.backward(features, l.grad().view(T * B, 1));
                         RecurrentGrads g = gru.backward(out, dFeatures.view(T, B, H), null)) {
                        loss = l.value();
                    }
                    if (step == 0) System.out.printf("%s: initial loss %.5f%n", device.name(), loss);
                    if (loss < THRESHOLD) {
                        System.out.printf("%s: loss %.5f after %d steps%n", device.name(), loss, step + 1);
                        return loss;
                    }
                    Gradients.clipGradNorm(model.namedParameters(), 1.0, true);   // throws on a NaN gradient, naming it
                    adam.step();
                }
            }
            return loss;
        }
    }
}
