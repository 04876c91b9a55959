package dev.rnn4j.backend;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;

import java.util.List;

/**
 * The module's own way from the public {@link Device} and {@link Tensor} to their backend and
 * buffers. Those accessors return types of this unexported package, so they are not public:
 * layers, optimizers and tests (all inside the module) reach them through here, and a consumer
 * of the exported API never sees them. {@link Device} installs the one {@link Bridge} when its
 * class initialises, which happens before any device or tensor exists.
 */
public final class DeviceAccess {
    private DeviceAccess() {}

    /** What {@link Device} implements with its non-public accessors. */
    public interface Bridge {
        Backend backend(Device device);

        DeviceBuffer buffer(Tensor tensor);

        Backend backend(Tensor tensor);

        List<BackendProvider> providers();
    }

    private static volatile Bridge bridge;

    /** Called once, by {@link Device}'s static initialiser. */
    public static void install(Bridge b) {
        synchronized (DeviceAccess.class) {
            if (bridge != null) throw new IllegalStateException("the device bridge is already installed");
            bridge = b;
        }
    }

    private static Bridge bridge() {
        Bridge b = bridge;
        if (b != null) return b;
        try {
            // Only providers() can come before any Device: initialise the class, which installs the bridge.
            Class.forName(Device.class.getName(), true, Device.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new AssertionError(e);
        }
        return bridge;
    }

    /** The backend behind {@code device}; throws {@link IllegalStateException} if the device is closed. */
    public static Backend backend(Device device) { return bridge().backend(device); }

    /** The buffer of {@code tensor}; throws {@link IllegalStateException} if it or its device is closed. */
    public static DeviceBuffer buffer(Tensor tensor) { return bridge().buffer(tensor); }

    /** The backend that owns {@code tensor}; throws {@link IllegalStateException} if it or its device is closed. */
    public static Backend backend(Tensor tensor) { return bridge().backend(tensor); }

    /** Every backend provider, in {@link Device#backends()} order. */
    public static List<BackendProvider> providers() { return bridge().providers(); }
}
