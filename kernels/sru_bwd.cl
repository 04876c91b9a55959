/*
 * sru_bwd.cl: the SRU backward pass (v1 and sru 2.x) over a whole layer (every direction),
 * fused. One work-item per (batch row b, column col), walking its direction's valid steps in
 * reverse forward order and carrying d(loss)/d(c) from step to step.
 *
 *   rnn4j_sru_bwd
 *     Inputs as rnn4j_sru_fwd (u, x, bias, c0/hasC0, mask/hasMask, weightC/hasWc, scale, skip,
 *     maskOnGate, lengths/hasLen) plus
 *       c      (T, B, D*d)  the c saved by the forward pass
 *       dh     (T, B, D*d)  gradient w.r.t. h
 *       dcLast (B, D*d)     gradient w.r.t. cLast (hasDcLast == 0: zero, not read)
 *     Per valid step, with gc the carried gradient of c, m the mask, x' the skip input:
 *       dx'   = dh (1 - r)        (v1)     dh (1 - m r)   (maskOnGate)     0   (no skip)
 *       dr~   = dh (act(c_t) m - x') r (1 - r)            (x' m with maskOnGate, 0 without skip)
 *       dc    = dh r m act'(c_t) + gc
 *       df~   = dc (c_{t-1} - u~) f (1 - f)
 *       du[e*K + 0..2] = [dc (1 - f), df~, dr~];  dx' goes to du[e*K+3] (K == 4) or
 *                        scale * dx' to dx[e] (K == 3 with skip)
 *       gc    = dc f + df~ w_f + dr~ w_r
 *     Padded steps: du = 0, dx = 0, gc passes through (c_t = c_{t-1} there).
 *     Outputs: du (T, B, D*d*K), dx (T, B, D*d) (written only when x is read), dBias and dWc
 *     (B, 2*D*d) per-row partial gradients [sum df~ | sum dr~] and [sum df~ c_{t-1} | sum dr~
 *     c_{t-1}] (dWc written only when hasWc), dc0 (B, D*d) = the final gc.   (Op.SruBackward)
 *
 * As in sru_fwd.cl the walk advances pointers by one step's stride and loads the next step's
 * inputs before it computes the current one. Must match ReferenceBackend.sruBackward up to
 * float32 rounding. Launch: 1-D, global size >= batch*dirs*hidden.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_sru_bwd(i32 seqLen, i32 batch, i32 hidden, i32 dirs, i32 k, i32 act,
                     const GLOBAL float* RESTRICT u, i64 uOff, const GLOBAL float* RESTRICT x, i64 xOff,
                     const GLOBAL float* RESTRICT bias, i64 biasOff,
                     i32 hasC0, const GLOBAL float* RESTRICT c0, i64 c0Off,
                     i32 hasMask, const GLOBAL float* RESTRICT mask, i64 maskOff,
                     i32 hasWc, const GLOBAL float* RESTRICT weightC, i64 wcOff,
                     float scale, i32 skip, i32 maskOnGate, i32 hasLen, const GLOBAL i32* RESTRICT lengths,
                     const GLOBAL float* RESTRICT c, i64 cOff, const GLOBAL float* RESTRICT dh, i64 dhOff,
                     i32 hasDcLast, const GLOBAL float* RESTRICT dcLast, i64 dcLastOff,
                     GLOBAL float* RESTRICT du, i64 duOff, GLOBAL float* RESTRICT dx, i64 dxOff,
                     GLOBAL float* RESTRICT dBias, i64 dBiasOff, GLOBAL float* RESTRICT dWc, i64 dWcOff,
                     GLOBAL float* RESTRICT dc0, i64 dc0Off) {
    const i64 ncols = (i64) dirs * hidden;
    const i64 id = GLOBAL_ID(0);
    if (id >= (i64) batch * ncols) return;
    const i64 b = id / ncols, col = id % ncols;
    const int reverse = col >= hidden;
    const i32 len = hasLen ? lengths[b] : seqLen;
    const int readsX = skip && k == 3;
    const float bf = bias[biasOff + col], br = bias[biasOff + ncols + col];
    const float wf = hasWc ? weightC[wcOff + col] : 0.0f, wr = hasWc ? weightC[wcOff + ncols + col] : 0.0f;
    const float mk = hasMask ? mask[maskOff + id] : 1.0f;
    const float init = hasC0 ? c0[c0Off + id] : 0.0f;
    const i64 step = (i64) batch * ncols;
    float gc = hasDcLast ? dcLast[dcLastOff + id] : 0.0f;
    float dbf = 0.0f, dbr = 0.0f, dwf = 0.0f, dwr = 0.0f;
    for (i32 t = len; t < seqLen; t++) {                /* padded steps: no gradient */
        const i64 e = (i64) t * step + id;
        GLOBAL float* de = du + (duOff + e * k);
        for (i32 m = 0; m < k; m++) de[m] = 0.0f;
        if (readsX) dx[dxOff + e] = 0.0f;
    }
    if (len > 0) {
        /* Start at the last step the forward walk visited; dstep moves to the one before it. */
        const i64 dstep = reverse ? step : -step;
        const i64 eL = (reverse ? 0 : (i64) len - 1) * step + id;
        const GLOBAL float* up = u + (uOff + eL * k);
        const GLOBAL float* xp = readsX ? x + (xOff + eL) : x;
        const GLOBAL float* cp = c + (cOff + eL);
        const GLOBAL float* dhp = dh + (dhOff + eL);
        GLOBAL float* dp = du + (duOff + eL * k);
        GLOBAL float* dxp = readsX ? dx + (dxOff + eL) : dx;
        const i64 ustep = dstep * k;
        float n0 = up[0], n1 = up[1], n2 = up[2];
        float n3 = k == 4 ? up[3] : (readsX ? *xp : 0.0f);
        float nc = *cp, ng = *dhp;
        for (i32 s = len - 1; s >= 0; s--) {
            const float u0 = n0, u1 = n1, u2 = n2, xr = n3, cur = nc, g = ng;
            float cPrev = init;
            if (s > 0) {                                    /* prefetch the step before */
                up += ustep;
                cp += dstep;
                dhp += dstep;
                n0 = up[0]; n1 = up[1]; n2 = up[2];
                if (k == 4) n3 = up[3];
                else if (readsX) { xp += dstep; n3 = *xp; }
                nc = *cp;
                ng = *dhp;
                cPrev = nc;
            }
            const float f = rnn4j_sigmoid(u1 + wf * cPrev + bf);
            const float r = rnn4j_sigmoid(u2 + wr * cPrev + br);
            const float gcur = rnn4j_activate(act, cur);
            const float xh = !skip ? 0.0f : (k == 3 ? scale * xr : xr);

            const float dxh = !skip ? 0.0f : g * (1.0f - (maskOnGate ? r * mk : r));
            const float drPre = g * (gcur * mk - (maskOnGate ? xh * mk : xh)) * r * (1.0f - r);
            const float dc = g * r * mk * rnn4j_activate_grad(act, cur) + gc;
            const float dfPre = dc * (cPrev - u0) * f * (1.0f - f);

            dp[0] = dc * (1.0f - f);
            dp[1] = dfPre;
            dp[2] = drPre;
            if (k == 4) dp[3] = dxh;
            else if (readsX) *dxp = scale * dxh;
            if (s > 0) {                                    /* never before the walk's first step */
                dp += ustep;
                if (readsX) dxp += dstep;
            }
            dbf += dfPre;
            dbr += drPre;
            dwf += dfPre * cPrev;
            dwr += drPre * cPrev;
            gc = dc * f + dfPre * wf + drPre * wr;
        }
    }
    dc0[dc0Off + id] = gc;
    dBias[dBiasOff + b * 2 * ncols + col] = dbf;
    dBias[dBiasOff + b * 2 * ncols + ncols + col] = dbr;
    if (hasWc) {
        dWc[dWcOff + b * 2 * ncols + col] = dwf;
        dWc[dWcOff + b * 2 * ncols + ncols + col] = dwr;
    }
}
