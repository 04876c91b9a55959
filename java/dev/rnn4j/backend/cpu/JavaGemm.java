package dev.rnn4j.backend.cpu;

/**
 * The plain-Java SGEMM the cpu backend falls back to when the Vector API is not enabled (see
 * {@link GemmKernels}): correct on any JVM, scalar, split over the cores by {@link Parallel}. Each
 * output element is one sum in k order, so the split never changes a result.
 */
final class JavaGemm implements GemmKernels.Gemm {
    @Override public String describe() { return "plain Java, scalar"; }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     float[] A, int ao, int lda, float[] B, int bo, int ldb,
                     float beta, float[] C, int co, int ldc) {
        Parallel.forParts(m, Math.max(1, (1 << 16) / Math.max(1, n * Math.max(1, k))), 1, (i0, i1) -> {
            float[] a = new float[k], acc = new float[transB ? 0 : n];
            for (int i = i0; i < i1; i++) {
                for (int l = 0; l < k; l++) a[l] = transA ? A[ao + l * lda + i] : A[ao + i * lda + l];
                int crow = co + i * ldc;
                if (!transB) {
                    // row by row of B: acc[j] still sums in k order
                    java.util.Arrays.fill(acc, 0f);
                    for (int l = 0; l < k; l++) {
                        float al = a[l];
                        int b = bo + l * ldb;
                        for (int j = 0; j < n; j++) acc[j] += al * B[b + j];
                    }
                }
                for (int j = 0; j < n; j++) {
                    float s = 0f;
                    if (transB) {
                        int b = bo + j * ldb;
                        for (int l = 0; l < k; l++) s += a[l] * B[b + l];
                    } else s = acc[j];
                    C[crow + j] = beta == 0f ? alpha * s : alpha * s + beta * C[crow + j];
                }
            }
        });
    }
}
