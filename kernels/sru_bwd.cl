/*
 * sru_bwd.cl: the SRU v1 backward pass over a whole layer (every direction), fused.
 * One work-item per (batch row b, column col), walking its direction's time order in
 * reverse and carrying d(loss)/d(c) from step to step.
 *
 *   rnn4j_sru_bwd
 *     Inputs as rnn4j_sru_fwd (u, x, bias, c0/hasC0, mask/hasMask) plus
 *       c      (T, B, D*d)  the c saved by the forward pass
 *       dh     (T, B, D*d)  gradient w.r.t. h
 *       dcLast (B, D*d)     gradient w.r.t. cLast (hasDcLast == 0: zero, not read)
 *     Per step, visited in reverse forward order, with gc the carried gradient of c:
 *       dx'   = dh (1 - r)
 *       dr~   = dh (act(c_t) mask - x') r (1 - r)
 *       dc    = dh r mask act'(c_t) + gc
 *       df~   = dc (c_{t-1} - u~) f (1 - f)
 *       du[e*K + 0..2] = [dc (1 - f), df~, dr~];  dx' goes to du[e*K+3] (K == 4) or dx[e] (K == 3)
 *       gc    = dc f
 *     Outputs: du (T, B, D*d*K), dx (T, B, D*d) (written only when K == 3), dBias (B, 2*D*d)
 *     per-row partial bias gradients [sum df~ | sum dr~], dc0 (B, D*d) = the final gc.
 *                                                                (Backend.sruBackward)
 *
 * Must match ReferenceBackend.sruBackward up to float32 rounding.
 * Launch: 1-D, global size >= batch*dirs*hidden.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_sru_bwd(i32 seqLen, i32 batch, i32 hidden, i32 dirs, i32 k, i32 act,
                     const GLOBAL float* u, i64 uOff, const GLOBAL float* x, i64 xOff,
                     const GLOBAL float* bias, i64 biasOff,
                     i32 hasC0, const GLOBAL float* c0, i64 c0Off,
                     i32 hasMask, const GLOBAL float* mask, i64 maskOff,
                     const GLOBAL float* c, i64 cOff, const GLOBAL float* dh, i64 dhOff,
                     i32 hasDcLast, const GLOBAL float* dcLast, i64 dcLastOff,
                     GLOBAL float* du, i64 duOff, GLOBAL float* dx, i64 dxOff,
                     GLOBAL float* dBias, i64 dBiasOff, GLOBAL float* dc0, i64 dc0Off) {
    const i64 ncols = (i64) dirs * hidden;
    const i64 id = GLOBAL_ID(0);
    if (id >= (i64) batch * ncols) return;
    const i64 b = id / ncols, col = id % ncols;
    const int reverse = col >= hidden;
    const float bf = bias[biasOff + col], br = bias[biasOff + ncols + col];
    const float mk = hasMask ? mask[maskOff + id] : 1.0f;
    const float init = hasC0 ? c0[c0Off + id] : 0.0f;
    float gc = hasDcLast ? dcLast[dcLastOff + id] : 0.0f;
    float dbf = 0.0f, dbr = 0.0f;
    for (i32 s = seqLen - 1; s >= 0; s--) {
        const i64 t = reverse ? seqLen - 1 - s : s;
        const i64 e = (t * batch + b) * ncols + col;
        const GLOBAL float* ue = u + (uOff + e * k);
        const float cPrev = s == 0 ? init : c[cOff + ((reverse ? t + 1 : t - 1) * batch + b) * ncols + col];
        const float f = rnn4j_sigmoid(ue[1] + bf);
        const float r = rnn4j_sigmoid(ue[2] + br);
        const float cur = c[cOff + e];
        const float gcur = rnn4j_activate(act, cur);
        const float xh = k == 3 ? x[xOff + e] : ue[3];
        const float g = dh[dhOff + e];

        const float dxh = g * (1.0f - r);
        const float drPre = g * (gcur * mk - xh) * r * (1.0f - r);
        const float dc = g * r * mk * rnn4j_activate_grad(act, cur) + gc;
        const float dfPre = dc * (cPrev - ue[0]) * f * (1.0f - f);

        GLOBAL float* de = du + (duOff + e * k);
        de[0] = dc * (1.0f - f);
        de[1] = dfPre;
        de[2] = drPre;
        if (k == 4) de[3] = dxh;
        else dx[dxOff + e] = dxh;
        dbf += dfPre;
        dbr += drPre;
        gc = dc * f;
    }
    dc0[dc0Off + id] = gc;
    dBias[dBiasOff + b * 2 * ncols + col] = dbf;
    dBias[dBiasOff + b * 2 * ncols + ncols + col] = dbr;
}
