/*
 * layer_norm.cl: layer normalisation over the last dimension (PyTorch's nn.LayerNorm, biased
 * variance), forward and backward, for the SRU 2.x layer_norm option.
 *
 *   rnn4j_layer_norm_fwd        one work-item per row of x (rows x cols):
 *       mean, rstd = 1/sqrt(var + eps);  y = (x - mean) * rstd * gamma + beta
 *       stats (rows x 2) = [mean, rstd]; gamma/beta absent (hasGamma/hasBeta 0): 1 and 0.
 *   rnn4j_layer_norm_bwd_dx     one work-item per row: with xhat = (x - mean) * rstd and
 *       dxhat = dy * gamma, dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
 *       dx may alias dy (each item reads its row fully before it writes it).
 *   rnn4j_layer_norm_bwd_params one work-item per column: dGamma = sum_rows dy * xhat,
 *       dBeta = sum_rows dy (each written when its flag is set). Runs before bwd_dx because
 *       dx may overwrite dy.                   (Op.LayerNormForward, Op.LayerNormBackward)
 *
 * Must match ReferenceBackend.layerNormForward / layerNormBackward up to float32 rounding.
 * Launch: 1-D; global size >= rows (fwd, bwd_dx) or >= cols (bwd_params).
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_layer_norm_fwd(i32 rows, i32 cols, float eps, const GLOBAL float* RESTRICT x, i64 xOff,
                            i32 hasGamma, const GLOBAL float* RESTRICT gamma, i64 gammaOff,
                            i32 hasBeta, const GLOBAL float* RESTRICT beta, i64 betaOff,
                            GLOBAL float* y, i64 yOff, GLOBAL float* RESTRICT stats, i64 statsOff) {
    const i64 i = GLOBAL_ID(0);
    if (i >= rows) return;
    const GLOBAL float* xr = x + (xOff + i * cols);
    GLOBAL float* yr = y + (yOff + i * cols);
    float sum = 0.0f;
    for (i32 j = 0; j < cols; j++) sum += xr[j];
    const float mean = sum / cols;
    float var = 0.0f;
    for (i32 j = 0; j < cols; j++) { const float dv = xr[j] - mean; var += dv * dv; }
    const float rstd = 1.0f / sqrt(var / cols + eps);
    for (i32 j = 0; j < cols; j++) {
        float v = (xr[j] - mean) * rstd;
        if (hasGamma) v *= gamma[gammaOff + j];
        if (hasBeta) v += beta[betaOff + j];
        yr[j] = v;
    }
    stats[statsOff + 2 * i] = mean;
    stats[statsOff + 2 * i + 1] = rstd;
}

KERNEL rnn4j_layer_norm_bwd_dx(i32 rows, i32 cols, const GLOBAL float* RESTRICT x, i64 xOff,
                               i32 hasGamma, const GLOBAL float* RESTRICT gamma, i64 gammaOff,
                               const GLOBAL float* RESTRICT stats, i64 statsOff,
                               const GLOBAL float* dy, i64 dyOff, GLOBAL float* dx, i64 dxOff) {
    const i64 i = GLOBAL_ID(0);
    if (i >= rows) return;
    const GLOBAL float* xr = x + (xOff + i * cols);
    const GLOBAL float* dyr = dy + (dyOff + i * cols);
    GLOBAL float* dxr = dx + (dxOff + i * cols);
    const float mean = stats[statsOff + 2 * i], rstd = stats[statsOff + 2 * i + 1];
    float m1 = 0.0f, m2 = 0.0f;
    for (i32 j = 0; j < cols; j++) {
        const float d = dyr[j] * (hasGamma ? gamma[gammaOff + j] : 1.0f);
        m1 += d;
        m2 += d * (xr[j] - mean) * rstd;
    }
    m1 /= cols;
    m2 /= cols;
    for (i32 j = 0; j < cols; j++) {
        const float d = dyr[j] * (hasGamma ? gamma[gammaOff + j] : 1.0f);
        dxr[j] = rstd * (d - m1 - (xr[j] - mean) * rstd * m2);
    }
}

KERNEL rnn4j_layer_norm_bwd_params(i32 rows, i32 cols, const GLOBAL float* RESTRICT x, i64 xOff,
                                   const GLOBAL float* RESTRICT stats, i64 statsOff,
                                   const GLOBAL float* RESTRICT dy, i64 dyOff,
                                   i32 hasDGamma, GLOBAL float* RESTRICT dGamma, i64 dGammaOff,
                                   i32 hasDBeta, GLOBAL float* RESTRICT dBeta, i64 dBetaOff) {
    const i64 j = GLOBAL_ID(0);
    if (j >= cols) return;
    float dg = 0.0f, db = 0.0f;
    for (i32 i = 0; i < rows; i++) {
        const float d = dy[dyOff + (i64) i * cols + j];
        dg += d * (x[xOff + (i64) i * cols + j] - stats[statsOff + 2 * (i64) i]) * stats[statsOff + 2 * (i64) i + 1];
        db += d;
    }
    if (hasDGamma) dGamma[dGammaOff + j] = dg;
    if (hasDBeta) dBeta[dBetaOff + j] = db;
}
