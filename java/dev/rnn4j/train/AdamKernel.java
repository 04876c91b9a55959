package dev.rnn4j.train;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.DeviceBuffer;

/**
 * The one step of Adam that the backend primitives cannot express (they have no elementwise
 * square root or division): the update direction out = m / (sqrt(v) / bc2Sqrt + eps).
 * Kept behind this package-private hook so that a fused backend op can replace it without
 * touching the optimizers.
 */
interface AdamKernel {
    /** out[i] = m[i] / (sqrt(v[i]) / bc2Sqrt + eps) for i in [0, n), in float32 as PyTorch computes it. */
    void direction(Backend be, long n, DeviceBuffer m, DeviceBuffer v, float bc2Sqrt, float eps, DeviceBuffer out);

    /** The implementation in use. */
    static AdamKernel get() { return HostAdamKernel.INSTANCE; }

    /**
     * Computes the direction on the host: downloads m and v in chunks, divides in Java and
     * uploads the result. Correct on every backend, at the price of two downloads and one upload
     * per parameter and step.
     */
    final class HostAdamKernel implements AdamKernel {
        static final HostAdamKernel INSTANCE = new HostAdamKernel();
        private static final int CHUNK = 1 << 16;

        private HostAdamKernel() {}

        @Override
        public void direction(Backend be, long n, DeviceBuffer m, DeviceBuffer v, float bc2Sqrt, float eps, DeviceBuffer out) {
            float[] mh = new float[(int) Math.min(n, CHUNK)], vh = new float[mh.length];
            for (long off = 0; off < n; off += CHUNK) {
                int len = (int) Math.min(CHUNK, n - off);
                be.download(m, off, mh, 0, len);
                be.download(v, off, vh, 0, len);
                for (int i = 0; i < len; i++) {
                    float denom = (float) Math.sqrt(vh[i]) / bc2Sqrt + eps;
                    mh[i] = mh[i] / denom;
                }
                be.upload(mh, 0, out, off, len);
            }
        }
    }
}
