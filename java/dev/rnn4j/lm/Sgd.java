package dev.rnn4j.lm;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.nn.Parameter;

import java.util.Collection;

/**
 * The language-model script's optimiser, written over backend primitives ({@link Backend#sumSquares},
 * {@link Backend#scale}, {@link Backend#axpy}) so it runs where the parameters live:
 * global gradient-norm clipping and plain SGD with multiplicative weight decay. Pass each
 * parameter once (a tied matrix is one parameter: {@link dev.rnn4j.nn.Module#namedParameters()}).
 */
public final class Sgd {
    private Sgd() {}

    /** The global L2 norm of the gradients: sqrt of the sum over parameters of sum(grad^2), in double. */
    public static double gradNorm(Collection<Parameter> params) {
        double sum = 0;
        for (Parameter p : params) {
            Tensor g = p.grad();
            sum += g.backend().sumSquares(g.numel(), g.buffer(), 0);
        }
        return Math.sqrt(sum);
    }

    /**
     * Clips the global gradient norm like the script's {@code clip_grad_norm(parameters, maxNorm)}:
     * with {@code coef = maxNorm / (norm + 1e-6)}, if coef &lt; 1 every gradient is multiplied by
     * it. Returns the norm before clipping.
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm) {
        double norm = gradNorm(params);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (Parameter p : params) {
                Tensor g = p.grad();
                g.backend().scale(g.numel(), (float) coef, g.buffer(), 0);
            }
        }
        return norm;
    }

    /**
     * One step for every parameter: {@code p *= (1 - weightDecay)} if weightDecay &gt; 0, then
     * {@code p -= lr * grad}.
     */
    public static void step(Collection<Parameter> params, double lr, double weightDecay) {
        for (Parameter p : params) {
            Tensor v = p.value(), g = p.grad();
            Backend be = v.backend();
            if (weightDecay > 0) be.scale(v.numel(), (float) (1.0 - weightDecay), v.buffer(), 0);
            be.axpy(v.numel(), (float) -lr, g.buffer(), 0, v.buffer(), 0);
        }
    }
}
