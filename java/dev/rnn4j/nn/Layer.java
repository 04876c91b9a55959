package dev.rnn4j.nn;

import dev.rnn4j.Tensor;

/**
 * A module that maps one tensor to one tensor and whose backward needs only that input: what
 * {@link Sequential} chains. {@link Linear} is one; a small {@link Module} subclass can make any
 * other computation one (see {@link Module}, "Composite models").
 */
public interface Layer {
    /** The output for input {@code x} (a new tensor, which the caller closes). */
    Tensor forward(Tensor x);

    /**
     * Given the input {@code x} of a forward call and the gradient of the loss with respect to
     * its output, adds to the parameters' gradients and returns the gradient with respect to
     * {@code x} (a new tensor, which the caller closes).
     */
    Tensor backward(Tensor x, Tensor gradOutput);
}
