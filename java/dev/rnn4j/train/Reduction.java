package dev.rnn4j.train;

/** How a loss combines its per-element terms, PyTorch's {@code reduction} argument. */
public enum Reduction {
    /** The mean over the elements (MSE) or over the rows (cross-entropy); PyTorch's default. */
    MEAN,
    /** The sum. */
    SUM
}
