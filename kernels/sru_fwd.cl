/*
 * sru_fwd.cl: the SRU recurrence (v1 and sru 2.x) over a whole layer (every direction), fused.
 * One work-item per (batch row b, column col) with col in [0, D*d): columns [0, d) run
 * forward in time, columns [d, 2d) (the reverse direction when dirs == 2) run backward.
 *
 *   rnn4j_sru_fwd
 *     Shapes (row-major, each at its element offset):
 *       u       (T, B, D*d*K)  X W, the K values of each column interleaved: u~, f, r[, x']
 *       x       (T, B, D*d)    layer input, the skip input when K == 3 and skip (else not read)
 *       bias    (2*D*d)        [forget bias | highway (reset) bias]
 *       c0      (B, D*d)       initial c (hasC0 == 0: zeros, not read)
 *       mask    (B, D*d)       dropout mask (hasMask == 0: ones, not read)
 *       weightC (2*D*d)        peepholes [w_f | w_r] (hasWc == 0: zeros, not read)
 *       lengths (B) ints       valid steps per row, 1..T (hasLen == 0: all T, not read)
 *     Per valid step t in the column's direction, with e = (t*B + b)*D*d + col:
 *       f = sigmoid(u[e*K+1] + w_f c_{t-1} + bias_f), r = sigmoid(u[e*K+2] + w_r c_{t-1} + bias_r)
 *       c_t = f * c_{t-1} + (1 - f) * u[e*K]
 *       x'  = scale * x[e] (K == 3) or u[e*K+3] (K == 4)
 *       h_t = r * act(c_t) * mask + (1 - r) * x'     (skip, maskOnGate == 0: v1)
 *       h_t = x' + (act(c_t) - x') * mask * r        (skip, maskOnGate == 1: sru 2.x)
 *       h_t = r * act(c_t) * mask                    (no skip term)
 *     Padded steps (t >= lengths[b], sru's mask_pad): c keeps its value, h = 0; the reverse
 *     direction therefore starts at t = lengths[b] - 1.
 *     Outputs: h (T, B, D*d), c (T, B, D*d) every step's c, cLast (B, D*d) the last c of the
 *     walk (c after the last valid step forward, at t = 0 reverse).       (Op.SruForward)
 *
 * The walk advances pointers by one step's stride, so no step does 64-bit index products, and
 * it loads the next step's inputs before it computes the current one (the loads do not
 * depend on the recurrence, so their latency overlaps the arithmetic).
 *
 * act: 0 identity, 1 tanh, 2 relu. Must match ReferenceBackend.sruForward up to float32
 * rounding (the reference carries c in double). Launch: 1-D, global size >= batch*dirs*hidden.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_sru_fwd(i32 seqLen, i32 batch, i32 hidden, i32 dirs, i32 k, i32 act,
                     const GLOBAL float* RESTRICT u, i64 uOff, const GLOBAL float* RESTRICT x, i64 xOff,
                     const GLOBAL float* RESTRICT bias, i64 biasOff,
                     i32 hasC0, const GLOBAL float* RESTRICT c0, i64 c0Off,
                     i32 hasMask, const GLOBAL float* RESTRICT mask, i64 maskOff,
                     i32 hasWc, const GLOBAL float* RESTRICT weightC, i64 wcOff,
                     float scale, i32 skip, i32 maskOnGate, i32 hasLen, const GLOBAL i32* RESTRICT lengths,
                     GLOBAL float* RESTRICT h, i64 hOff, GLOBAL float* RESTRICT c, i64 cOff,
                     GLOBAL float* RESTRICT cLast, i64 cLastOff) {
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
    float cur = init;
    const i64 step = (i64) batch * ncols;               /* elements between consecutive times */
    if (len > 0) {
        const i64 dstep = reverse ? -step : step;
        const i64 e0 = (reverse ? (i64) len - 1 : 0) * step + id;
        const GLOBAL float* up = u + (uOff + e0 * k);
        const GLOBAL float* xp = readsX ? x + (xOff + e0) : x;
        GLOBAL float* hp = h + (hOff + e0);
        GLOBAL float* cp = c + (cOff + e0);
        const i64 ustep = dstep * k;
        float n0 = up[0], n1 = up[1], n2 = up[2];
        float n3 = k == 4 ? up[3] : (readsX ? *xp : 0.0f);
        for (i32 s = 0; s < len; s++) {
            const float u0 = n0, u1 = n1, u2 = n2, xr = n3;
            if (s + 1 < len) {                              /* prefetch the next step */
                up += ustep;
                n0 = up[0]; n1 = up[1]; n2 = up[2];
                if (k == 4) n3 = up[3];
                else if (readsX) { xp += dstep; n3 = *xp; }
            }
            const float f = rnn4j_sigmoid(u1 + wf * cur + bf);
            const float r = rnn4j_sigmoid(u2 + wr * cur + br);
            cur = f * cur + (1.0f - f) * u0;
            const float g = rnn4j_activate(act, cur);
            const float xh = !skip ? 0.0f : (k == 3 ? scale * xr : xr);
            float hv;
            if (!skip) hv = r * g * mk;
            else if (maskOnGate) hv = xh + (g - xh) * mk * r;
            else hv = r * g * mk + (1.0f - r) * xh;
            *cp = cur;
            *hp = hv;
            if (s + 1 < len) {                              /* never past the walk's last step */
                cp += dstep;
                hp += dstep;
            }
        }
    }
    /* mask_pad: the padded steps keep c (init for the reverse walk, which has not started) and h = 0 */
    const float frozen = reverse ? init : cur;
    for (i32 t = len; t < seqLen; t++) {
        const i64 e = (i64) t * step + id;
        c[cOff + e] = frozen;
        h[hOff + e] = 0.0f;
    }
    cLast[cLastOff + id] = cur;
}
