package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

import java.util.ArrayList;

/**
 * Owns a group of device tensors and frees them together: the temporaries of one call
 * (try-with-resources) or everything a forward pass keeps for its backward pass. Closing is
 * idempotent.
 */
final class TensorScope implements AutoCloseable {
    private final Device device;
    private final ArrayList<Tensor> tensors = new ArrayList<>();
    private boolean closed;

    TensorScope(Device device) { this.device = device; }

    /** A zero-filled tensor owned by this scope. */
    Tensor zeros(int... shape) {
        if (closed) throw new IllegalStateException("tensor scope is closed");
        Tensor t = Tensor.zeros(device, shape);
        tensors.add(t);
        return t;
    }

    /** Frees {@code t} now (it must belong to this scope) instead of at close, to bound peak memory. */
    void release(Tensor t) {
        if (t == null) return;
        for (int i = tensors.size() - 1; i >= 0; i--)
            if (tensors.get(i) == t) {
                tensors.remove(i);
                t.close();
                return;
            }
        throw new IllegalArgumentException("tensor does not belong to this scope");
    }

    boolean isClosed() { return closed; }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Tensor[] all = tensors.toArray(new Tensor[0]);
        tensors.clear();
        Closeables.closeAll((AutoCloseable[]) all);
    }
}
