package dev.rnn4j.backend.cpu;

import dev.rnn4j.BackendUnavailableException;
import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Provides the {@code cpu} backend. It is available wherever Java runs: its kernels are Java
 * (the Vector API where the JVM enables it, else plain Java; see {@link GemmKernels}), so nothing
 * has to be installed; the description says which kernels it picked and why.
 *
 * <p>The plain-Java fallback is correct but tens of times slower (where librnn4j_cpu loads, its
 * native packed products keep inference at full speed, but training's products run plain Java,
 * 3.5 to 5 times slower for an LSTM(256) at 35 x 32), and a JVM started without
 * {@code --add-modules jdk.incubator.vector} picks it silently; so opening the backend on it logs
 * one WARNING per JVM naming the flag, and {@code -Drnn4j.cpu.requireFast=true} turns it into a
 * {@link BackendUnavailableException} (the probe then reports the backend unavailable).
 */
public final class CpuBackendProvider implements BackendProvider {
    /** The system property that makes the plain-Java fallback an error instead of a warning. */
    public static final String REQUIRE_FAST = "rnn4j.cpu.requireFast";

    private static final System.Logger LOG = System.getLogger(CpuBackendProvider.class.getName());
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    @Override public String name() { return "cpu"; }

    @Override
    public Availability probe() {
        String refused = refusal();
        return refused != null ? Availability.no(refused) : Availability.yes(open().description());
    }

    @Override
    public Backend create() { return open(); }

    /**
     * Opens the backend: on the plain-Java kernels it warns once per JVM, or, under
     * {@code -Drnn4j.cpu.requireFast=true}, throws {@link BackendUnavailableException} saying why.
     */
    public static CpuBackend open() {
        String refused = refusal();
        if (refused != null) throw new BackendUnavailableException("cpu: " + refused);
        String why = scalarReason();
        // Asked for by -Drnn4j.cpu.kernels=java: no surprise to warn about.
        if (why != null && !GemmKernels.forcedPlain() && WARNED.compareAndSet(false, true))
            LOG.log(System.Logger.Level.WARNING, "the cpu backend runs its plain-Java kernels, many times slower than its vector ones"
                    + (GemmKernels.choice().packed() instanceof NativeGemm
                        ? " (the packed x W^T products of inference run natively at full speed; training's products do not)" : "")
                    + ": " + why + flagHint(why) + "; -D" + REQUIRE_FAST + "=true makes this an error");
        return new CpuBackend(GemmKernels.choice());
    }

    /** Whether the vector kernels are in use, and if not, why (for tests and the benchmarks); null when they are. */
    public static String scalarReason() {
        GemmKernels.Choice c = GemmKernels.choice();
        return c.gemm() instanceof JavaGemm ? c.why() : null;
    }

    /** Why the backend must not open (the fallback with {@code rnn4j.cpu.requireFast=true}), or null. */
    private static String refusal() {
        String why = scalarReason();
        if (why == null || !Boolean.getBoolean(REQUIRE_FAST)) return null;
        return "-D" + REQUIRE_FAST + "=true but only the plain-Java kernels can run: " + why + flagHint(why);
    }

    /** Names the flag where the reason does not already. */
    private static String flagHint(String why) {
        String flag = "--add-modules " + GemmKernels.MODULE;
        return why.contains(flag) ? "" : "; the vector kernels need " + flag + " and AVX2 or wider";
    }
}
