package dev.rnn4j.train;

/**
 * Thrown by {@link Gradients#clipGradNorm(java.util.Map, double, boolean)} (and its collection
 * form) when asked to check and the gradients' total norm is NaN or infinite, PyTorch's
 * {@code error_if_nonfinite=True}. No gradient was changed; a training loop may skip the step
 * ({@code model.zeroGrad()}) and go on.
 */
public final class NonFiniteGradientException extends ArithmeticException {
    private static final long serialVersionUID = 1L;

    private final String parameter;
    private final double totalNorm, parameterNorm;

    NonFiniteGradientException(String parameter, double totalNorm, double parameterNorm) {
        super("the total norm of the gradients is " + totalNorm + ", so they cannot be clipped"
                + (parameter == null ? "" : "; the first non-finite gradient is " + parameter + " (norm " + parameterNorm + ")"));
        this.parameter = parameter;
        this.totalNorm = totalNorm;
        this.parameterNorm = parameterNorm;
    }

    /** The first parameter whose gradient norm is not finite (its name, or its position and shape), or null if none alone is. */
    public String parameter() { return parameter; }

    /** The total norm: NaN or infinite. */
    public double totalNorm() { return totalNorm; }

    /** The norm of {@link #parameter()}'s gradient (NaN or infinite), or the total norm if no parameter alone is non-finite. */
    public double parameterNorm() { return parameterNorm; }
}
