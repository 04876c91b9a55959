package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;

/**
 * Elementwise dropout like PyTorch's {@code nn.Dropout}: in training mode each element is
 * zeroed with probability p and the rest scaled by 1/(1-p), a fresh mask per call drawn from
 * the counter-based generator (same seed, same mask on every backend); in eval mode the
 * output equals the input.
 */
public final class Dropout extends Module {
    private final float p;

    /** Dropout with probability {@code p} in [0, 1]; IllegalArgumentException otherwise. */
    public Dropout(Device device, double p) {
        super(device);
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        this.p = (float) p;
    }

    /** The probability of dropping an element. */
    public float p() { return p; }

    /**
     * Output and the mask used; closing it frees both.
     *
     * @param output the result, shaped like the input
     * @param mask   the multipliers applied (0 or 1/(1-p)), or null when nothing was dropped
     */
    public record Output(Tensor output, Tensor mask) implements AutoCloseable {
        @Override
        public void close() { Closeables.closeAll(output, mask); }
    }

    /** In training mode, zeroes each element with probability p and scales the others by 1/(1-p) (a fresh mask per call); in evaluation mode (or p = 0) returns a copy. The output has x's shape; the caller closes it. */
    public Output forward(Tensor x) {
        return forwardUse(() -> forwardInUse(x));   // training mode draws a seed: one thread at a time
    }

    private Output forwardInUse(Tensor x) {
        Args.tensor("input", x, device);
        if (!isTraining() || p == 0f) return new Output(x.copy(), null);
        Tensor mask = null, out = null;
        try {
            mask = Tensor.zeros(device, x.shape());
            out = Tensor.zeros(device, x.shape());
            var be = DeviceAccess.backend(device);
            be.dropoutMask(x.numel(), p, nextDropoutSeed(), DeviceAccess.buffer(mask), 0);
            be.mul(x.numel(), DeviceAccess.buffer(x), 0, DeviceAccess.buffer(mask), 0, DeviceAccess.buffer(out), 0);
            return new Output(out, mask);
        } catch (RuntimeException | Error e) {
            Closeables.closeAll(mask, out);
            throw e;
        }
    }

    /** dx = dy * mask (or dy when nothing was dropped). */
    public Tensor backward(Output out, Tensor gradOutput) {
        checkOpen();
        if (out == null) throw new NullPointerException("out is null");
        if (out.output() == null) throw new NullPointerException("out.output is null");
        Args.tensor("gradOutput", gradOutput, device, out.output().shape(), "(the shape of the forward output)");
        if (out.mask() == null) return gradOutput.copy();
        Args.tensor("out.mask", out.mask(), device, out.output().shape(), "(the shape of the forward output)");
        Tensor dx = Tensor.zeros(device, gradOutput.shape());
        try {
            DeviceAccess.backend(device).mul(dx.numel(), DeviceAccess.buffer(gradOutput), 0, DeviceAccess.buffer(out.mask()), 0, DeviceAccess.buffer(dx), 0);
        } catch (RuntimeException | Error e) {
            dx.close();
            throw e;
        }
        return dx;
    }

    @Override
    public String toString() { return "Dropout(p=" + p + ")"; }
}
