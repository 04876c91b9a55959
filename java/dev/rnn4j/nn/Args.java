package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Shapes;
import dev.rnn4j.Tensor;

import java.util.Arrays;

/**
 * Argument checks for builders and layer entry points, run before any backend call so a bad
 * call changes nothing.
 */
final class Args {
    private Args() {}

    /** PyTorch's Elman nonlinearity, "tanh" or "relu"; returns it. */
    static String nonlinearity(String nonlinearity) {
        if (nonlinearity == null) throw new NullPointerException("nonlinearity is null");
        if (!nonlinearity.equals("tanh") && !nonlinearity.equals("relu"))
            throw new IllegalArgumentException("unknown nonlinearity '" + nonlinearity + "': select 'tanh' or 'relu'");
        return nonlinearity;
    }

    /** {@code t} must be non-null, open and on {@code device}. */
    static void tensor(String name, Tensor t, Device device) {
        if (t == null) throw new NullPointerException(name + " is null");
        if (t.device().isClosed()) throw new IllegalStateException(name + ": device " + t.device().name() + " is closed");
        if (t.isClosed()) throw new IllegalStateException(name + ": tensor " + Shapes.str(t.shape()) + " is closed");
        if (t.device() != device)
            throw new IllegalArgumentException(name + ": tensor is on device " + t.device().label() + ", the module on device " + device.label()
                    + (t.device().name().equals(device.name()) ? " (another device of the same backend)" : ""));
    }

    /**
     * Checks that a layer's internal temporary of {@code tempShape} fits in one tensor before
     * anything is allocated; the error names the layer and the caller's input shape, not the
     * temporary the caller never made.
     */
    static void fits(Object layer, Tensor input, int... tempShape) {
        try {
            Shapes.numel(tempShape);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("input of shape " + Shapes.str(input.shape()) + " is too large for " + layer
                    + ": its working memory would exceed " + Shapes.MAX_NUMEL + " elements in one tensor; split the sequence or the batch");
        }
    }

    /** As {@link #tensor(String, Tensor, Device)}, and of exactly {@code shape}; {@code meaning} names the dimensions. */
    static void tensor(String name, Tensor t, Device device, int[] shape, String meaning) {
        tensor(name, t, device);
        if (!Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException(name + ": expected shape " + Shapes.str(shape) + " " + meaning
                    + ", got " + Shapes.str(t.shape()));
    }
}
