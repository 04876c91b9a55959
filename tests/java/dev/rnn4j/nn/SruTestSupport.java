package dev.rnn4j.nn;

/** A plain double-precision SRU written straight from the conformance README's equations, for the SRU tests. */
final class SruTestSupport {
    private SruTestSupport() {}

    /**
     * One SRU v1 layer in double, straight from the README's equations. maskX (B, nIn) is applied
     * to the input of the projection, and also to the highway input when {@code highwayDropped}
     * (the wrong behaviour, to show the test can tell); maskH (B, D*d) scales g(c). Null masks
     * mean none. Returns {h (T*B*D*d), cLast (B*D*d)}.
     */
    static double[][] naiveLayer(float[] x, int seqLen, int batch, int nIn, float[] w, float[] bias, float[] c0,
                                 int d, int dirs, int act, float[] maskX, float[] maskH, boolean highwayDropped) {
        int out = dirs * d, k = nIn != out ? 4 : 3, cols = out * k;
        double[] xd = new double[x.length];
        for (int i = 0; i < x.length; i++) xd[i] = maskX == null ? x[i] : (double) x[i] * maskX[i % (batch * nIn)];
        double[] u = new double[seqLen * batch * cols];
        for (int r = 0; r < seqLen * batch; r++)
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int i = 0; i < nIn; i++) s += xd[r * nIn + i] * w[i * cols + j];
                u[r * cols + j] = s;
            }
        double[] h = new double[seqLen * batch * out], cLast = new double[batch * out];
        for (int b = 0; b < batch; b++)
            for (int dir = 0; dir < dirs; dir++)
                for (int j = 0; j < d; j++) {
                    int col = dir * d + j;
                    double c = c0 == null ? 0 : c0[b * out + col];
                    double m = maskH == null ? 1 : maskH[b * out + col];
                    for (int s = 0; s < seqLen; s++) {
                        int t = dir == 0 ? s : seqLen - 1 - s;
                        int ub = ((t * batch + b) * out + col) * k;
                        double f = sig(u[ub + 1] + bias[col]);
                        double rr = sig(u[ub + 2] + bias[out + col]);
                        c = f * c + (1 - f) * u[ub];
                        double g = act == 0 ? c : act == 1 ? Math.tanh(c) : Math.max(c, 0);
                        double xp;
                        if (k == 4) xp = u[ub + 3];
                        else {
                            int xi = (t * batch + b) * nIn + col;
                            xp = highwayDropped ? xd[xi] : x[xi];
                        }
                        h[(t * batch + b) * out + col] = rr * g * m + (1 - rr) * xp;
                    }
                    cLast[b * out + col] = c;
                }
        return new double[][] {h, cLast};
    }

    static double sig(double v) { return 1 / (1 + Math.exp(-v)); }

    static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }
}
