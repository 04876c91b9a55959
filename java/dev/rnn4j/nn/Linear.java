package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceAccess;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * y = x W^T + b, like PyTorch's {@code nn.Linear}: {@code weight} (out, in), {@code bias} (out).
 * The weight can be shared with another module (weight tying, e.g. with an {@link Embedding}
 * of shape (out, in)): the shared {@link Parameter} then receives gradients from both.
 */
public final class Linear extends Module implements Layer {
    private final int inFeatures, outFeatures;
    private final Parameter weight, bias;
    private final boolean tied;

    /**
     * A linear layer with its own weight, initialised like PyTorch: U(-1/sqrt(in), 1/sqrt(in)) for
     * weight and bias, from a random seed (use {@link #Linear(Device, int, int, boolean, long)}
     * for a repeatable start).
     *
     * @throws IllegalArgumentException if a size is not positive
     */
    public Linear(Device device, int inFeatures, int outFeatures, boolean bias) {
        this(device, inFeatures, outFeatures, bias, new SplittableRandom().nextLong());
    }

    /**
     * A linear layer initialised as {@link #resetParameters(long)} draws it from {@code seed}: the
     * same seed gives the same weights on every backend and run.
     *
     * @throws IllegalArgumentException if a size is not positive
     */
    public Linear(Device device, int inFeatures, int outFeatures, boolean bias, long seed) {
        super(device);
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new IllegalArgumentException("inFeatures and outFeatures must be positive, got " + inFeatures + ", " + outFeatures);
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.tied = false;
        try {
            this.weight = registerParameter("weight", outFeatures, inFeatures);
            this.bias = bias ? registerParameter("bias", outFeatures) : null;
            resetParameters(seed);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** A linear layer whose weight is {@code sharedWeight} (shape (out, in)); only the bias is its own (zero). */
    public Linear(Parameter sharedWeight, boolean bias) {
        super(deviceOf(sharedWeight));
        int[] s = sharedWeight.shape();
        if (s.length != 2) throw new IllegalArgumentException("shared weight must be a matrix, got " + Shapes.str(s));
        this.outFeatures = s[0];
        this.inFeatures = s[1];
        this.weight = registerTied("weight", sharedWeight);
        this.tied = true;
        try {
            this.bias = bias ? registerParameter("bias", outFeatures) : null;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private static Device deviceOf(Parameter sharedWeight) {
        if (sharedWeight == null) throw new NullPointerException("shared weight is null");
        return sharedWeight.value().device();   // IllegalStateException if it is closed
    }

    /** The input width. */
    public int inFeatures() { return inFeatures; }

    /** The output width. */
    public int outFeatures() { return outFeatures; }

    /** The weight (out_features, in_features); shared with another module when tied. */
    public Parameter weight() { return weight; }

    /** The bias parameter, or null without bias. */
    public Parameter bias() { return bias; }

    /** PyTorch's default init. A tied weight is left alone (its owner initialises it); the bias is redrawn. */
    public void resetParameters(long seed) {
        checkOpen();
        SplittableRandom r = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(inFeatures);
        if (!tied) Init.fillUniform(weight, bound, r);
        if (bias != null) Init.fillUniform(bias, bound, r);
    }

    /** x of shape (..., in) -> (..., out). */
    @Override
    public Tensor forward(Tensor x) {
        int rows = checkInput("input", x, inFeatures);
        Backend be = DeviceAccess.backend(device);
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = outFeatures;
        Tensor y = Tensor.zeros(device, outShape);
        try {
            if (rows > 0) {
                be.gemm(false, true, rows, outFeatures, inFeatures, 1f, DeviceAccess.buffer(x), 0, inFeatures,
                        DeviceAccess.buffer(weight.value()), 0, inFeatures, 0f, DeviceAccess.buffer(y), 0, outFeatures, 1, 0, 0, 0);
                if (bias != null) be.addRowVector(rows, outFeatures, DeviceAccess.buffer(bias.value()), 0, DeviceAccess.buffer(y), 0, outFeatures);
            }
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        } finally {
            Reference.reachabilityFence(x);
        }
        return y;
    }

    /**
     * Given the forward input x (..., in) and dy (..., out): accumulates weight and bias
     * gradients and returns dx (..., in).
     */
    @Override
    public Tensor backward(Tensor x, Tensor gradOutput) {
        return exclusiveUse("backward", () -> backwardInUse(x, gradOutput));
    }

    private Tensor backwardInUse(Tensor x, Tensor gradOutput) {
        int rows = checkInput("input", x, inFeatures);
        int[] expect = x.shape();
        expect[expect.length - 1] = outFeatures;
        Args.tensor("gradOutput", gradOutput, device, expect, "(..., out_features)");
        Backend be = DeviceAccess.backend(device);
        Tensor dx = Tensor.zeros(device, x.shape());
        try {
            if (rows > 0) {
                be.gemm(false, false, rows, inFeatures, outFeatures, 1f, DeviceAccess.buffer(gradOutput), 0, outFeatures,
                        DeviceAccess.buffer(weight.value()), 0, inFeatures, 0f, DeviceAccess.buffer(dx), 0, inFeatures, 1, 0, 0, 0);
                be.gemm(true, false, outFeatures, inFeatures, rows, 1f, DeviceAccess.buffer(gradOutput), 0, outFeatures,
                        DeviceAccess.buffer(x), 0, inFeatures, 1f, DeviceAccess.buffer(weight.grad()), 0, inFeatures, 1, 0, 0, 0);
                if (bias != null) be.sumRows(rows, outFeatures, DeviceAccess.buffer(gradOutput), 0, outFeatures, 1f, DeviceAccess.buffer(bias.grad()), 0);
            }
        } catch (RuntimeException | Error e) {
            dx.close();
            throw e;
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(gradOutput);
        }
        return dx;
    }

    private int checkInput(String what, Tensor x, int last) {
        checkOpen();
        Args.tensor(what, x, device);
        int[] s = x.shape();
        if (s.length < 1 || s[s.length - 1] != last)
            throw new IllegalArgumentException(what + ": expected shape (..., " + last + "), got " + Arrays.toString(s));
        return Math.toIntExact(x.numel() / last);
    }

    @Override
    public String toString() {
        return "Linear(in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias != null) + (tied ? ", tied" : "") + ")";
    }
}
