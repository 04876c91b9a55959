package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.backend.DeviceBuffer;
import dev.rnn4j.backend.Op;

/**
 * Layer normalisation over the last dimension with a learned scale and shift, PyTorch's
 * {@code nn.LayerNorm(n)} (eps 1e-5, biased variance): parameters {@code weight} (n, init 1) and
 * {@code bias} (n, init 0). Used by the sru 2.x layer ({@link SRUCell} with {@code layerNorm}),
 * whose state dict names it {@code layer_norm}. It works on rows of a device buffer through the
 * {@link Op.LayerNormForward} / {@link Op.LayerNormBackward} ops; the caller owns the buffers.
 */
public final class LayerNorm extends Module {
    /** PyTorch's default eps. */
    public static final float EPS = 1e-5f;

    private final int size;
    private final Parameter weight, bias;

    LayerNorm(Device device, int size) {
        super(device);
        if (size < 1) throw new IllegalArgumentException("layer norm size must be >= 1, got " + size);
        this.size = size;
        try {
            weight = registerParameter("weight", size);
            bias = registerParameter("bias", size);
            resetParameters();
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The normalised width: the size of the last dimension (and of weight and bias). */
    public int size() { return size; }

    /** The scale, {@code weight} in the state dict, shape (size). */
    public Parameter weight() { return weight; }

    /** The shift, {@code bias} in the state dict, shape (size). */
    public Parameter bias() { return bias; }

    /** weight = 1, bias = 0 (PyTorch's reset_parameters). */
    public void resetParameters() {
        checkOpen();
        weight.value().fill(1f);
        bias.value().fill(0f);
    }

    /** y = LN(x) for rows rows of width size; stats (rows x 2) is kept for {@link #backward}. y may be x. */
    void forward(int rows, DeviceBuffer x, long xOff, DeviceBuffer y, long yOff, DeviceBuffer stats) {
        DeviceAccess.backend(device).run(new Op.LayerNormForward(rows, size, EPS, x, xOff, DeviceAccess.buffer(weight.value()), 0,
                DeviceAccess.buffer(bias.value()), 0, y, yOff, stats, 0));
    }

    /**
     * dx from dy (dx may be dy) for the forward that read x and wrote stats; adds d weight and
     * d bias to the parameters' gradients (through scratch, as the op overwrites its outputs).
     */
    void backward(int rows, DeviceBuffer x, long xOff, DeviceBuffer stats, DeviceBuffer dy, long dyOff, DeviceBuffer dx, long dxOff) {
        var be = DeviceAccess.backend(device);
        try (var scratch = dev.rnn4j.Tensor.zeros(device, 2, size)) {
            be.run(new Op.LayerNormBackward(rows, size, x, xOff, DeviceAccess.buffer(weight.value()), 0, stats, 0, dy, dyOff, dx, dxOff,
                    DeviceAccess.buffer(scratch), 0, DeviceAccess.buffer(scratch), size));
            be.axpy(size, 1f, DeviceAccess.buffer(scratch), 0, DeviceAccess.buffer(weight.grad()), 0);
            be.axpy(size, 1f, DeviceAccess.buffer(scratch), size, DeviceAccess.buffer(bias.grad()), 0);
        }
    }

    @Override
    public String toString() { return "LayerNorm((" + size + ",), eps=1e-05)"; }
}
