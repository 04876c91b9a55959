/*
 * log_softmax_nll.cl: fused log-softmax and negative log-likelihood over the rows of a
 * (rows x classes) logits matrix, one work-group per row.
 *
 *   rnn4j_log_softmax_nll
 *       For row i, with x = logits[lOff + i*classes ...], t = targets[i] (checked by the host):
 *         mx = max_j x_j, s = sum_j exp(x_j - mx), logZ = mx + log(s)
 *         loss[i] = logZ - x_t                      (the host sums loss[] in double)
 *         if hasGrad: dLogits[dOff + i*classes + j] = gradScale * (exp(x_j - logZ) - [j == t])
 *       dLogits may alias logits exactly: every work-item rewrites only the elements it read,
 *       after the reductions that read the whole row have finished.   (Backend.logSoftmaxNll)
 *
 * Must match ReferenceBackend.logSoftmaxNll up to float32 rounding.
 * Launch: 1-D, local size RNN4J_TILE*RNN4J_TILE, global = rows * local (group g = row g).
 */
#include "rnn4j_compat.h"

#define RNN4J_LSM_LOCAL (RNN4J_TILE * RNN4J_TILE)

KERNEL rnn4j_log_softmax_nll(i32 rows, i32 classes, const GLOBAL float* logits, i64 lOff, const GLOBAL i32* targets,
                             i32 hasGrad, float gradScale, GLOBAL float* dLogits, i64 dOff, GLOBAL float* loss) {
    SHARED float red[RNN4J_LSM_LOCAL];
    const i64 row = GROUP_ID(0);
    const i32 lid = LOCAL_ID(0);
    /* the host launches exactly one group per row; no early exit, so every item meets every barrier */
    const GLOBAL float* x = logits + (lOff + row * classes);

    float mx = -RNN4J_INF;
    for (i32 j = lid; j < classes; j += RNN4J_LSM_LOCAL) mx = x[j] > mx ? x[j] : mx;
    red[lid] = mx;
    SYNC_THREADS();
    for (i32 width = RNN4J_LSM_LOCAL / 2; width > 0; width >>= 1) {
        if (lid < width && red[lid + width] > red[lid]) red[lid] = red[lid + width];
        SYNC_THREADS();
    }
    mx = red[0];
    SYNC_THREADS();

    float s = 0.0f;
    for (i32 j = lid; j < classes; j += RNN4J_LSM_LOCAL) s += EXPF(x[j] - mx);
    red[lid] = s;
    SYNC_THREADS();
    for (i32 width = RNN4J_LSM_LOCAL / 2; width > 0; width >>= 1) {
        if (lid < width) red[lid] += red[lid + width];
        SYNC_THREADS();
    }
    const float logZ = mx + LOGF(red[0]);
    const i32 t = targets[row];
    const float xt = x[t];
    SYNC_THREADS(); /* x[t] is read by all before anyone may overwrite it (dLogits aliasing logits) */
    if (lid == 0) loss[row] = (mx - xt) + LOGF(red[0]);
    if (hasGrad) {
        GLOBAL float* g = dLogits + (dOff + row * classes);
        for (i32 j = lid; j < classes; j += RNN4J_LSM_LOCAL) {
            float p = EXPF(x[j] - logZ);
            g[j] = gradScale * (j == t ? p - 1.0f : p);
        }
    }
}
