package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A lookup table of {@code numEmbeddings} vectors of size {@code dim}, like PyTorch's
 * {@code nn.Embedding}: parameter {@code weight} (numEmbeddings, dim), initialised N(0, 1).
 */
public final class Embedding extends Module {
    private final int numEmbeddings, dim;
    private final Parameter weight;

    /** An embedding table (numEmbeddings, dim), initialised N(0, 1) like PyTorch; IllegalArgumentException if a size is not positive. */
    public Embedding(Device device, int numEmbeddings, int dim) {
        super(device);
        if (numEmbeddings <= 0 || dim <= 0)
            throw new IllegalArgumentException("numEmbeddings and dim must be positive, got " + numEmbeddings + ", " + dim);
        this.numEmbeddings = numEmbeddings;
        this.dim = dim;
        try {
            this.weight = registerParameter("weight", numEmbeddings, dim);
            resetParameters(new SplittableRandom().nextLong());
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The number of rows (the vocabulary size). */
    public int numEmbeddings() { return numEmbeddings; }

    /** The width of each row. */
    public int dim() { return dim; }

    /** The table, (numEmbeddings, dim), PyTorch's {@code weight}. */
    public Parameter weight() { return weight; }

    /** PyTorch's default: every weight ~ N(0, 1). */
    public void resetParameters(long seed) {
        checkOpen();
        SplittableRandom r = new SplittableRandom(seed);
        Init.fill(weight, () -> gaussian(r));
    }

    static double gaussian(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Looks up {@code ids} (row-major, of the given shape); returns (shape..., dim). */
    public Tensor forward(int[] ids, int... shape) {
        checkOpen();
        checkIds(ids, shape);
        int[] outShape = Arrays.copyOf(shape, shape.length + 1);
        outShape[shape.length] = dim;
        Tensor out = Tensor.zeros(device, outShape);
        try {
            DeviceAccess.backend(device).embeddingForward(ids, 0, ids.length, dim, DeviceAccess.buffer(weight.value()), 0, DeviceAccess.buffer(out), 0);
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    /** Adds the gradient of the lookup to weight.grad(): rows of {@code gradOutput} (ids.length, dim) scatter-added by id. */
    public void backward(int[] ids, Tensor gradOutput) {
        exclusiveUse("backward", () -> backwardInUse(ids, gradOutput));
    }

    private void backwardInUse(int[] ids, Tensor gradOutput) {
        if (ids == null) throw new NullPointerException("ids is null");
        Args.tensor("gradOutput", gradOutput, device);
        if (gradOutput.numel() != (long) ids.length * dim)
            throw new IllegalArgumentException("gradOutput: expected " + ids.length + " x " + dim + " values, got shape "
                    + Shapes.str(gradOutput.shape()));
        checkIds(ids, ids.length);
        DeviceAccess.backend(device).embeddingBackward(ids, 0, ids.length, dim, DeviceAccess.buffer(gradOutput), 0, DeviceAccess.buffer(weight.grad()), 0);
    }

    private void checkIds(int[] ids, int... shape) {
        if (ids == null) throw new NullPointerException("ids is null");
        if (Shapes.numel(shape) != ids.length)
            throw new IllegalArgumentException("ids: " + ids.length + " values do not fill shape " + Shapes.str(shape));
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= numEmbeddings)
                throw new IllegalArgumentException("ids[" + i + "] = " + ids[i] + " is outside [0, " + numEmbeddings + ")");
    }

    @Override
    public String toString() { return "Embedding(" + numEmbeddings + ", " + dim + ")"; }
}
