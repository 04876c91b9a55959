package dev.rnn4j.backend.cpu;

/**
 * Picks the cpu backend's GEMM kernels once per JVM and says why (for {@code ./rnn4j devices}).
 * Nothing is installed: {@link VectorGemm} (the Vector API,
 * AVX-512 or AVX2 as the CPU has it) when the JVM runs with
 * {@code --add-modules jdk.incubator.vector}, else {@link JavaGemm} (plain Java, correct but
 * several times slower). The system property {@code rnn4j.cpu.kernels=java} forces the plain ones;
 * {@link CpuBackendProvider} warns about, or refuses, the plain ones picked otherwise.
 * The packed x W^T products run on {@link NativeGemm} (librnn4j_cpu.so) where that library loads,
 * whichever of these is chosen, unless {@code -Drnn4j.cpu.native=false}.
 */
final class GemmKernels {
    private GemmKernels() {}

    /** A row-major SGEMM on heap arrays at element offsets; arguments already checked by the backend. */
    interface Gemm {
        String describe();

        void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                  float[] A, int ao, int lda, float[] B, int bo, int ldb,
                  float beta, float[] C, int co, int ldc);
    }

    /**
     * The packed x W^T product: W transposed once into column panels (the backend caches the
     * copy on W's buffer until W is written, keyed by {@link #layout}) and C = alpha A W^T + beta C
     * on them: the NT kernel's arithmetic bit for bit (one FMA chain per element in k order, then
     * alpha s + beta c), for every m. {@link VectorRecurrence} (the Java kernels' NN panels) or
     * {@link NativeGemm} (librnn4j_cpu.so's panels).
     */
    interface PackedB {
        /** Names the panel layout, so that a copy packed for one implementation is never read by another. */
        String layout();

        /** What runs the product, for {@code ./rnn4j devices}. */
        default String describe() { return "Java kernels"; }

        /** W (n x k at wo, row stride ldw) packed for {@link #productPacked}; made once per weight value. */
        float[] packTransposed(float[] W, int wo, int ldw, int n, int k);

        /** C (m x n) = alpha A W^T + beta C, A (m x k at ao, lda), W packed by {@link #packTransposed}. */
        void productPacked(int m, int n, int k, float alpha, float[] A, int ao, int lda, float[] P, float beta,
                           float[] C, int co, int ldc);
    }

    /**
     * The vector kernels of a whole forward recurrence ({@link dev.rnn4j.backend.Op.RecurrentForward}):
     * W_hh packed once per call, one product per step on the packed weights, and the LSTM's and
     * GRU's pointwise steps; and the packing of a weight for x W^T products that the backend
     * caches across calls (its {@link PackedB} side: VectorGemm's NN tile on W transposed once).
     */
    interface Recurrent extends PackedB {
        /** A step's product as the recurrence prepared it: C (m x G*H at co, ldc) = h (at ho) W_hh^T + beta C. */
        @FunctionalInterface
        interface Product {
            void run(int m, int ho, float beta, float[] C, int co, int ldc);
        }

        /** Packs W (n x k, row-major at wo) for {@link #product}; the result is valid for this call on this thread. */
        float[] pack(float[] W, int wo, int n, int k);

        /** C (m x n at co, ldc) = A W^T + beta C, A (m x k at ao, lda), W packed; beta 0 or 1 (0: C not read). */
        void product(float[] packed, int n, int k, float[] A, int ao, int lda, int m, float beta, float[] C, int co, int ldc);

        /** What {@link dev.rnn4j.backend.Op.LstmPointwiseForward} computes (gates in place, c, h), on arrays. */
        void lstmPointwise(int rows, int hidden, float[] G, int go, float[] C, int cp, int co, float[] H, int ho);

        /** What {@link dev.rnn4j.backend.Op.GruPointwiseForward} computes (h, saved), on arrays; BH may be null. */
        void gruPointwise(int rows, int hidden, float[] GX, int gxo, float[] GH, int gho, float[] BH, int bho,
                          float[] H, int hp, int ho, float[] SV, int so);
    }

    /**
     * The kernels in use and one line on why they were chosen; {@code recurrent} is null with the
     * plain kernels; {@code packed} runs the packed x W^T products: the native kernels where
     * librnn4j_cpu.so loads (and {@code -Drnn4j.cpu.native=false} does not turn them off), else
     * {@code recurrent} (may be null: no packed products); {@code nativeWhy} says why there are no
     * native kernels (null when there are).
     */
    record Choice(Gemm gemm, Recurrent recurrent, PackedB packed, String why, String nativeWhy) {
        Choice(Gemm gemm, String why) { this(gemm, null, why); }

        Choice(Gemm gemm, Recurrent recurrent, String why) { this(gemm, recurrent, NativeGemm.load(), why); }

        private Choice(Gemm gemm, Recurrent recurrent, NativeGemm.Load n, String why) {
            this(gemm, recurrent, n.gemm() != null ? n.gemm() : recurrent, why, n.reason());
        }

        /** The same kernels without the native ones (the Java kernels' path, for tests and A/B runs). */
        Choice javaOnly() {
            return new Choice(gemm, recurrent, recurrent, why, "native kernels left out");
        }

        String describe() {
            return gemm.describe() + (recurrent == null ? "" : ", weights packed once for x W^T (cached until written), recurrence on packed W_hh, vector pointwise steps") + " (" + why + ")"
                    + (packed instanceof NativeGemm n ? "; packed x W^T by " + n.describe() : "; " + nativeWhy);
        }
    }

    static final String MODULE = "jdk.incubator.vector";

    private static volatile Choice choice;

    static Choice choice() {
        Choice c = choice;
        if (c != null) return c;
        synchronized (GemmKernels.class) {
            if (choice == null) choice = choose();
            return choice;
        }
    }

    /** Whether {@code -Drnn4j.cpu.kernels=java} asked for the plain kernels. */
    static boolean forcedPlain() { return "java".equals(System.getProperty("rnn4j.cpu.kernels")); }

    private static Choice choose() {
        if (forcedPlain())
            return new Choice(new JavaGemm(), "-Drnn4j.cpu.kernels=java");
        if (ModuleLayer.boot().findModule(MODULE).isEmpty())
            return new Choice(new JavaGemm(), MODULE + " is not enabled: run the JVM with --add-modules " + MODULE
                    + " for the vector kernels");
        try {
            Gemm g = (Gemm) Class.forName("dev.rnn4j.backend.cpu.VectorGemm").getDeclaredConstructor().newInstance();
            int lanes = VectorGemm.lanes();
            if (lanes < 8)
                return new Choice(new JavaGemm(), "the CPU's widest float vector has " + lanes
                        + " lanes; the vector kernels need AVX2 or wider");
            Recurrent r = (Recurrent) Class.forName("dev.rnn4j.backend.cpu.VectorRecurrence").getDeclaredConstructor().newInstance();
            return new Choice(g, r, (lanes >= 16 ? "AVX-512" : "AVX2") + " found by the JVM");
        } catch (ReflectiveOperationException | LinkageError e) {
            return new Choice(new JavaGemm(), "vector kernels failed to load: " + e);
        }
    }
}
