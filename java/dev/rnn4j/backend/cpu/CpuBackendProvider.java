package dev.rnn4j.backend.cpu;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;

/**
 * Provides the {@code cpu} backend. It is always available: its kernels are Java (the Vector
 * API where the JVM enables it, else plain Java; see {@link GemmKernels}), so nothing has to be
 * installed; the description says which kernels it picked and why.
 */
public final class CpuBackendProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }

    @Override
    public Availability probe() { return Availability.yes(open().description()); }

    @Override
    public Backend create() { return open(); }

    /** Opens the backend. */
    public static CpuBackend open() { return new CpuBackend(GemmKernels.choice()); }

    /** Whether the vector kernels are in use, and if not, why (for tests and the benchmarks); null when they are. */
    public static String scalarReason() {
        GemmKernels.Choice c = GemmKernels.choice();
        return c.gemm() instanceof JavaGemm ? c.why() : null;
    }
}
