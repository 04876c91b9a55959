package dev.rnn4j.nn;

/**
 * Options every builder of the PyTorch recurrent layers has, named after PyTorch's constructor
 * arguments: the sizes (checked at once), {@code bias} and the seed of the initial parameters.
 * {@link RNNBase.Builder} adds the options of the multi-layer modules; the cell builders use
 * these as they are.
 */
public abstract class RecurrentBuilder<S extends RecurrentBuilder<S>> {
    final int inputSize, hiddenSize;
    boolean bias = true;
    Long seed;

    RecurrentBuilder(int inputSize, int hiddenSize) {
        if (inputSize <= 0) throw new IllegalArgumentException("inputSize must be greater than zero, got " + inputSize);
        if (hiddenSize <= 0) throw new IllegalArgumentException("hiddenSize must be greater than zero, got " + hiddenSize);
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
    }

    abstract S self();

    /** Whether the layer has bias_ih and bias_hh (default true). */
    public S bias(boolean bias) { this.bias = bias; return self(); }

    /** Seed of the initial parameters (see {@code resetParameters}); random if not set. */
    public S seed(long seed) { this.seed = seed; return self(); }
}
