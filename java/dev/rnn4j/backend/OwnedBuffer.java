package dev.rnn4j.backend;

/**
 * What every device backend's buffer has: the backend that owns it and its size in floats. The
 * subclass holds the memory itself and closes it.
 *
 * @param <B> the owning backend's class, so that the buffer reaches its owner's internals
 */
public abstract class OwnedBuffer<B extends Backend> implements DeviceBuffer {
    /** The backend whose memory this is; a backend accepts only its own buffers. */
    protected final B owner;
    /** Size in floats. */
    protected final long size;

    protected OwnedBuffer(B owner, long size) {
        this.owner = owner;
        this.size = size;
    }

    @Override public final long size() { return size; }

    @Override public final Backend backend() { return owner; }
}
