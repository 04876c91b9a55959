/*
 * adam_step.cl: one fused Adam update (Op.AdamStep), for OpenCL and, through rnn4j_compat.h,
 * CUDA.
 *
 *   rnn4j_adam_step   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g;
 *                     p -= stepSize * m / (sqrt(v)/bc2Sqrt + eps),  each i in [0, n)
 *
 * Must match ReferenceBackend.adamStep (float arithmetic in the same order; sqrt and the
 * division may differ from it by the device's rounding only).
 * Launch: 1-D, one work-item per element, global size >= n (extra items return).
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_adam_step(i64 n, float beta1, float beta2, float stepSize, float bc2Sqrt, float eps,
                       const GLOBAL float* g, i64 gOff, GLOBAL float* m, i64 mOff, GLOBAL float* v, i64 vOff,
                       GLOBAL float* p, i64 pOff) {
    i64 i = GLOBAL_ID(0);
    if (i >= n) return;
    float gi = g[gOff + i];
    float mi = beta1 * m[mOff + i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[vOff + i] + (1.0f - beta2) * gi * gi;
    m[mOff + i] = mi;
    v[vOff + i] = vi;
    p[pOff + i] = p[pOff + i] - stepSize * (mi / (SQRTF(vi) / bc2Sqrt + eps));
}
