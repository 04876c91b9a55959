package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;

/**
 * Elementwise dropout like PyTorch's {@code nn.Dropout}: in training mode each element is
 * zeroed with probability p and the rest scaled by 1/(1-p), a fresh mask per call drawn from
 * the counter-based generator (same seed, same mask on every backend); in eval mode the
 * output equals the input.
 */
public final class Dropout extends Module {
    private final float p;

    public Dropout(Device device, double p) {
        super(device);
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        this.p = (float) p;
    }

    public float p() { return p; }

    /** Output and the mask used (null when nothing was dropped); closing it frees both. */
    public record Output(Tensor output, Tensor mask) implements AutoCloseable {
        @Override
        public void close() { Closeables.closeAll(output, mask); }
    }

    public Output forward(Tensor x) {
        checkOpen();
        if (x == null) throw new NullPointerException("input is null");
        if (x.device() != device) throw new IllegalArgumentException("input is on " + x.device().name() + ", layer on " + device.name());
        if (!isTraining() || p == 0f) return new Output(x.copy(), null);
        Tensor mask = Tensor.zeros(device, x.shape());
        Tensor out = Tensor.zeros(device, x.shape());
        var be = device.backend();
        be.dropoutMask(x.numel(), p, nextDropoutSeed(), mask.buffer(), 0);
        be.mul(x.numel(), x.buffer(), 0, mask.buffer(), 0, out.buffer(), 0);
        return new Output(out, mask);
    }

    /** dx = dy * mask (or dy when nothing was dropped). */
    public Tensor backward(Output out, Tensor gradOutput) {
        checkOpen();
        Shapes.check("gradOutput", gradOutput, out.output().shape());
        if (out.mask() == null) return gradOutput.copy();
        Tensor dx = Tensor.zeros(device, gradOutput.shape());
        device.backend().mul(dx.numel(), gradOutput.buffer(), 0, out.mask().buffer(), 0, dx.buffer(), 0);
        return dx;
    }

    @Override
    public String toString() { return "Dropout(p=" + p + ")"; }
}
