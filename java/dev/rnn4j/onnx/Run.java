package dev.rnn4j.onnx;

import dev.rnn4j.Device;

import java.util.ArrayList;
import java.util.List;

/**
 * One execution of a graph: the device its float work runs on, the graph's opset (operators
 * such as Softmax changed meaning between versions), and every device resource the run made
 * (tensors, layers, their outputs), closed together when the run ends.
 */
final class Run implements AutoCloseable {
    final Device device;
    final int opset;
    private final List<AutoCloseable> owned = new ArrayList<>();

    Run(Device device, int opset) {
        this.device = device;
        this.opset = opset;
    }

    <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
            }
        }
        owned.clear();
        if (first != null) throw first;
    }
}
