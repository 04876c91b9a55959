package dev.rnn4j.train;

import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import dev.rnn4j.nn.Parameter;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

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
        for (Parameter p : params) sum += sumSquares(p);
        return Math.sqrt(sum);
    }

    private static double sumSquares(Parameter p) {
        if (!p.hasGrad()) return 0;
        Tensor g = p.grad();
        return DeviceAccess.backend(g).sumSquares(g.numel(), DeviceAccess.buffer(g), 0);
    }

    /**
     * PyTorch's {@code torch.nn.utils.clip_grad_norm_(params, maxNorm)} (2-norm): with
     * {@code coef = maxNorm / (norm + 1e-6)}, if coef &lt; 1 every gradient is multiplied by it
     * (PyTorch multiplies by min(coef, 1), which leaves the values unchanged when coef &gt;= 1).
     * Pass each parameter once (tied weights once: {@code module.namedParameters().values()}).
     * A non-finite norm is not checked: an infinite one gives coef = 0 (every gradient is
     * multiplied by 0, its infinite elements becoming NaN), a NaN one leaves the gradients as
     * they are; {@link #clipGradNorm(Map, double, boolean)} can throw instead.
     *
     * @return the total norm before clipping
     * @throws IllegalArgumentException if maxNorm is negative or NaN
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm) {
        return clipGradNorm(params, maxNorm, false);
    }

    /**
     * {@link #clipGradNorm(Collection, double)} with PyTorch's {@code error_if_nonfinite}: if
     * {@code errorIfNonfinite} and the total norm is NaN or infinite (a gradient holds NaN or
     * ±inf, or its squares overflow), throws {@link NonFiniteGradientException} before any
     * gradient changes, naming the first such parameter by its position in {@code params} and
     * its shape. Use the {@link Map} form to have it named as in the state dict.
     *
     * @return the total norm before clipping
     * @throws IllegalArgumentException    if maxNorm is negative or NaN
     * @throws NonFiniteGradientException if errorIfNonfinite and the norm is not finite
     */
    public static double clipGradNorm(Collection<Parameter> params, double maxNorm, boolean errorIfNonfinite) {
        if (params == null) throw new NullPointerException("params is null");
        Map<String, Parameter> named = new LinkedHashMap<>();
        int i = 0;
        for (Parameter p : params) {
            named.put("parameter " + i + " (shape " + Shapes.str(p.shape()) + ")", p);
            i++;
        }
        return clip(named, new ArrayList<>(params), maxNorm, errorIfNonfinite);
    }

    /**
     * {@link #clipGradNorm(Collection, double, boolean)} over named parameters, such as
     * {@code model.namedParameters()}: a non-finite gradient is reported under its name, e.g.
     * {@code "1.weight"}.
     *
     * @return the total norm before clipping
     * @throws IllegalArgumentException    if maxNorm is negative or NaN
     * @throws NonFiniteGradientException if errorIfNonfinite and the norm is not finite
     */
    public static double clipGradNorm(Map<String, Parameter> namedParams, double maxNorm, boolean errorIfNonfinite) {
        if (namedParams == null) throw new NullPointerException("params is null");
        return clip(namedParams, namedParams.values(), maxNorm, errorIfNonfinite);
    }

    private static double clip(Map<String, Parameter> named, Collection<Parameter> params, double maxNorm, boolean errorIfNonfinite) {
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("maxNorm must be >= 0, got " + maxNorm);
        double sum = 0;
        String firstBad = null;
        double firstBadSq = 0;
        for (var e : named.entrySet()) {
            double sq = sumSquares(e.getValue());
            if (firstBad == null && !Double.isFinite(sq)) {
                firstBad = e.getKey();
                firstBadSq = sq;
            }
            sum += sq;
        }
        double norm = Math.sqrt(sum);
        if (errorIfNonfinite && !Double.isFinite(norm))
            throw new NonFiniteGradientException(firstBad, norm, firstBad == null ? norm : Math.sqrt(firstBadSq));
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (Parameter p : params) {
                if (!p.hasGrad()) continue;
                Tensor g = p.grad();
                DeviceAccess.backend(g).scale(g.numel(), (float) coef, DeviceAccess.buffer(g), 0);
            }
        }
        return norm;
    }
}
