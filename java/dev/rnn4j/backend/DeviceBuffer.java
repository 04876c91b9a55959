package dev.rnn4j.backend;

/**
 * Device memory holding {@code size()} float32 values, owned by one {@link Backend}.
 *
 * <p>Backends return their own implementation from {@link Backend#allocate(long)} and accept
 * only their own buffers in primitives. {@link #close()} frees the memory and is idempotent.
 */
public interface DeviceBuffer extends AutoCloseable {
    /** Number of float32 elements. */
    long size();

    /** The backend that owns this buffer. */
    Backend backend();

    /** Whether {@link #close()} has been called. */
    boolean isClosed();

    @Override
    void close();
}
