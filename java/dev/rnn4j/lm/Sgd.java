package dev.rnn4j.lm;

import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.Parameter;
import dev.rnn4j.train.Gradients;
import dev.rnn4j.train.SGD;

import java.util.Collection;

/**
 * The language-model script's optimiser over {@link dev.rnn4j.train}: global gradient-norm
 * clipping ({@link Gradients#clipGradNorm}) and plain {@link SGD} preceded by the script's
 * multiplicative weight decay (which is not PyTorch's SGD weight_decay: it does not scale with
 * lr). Pass each parameter once (a tied matrix is one parameter:
 * {@link dev.rnn4j.nn.Module#namedParameters()}).
 */
public final class Sgd {
    private Sgd() {}

    /** The global L2 norm of the gradients: sqrt of the sum over parameters of sum(grad^2), in double. */
    public static double gradNorm(Collection<Parameter> params) { return Gradients.norm(params); }

    /**
     * Clips the global gradient norm like the script's {@code clip_grad_norm(parameters, maxNorm)}:
     * with {@code coef = maxNorm / (norm + 1e-6)}, if coef &lt; 1 every gradient is multiplied by
     * it. Returns the norm before clipping.
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm) {
        return Gradients.clipGradNorm(params, maxNorm);
    }

    /**
     * One step for every parameter: {@code p *= (1 - weightDecay)} if weightDecay &gt; 0, then
     * {@code p -= lr * grad} (SGD without momentum).
     */
    public static void step(Collection<Parameter> params, double lr, double weightDecay) {
        if (weightDecay > 0)
            for (Parameter p : params) {
                Tensor v = p.value();
                DeviceAccess.backend(v).scale(v.numel(), (float) (1.0 - weightDecay), DeviceAccess.buffer(v), 0);
            }
        try (SGD sgd = SGD.builder(params).lr(lr).build()) {
            sgd.step();
        }
    }
}
