package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;
import dev.rnn4j.backend.BackendUnavailableException;

/**
 * Provides the {@code cpu} backend: available when OpenBLAS can be opened (see {@link OpenBlas});
 * otherwise the reason names the library and the package that brings it.
 */
public final class CpuBackendProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }

    @Override
    public Availability probe() {
        OpenBlas.Status s = OpenBlas.status();
        return s.available() ? Availability.yes(new CpuBackend(s.lib()).description()) : Availability.no(s.reason());
    }

    @Override
    public Backend create() { return open(); }

    /** Opens the backend; throws {@link BackendUnavailableException} saying why it cannot. */
    public static CpuBackend open() {
        OpenBlas.Status s = OpenBlas.status();
        if (!s.available()) throw new BackendUnavailableException("cpu: " + s.reason());
        return new CpuBackend(s.lib());
    }

    /** Whether OpenBLAS was found, and if not, why (for tests and the benchmarks). */
    public static String unavailableReason() {
        OpenBlas.Status s = OpenBlas.status();
        return s.available() ? null : s.reason();
    }
}
