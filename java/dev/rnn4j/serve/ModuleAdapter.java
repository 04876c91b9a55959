package dev.rnn4j.serve;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.nn.Module;
import dev.rnn4j.nn.RNNBase;
import dev.rnn4j.nn.RecurrentOutput;
import dev.rnn4j.nn.SRU;

import java.util.List;

/** The library's modules behind {@link ServedModel}: upload the batch, one forward call, download, free. */
abstract class ModuleAdapter implements ServedModel {
    final Module module;

    ModuleAdapter(Module module) { this.module = module; }

    /** A module that does not take lengths ({@link #takesLengths()} false) gets equal lengths only. */
    static void requireEqualLengths(int[] lengths, int steps) {
        if (lengths == null) return;
        for (int l : lengths)
            if (l != steps) throw new UnsupportedOperationException("this build runs batches of equal lengths only");
    }

    abstract RecurrentOutput run(Tensor x, Tensor[] initial, int[] lengths);

    abstract Tensor[] finals(RecurrentOutput out);

    /** Converts the module's output layout to time-major (T, B, out) if needed. */
    float[] outputTimeMajor(float[] out, int steps, int batch) { return out; }

    /** Converts time-major input to the module's layout if needed. */
    float[] inputLayout(float[] in, int steps, int batch) { return in; }

    abstract int[] inputShape(int steps, int batch);

    @Override
    public BatchOutput forward(float[] input, int steps, int batch, int[] lengths, List<float[]> initial) {
        if (!takesLengths()) requireEqualLengths(lengths, steps);
        if (module.isTraining())
            throw new IllegalStateException(module + " is in training mode; serve a model in eval mode (model.eval())");
        Device dev = module.device();
        List<StateSpec> specs = states();
        Tensor x = null;
        Tensor[] init = new Tensor[specs.size()];
        try {
            x = dev.tensor(inputLayout(input, steps, batch), inputShape(steps, batch));
            for (int i = 0; i < init.length; i++) {
                float[] s = initial == null ? null : initial.get(i);
                if (s != null) init[i] = dev.tensor(s, specs.get(i).rows(), batch, specs.get(i).width());
            }
            try (RecurrentOutput out = run(x, init, lengths)) {
                float[] y = outputTimeMajor(out.output().toArray(), steps, batch);
                Tensor[] f = finals(out);
                float[][] fin = new float[f.length][];
                for (int i = 0; i < f.length; i++) fin[i] = f[i].toArray();
                return new BatchOutput(y, List.of(fin));
            }
        } finally {
            if (x != null) x.close();
            for (Tensor t : init) if (t != null) t.close();
        }
    }

    @Override
    public String toString() { return module.toString(); }

    static final class Recurrent extends ModuleAdapter {
        private final RNNBase m;
        private final List<StateSpec> specs;

        Recurrent(RNNBase m) {
            super(m);
            this.m = m;
            int rows = m.numLayers() * m.numDirections();
            StateSpec h = new StateSpec("h", rows, m.outputHiddenSize());
            specs = m.hasCellState() ? List.of(h, new StateSpec("c", rows, m.hiddenSize())) : List.of(h);
        }

        @Override public int inputSize() { return m.inputSize(); }

        @Override public int outputSize() { return m.numDirections() * m.outputHiddenSize(); }

        @Override public List<StateSpec> states() { return specs; }

        @Override
        int[] inputShape(int steps, int batch) {
            return m.batchFirst() ? new int[]{batch, steps, m.inputSize()} : new int[]{steps, batch, m.inputSize()};
        }

        @Override
        float[] inputLayout(float[] in, int steps, int batch) {
            return m.batchFirst() ? swap(in, steps, batch, m.inputSize()) : in;
        }

        @Override
        float[] outputTimeMajor(float[] out, int steps, int batch) {
            return m.batchFirst() ? swap(out, batch, steps, outputSize()) : out;
        }

        /** The RNNBase modules take per-sequence lengths: a round of mixed lengths is one call. */
        @Override public boolean takesLengths() { return true; }

        @Override
        RecurrentOutput run(Tensor x, Tensor[] init, int[] lengths) {
            return m.forwardStates(x, init[0], m.hasCellState() ? init[1] : null, lengths);
        }

        @Override
        Tensor[] finals(RecurrentOutput out) {
            return m.hasCellState() ? new Tensor[]{out.hN(), out.cN()} : new Tensor[]{out.hN()};
        }

        /** (a, b, w) -> (b, a, w). */
        private static float[] swap(float[] src, int a, int b, int w) {
            float[] dst = new float[src.length];
            for (int i = 0; i < a; i++)
                for (int j = 0; j < b; j++)
                    System.arraycopy(src, (i * b + j) * w, dst, (j * a + i) * w, w);
            return dst;
        }
    }

    static final class Sru extends ModuleAdapter {
        private final SRU m;
        private final List<StateSpec> specs;

        Sru(SRU m) {
            super(m);
            this.m = m;
            specs = List.of(new StateSpec("c", m.numLayers(), m.outputSize()));
        }

        @Override public int inputSize() { return m.inputSize(); }

        @Override public int outputSize() { return m.outputSize(); }

        @Override public List<StateSpec> states() { return specs; }

        @Override int[] inputShape(int steps, int batch) { return new int[]{steps, batch, m.inputSize()}; }

        /** sru's mask_pad: each sequence of a padded batch gives what it gives alone. */
        @Override public boolean takesLengths() { return true; }

        @Override RecurrentOutput run(Tensor x, Tensor[] init, int[] lengths) { return m.forward(x, init[0], lengths); }

        @Override Tensor[] finals(RecurrentOutput out) { return new Tensor[]{out.cN()}; }
    }
}
