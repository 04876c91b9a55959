package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * y = x W^T + b, like PyTorch's {@code nn.Linear}: {@code weight} (out, in), {@code bias} (out).
 * The weight can be shared with another module (weight tying, e.g. with an {@link Embedding}
 * of shape (out, in)): the shared {@link Parameter} then receives gradients from both.
 */
public final class Linear extends Module {
    private final int inFeatures, outFeatures;
    private final Parameter weight, bias;
    private final boolean tied;

    /** A linear layer with its own weight, initialised like PyTorch: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
    public Linear(Device device, int inFeatures, int outFeatures, boolean bias) {
        super(device);
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new IllegalArgumentException("inFeatures and outFeatures must be positive, got " + inFeatures + ", " + outFeatures);
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = registerParameter("weight", outFeatures, inFeatures);
        this.bias = bias ? registerParameter("bias", outFeatures) : null;
        this.tied = false;
        resetParameters(new SplittableRandom().nextLong());
    }

    /** A linear layer whose weight is {@code sharedWeight} (shape (out, in)); only the bias is its own (zero). */
    public Linear(Parameter sharedWeight, boolean bias) {
        super(sharedWeight.value().device());
        int[] s = sharedWeight.shape();
        if (s.length != 2) throw new IllegalArgumentException("shared weight must be a matrix, got " + Shapes.str(s));
        this.outFeatures = s[0];
        this.inFeatures = s[1];
        this.weight = registerTied("weight", sharedWeight);
        this.bias = bias ? registerParameter("bias", outFeatures) : null;
        this.tied = true;
    }

    public int inFeatures() { return inFeatures; }

    public int outFeatures() { return outFeatures; }

    public Parameter weight() { return weight; }

    /** The bias parameter, or null without bias. */
    public Parameter bias() { return bias; }

    /** PyTorch's default init. A tied weight is left alone (its owner initialises it); the bias is redrawn. */
    public void resetParameters(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(inFeatures);
        if (!tied) weight.set(uniform(r, weight.numel(), bound));
        if (bias != null) bias.set(uniform(r, bias.numel(), bound));
    }

    private static float[] uniform(SplittableRandom r, long n, double bound) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        return a;
    }

    /** x of shape (..., in) -> (..., out). */
    public Tensor forward(Tensor x) {
        int rows = checkInput("input", x, inFeatures);
        Backend be = device.backend();
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = outFeatures;
        Tensor y = Tensor.zeros(device, outShape);
        if (rows > 0) {
            be.gemm(false, true, rows, outFeatures, inFeatures, 1f, x.buffer(), 0, inFeatures,
                    weight.value().buffer(), 0, inFeatures, 0f, y.buffer(), 0, outFeatures, 1, 0, 0, 0);
            if (bias != null) be.addRowVector(rows, outFeatures, bias.value().buffer(), 0, y.buffer(), 0, outFeatures);
        }
        return y;
    }

    /**
     * Given the forward input x (..., in) and dy (..., out): accumulates weight and bias
     * gradients and returns dx (..., in).
     */
    public Tensor backward(Tensor x, Tensor gradOutput) {
        int rows = checkInput("input", x, inFeatures);
        int[] expect = x.shape();
        expect[expect.length - 1] = outFeatures;
        Shapes.check("gradOutput", gradOutput, expect);
        if (gradOutput.device() != device) throw new IllegalArgumentException("gradOutput is on " + gradOutput.device().name() + ", layer on " + device.name());
        Backend be = device.backend();
        Tensor dx = Tensor.zeros(device, x.shape());
        if (rows > 0) {
            be.gemm(false, false, rows, inFeatures, outFeatures, 1f, gradOutput.buffer(), 0, outFeatures,
                    weight.value().buffer(), 0, inFeatures, 0f, dx.buffer(), 0, inFeatures, 1, 0, 0, 0);
            be.gemm(true, false, outFeatures, inFeatures, rows, 1f, gradOutput.buffer(), 0, outFeatures,
                    x.buffer(), 0, inFeatures, 1f, weight.grad().buffer(), 0, inFeatures, 1, 0, 0, 0);
            if (bias != null) be.sumRows(rows, outFeatures, gradOutput.buffer(), 0, outFeatures, 1f, bias.grad().buffer(), 0);
        }
        return dx;
    }

    private int checkInput(String what, Tensor x, int last) {
        checkOpen();
        if (x == null) throw new NullPointerException(what + " is null");
        if (x.device() != device) throw new IllegalArgumentException(what + " is on " + x.device().name() + ", layer on " + device.name());
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
