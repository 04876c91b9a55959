package dev.rnn4j.bench;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.GRU;
import dev.rnn4j.nn.LSTM;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RecurrentGrads;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;

/**
 * What the one-layer benchmarks ({@link LayerBench}, {@link VarLenBench}) share: the layer a model
 * name stands for, its plain forward and backward calls, and reading one value back so that
 * queued device work is inside the measured time.
 */
final class Layers {
    private Layers() {}

    /** One layer, input = hidden = d, one direction: SRU (v1), SRU2 (the sru 2.x layer with sru's defaults), LSTM, GRU. */
    static Module build(String model, int d, Device device) {
        return switch (model) {
            case "SRU" -> SRU.builder(d, d).numLayers(1).build(device);
            case "SRU2" -> SRU.builder(d, d).v1(false).numLayers(1).build(device);
            case "LSTM" -> LSTM.builder(d, d).seed(1).build(device);
            case "GRU" -> GRU.builder(d, d).seed(1).build(device);
            default -> throw new IllegalArgumentException("model " + model);
        };
    }

    /** Forward over every step of x, from zero states. */
    static RecurrentOutput forward(Module layer, Tensor x) {
        return switch (layer) {
            case SRU sru -> sru.forward(x, null);
            case LSTM lstm -> lstm.forward(x);
            case GRU gru -> gru.forward(x);
            default -> throw new IllegalStateException();
        };
    }

    /** Backward of a forward's output with upstream gradient gradOut (none for the final states). */
    static RecurrentGrads backward(Module layer, RecurrentOutput out, Tensor gradOut) {
        return switch (layer) {
            case SRU sru -> sru.backward(out, gradOut, null);
            case LSTM lstm -> lstm.backward(out, gradOut, null, null);
            case GRU gru -> gru.backward(out, gradOut, null);
            default -> throw new IllegalStateException();
        };
    }

    /** Reads t's last value back (waiting for the work that writes it) into one[0]. */
    static float sync(Device device, Tensor t, float[] one) {
        DeviceAccess.backend(device).download(DeviceAccess.buffer(t), t.numel() - 1, one, 0, 1);
        return one[0];
    }

    /** Closes each in order (a benchmark's tensors, then its layer, then its device). */
    static void close(AutoCloseable... all) {
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + c, e);
            }
        }
    }
}
