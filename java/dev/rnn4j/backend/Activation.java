package dev.rnn4j.backend;

/** Pointwise activations used by the recurrent primitives. Codes match the kernels' and SRU's {@code activation_type}. */
public enum Activation {
    IDENTITY(0), TANH(1), RELU(2);

    public final int code;

    Activation(int code) { this.code = code; }

    public static Activation ofCode(int code) {
        for (Activation a : values()) if (a.code == code) return a;
        throw new IllegalArgumentException("activation code must be 0 (identity), 1 (tanh) or 2 (relu), got " + code);
    }
}
