package dev.rnn4j.train;

import dev.rnn4j.Tensor;
import dev.rnn4j.nn.Parameter;

import java.util.Collection;

/** Gradient utilities over backend primitives: the global norm and PyTorch's {@code clip_grad_norm_}. */
public final class Gradients {
    private Gradients() {}

    /**
     * The global L2 norm of the gradients: the square root of the sum over parameters of
     * sum(grad^2), accumulated in double. Parameters without a gradient count as zero.
     *
     * @throws NullPointerException if params is null
     */
    public static double norm(Collection<Parameter> params) {
        if (params == null) throw new NullPointerException("params is null");
        double sum = 0;
        for (Parameter p : params) {
            if (!p.hasGrad()) continue;
            Tensor g = p.grad();
            sum += g.backend().sumSquares(g.numel(), g.buffer(), 0);
        }
        return Math.sqrt(sum);
    }

    /**
     * PyTorch's {@code torch.nn.utils.clip_grad_norm_(params, maxNorm)} (2-norm): with
     * {@code coef = maxNorm / (norm + 1e-6)}, if coef &lt; 1 every gradient is multiplied by it
     * (PyTorch multiplies by min(coef, 1), which leaves the values unchanged when coef &gt;= 1).
     * Pass each parameter once (tied weights once: {@code module.namedParameters().values()}).
     *
     * @return the total norm before clipping
     * @throws IllegalArgumentException if maxNorm is negative or NaN
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm) {
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("maxNorm must be >= 0, got " + maxNorm);
        double norm = norm(params);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (Parameter p : params) {
                if (!p.hasGrad()) continue;
                Tensor g = p.grad();
                g.backend().scale(g.numel(), (float) coef, g.buffer(), 0);
            }
        }
        return norm;
    }
}
