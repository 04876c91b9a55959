package dev.rnn4j.backend;

import java.util.Set;

/**
 * A backend that runs every op on another one and records the op types it saw, so the parity
 * suite can tell which ops it has checked on a backend. Buffers stay the wrapped backend's.
 */
final class RecordingBackend implements Backend {
    private final Backend inner;
    private final Set<Class<?>> seen;

    RecordingBackend(Backend inner, Set<Class<?>> seen) {
        this.inner = inner;
        this.seen = seen;
    }

    @Override public String name() { return inner.name(); }
    @Override public String description() { return inner.description(); }
    @Override public DeviceBuffer allocate(long n) { return inner.allocate(n); }
    @Override public long liveBuffers() { return inner.liveBuffers(); }
    @Override public boolean supports(Class<? extends Op<?>> opType) { return inner.supports(opType); }

    @Override
    public Object execute(Op<?> op) {
        Object r = inner.execute(op);
        seen.add(op.getClass());
        return r;
    }

    /** Closing the recorder leaves the wrapped backend open (its owner closes it). */
    @Override public void close() {}
}
