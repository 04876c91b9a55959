package dev.rnn4j.backend;

import dev.rnn4j.BackendUnavailableException;

/**
 * Discovers and creates one kind of backend. Providers are listed in
 * {@code dev.rnn4j.Device.PROVIDERS} ({@link DeviceAccess#providers()}); {@link #probe()} must be cheap, never throw, and say
 * why a backend is unavailable (no OpenCL platform, no CUDA driver, library not built...).
 */
public interface BackendProvider {
    String name();

    /** Availability and a one-line reason or device description. Never throws. */
    Availability probe();

    /** Creates the backend; throws {@link BackendUnavailableException} with the reason if it cannot. */
    Backend create();

    /** A provider's own, richer probe result (its status, error codes...) reduced to {@link Availability}. */
    interface Probed {
        boolean available();

        /** The device description, or why the backend is unavailable. */
        String detail();

        default Availability availability() { return new Availability(available(), detail()); }
    }

    record Availability(boolean available, String detail) {
        public static Availability yes(String detail) { return new Availability(true, detail); }
        public static Availability no(String reason) { return new Availability(false, reason); }
    }
}
