package dev.rnn4j;

import java.util.Arrays;

/**
 * A float32 tensor in Java heap memory: a shape and its row-major data. Used for files
 * (safetensors), state dicts and moving values between host and device.
 *
 * @param shape the dimensions, each {@code >= 0} (copied)
 * @param data  the values, row-major; its length must be the product of the shape
 *              (IllegalArgumentException otherwise); not copied
 */
public record HostTensor(int[] shape, float[] data) {
    public HostTensor {
        if (shape == null) throw new NullPointerException("shape is null");
        if (data == null) throw new NullPointerException("data is null");
        shape = shape.clone();
        long n = Shapes.numel(shape);
        if (data.length != n)
            throw new IllegalArgumentException("data has " + data.length + " values but shape "
                    + Arrays.toString(shape) + " needs " + n);
    }

    /** A zero-filled host tensor of {@code shape}; IllegalArgumentException for a negative dimension or too many elements. */
    public static HostTensor zeros(int... shape) {
        return new HostTensor(shape, new float[Math.toIntExact(Shapes.numel(shape))]);
    }

    /** The number of elements. */
    public long numel() { return data.length; }

    @Override
    public int[] shape() { return shape.clone(); }

    @Override
    public boolean equals(Object o) {
        return o instanceof HostTensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
    }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data); }

    @Override
    public String toString() { return "HostTensor" + Arrays.toString(shape); }
}
