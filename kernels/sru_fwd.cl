/*
 * sru_fwd.cl: the SRU v1 recurrence over a whole layer (every direction), fused.
 * One work-item per (batch row b, column col) with col in [0, D*d): columns [0, d) run
 * forward in time, columns [d, 2d) (the reverse direction when dirs == 2) run backward.
 *
 *   rnn4j_sru_fwd
 *     Shapes (row-major, each at its element offset):
 *       u     (T, B, D*d*K)  X W, the K values of each column interleaved: u~, f, r[, x']
 *       x     (T, B, D*d)    layer input, the highway x' when K == 3 (not read when K == 4)
 *       bias  (2*D*d)        [forget bias | highway (reset) bias]
 *       c0    (B, D*d)       initial c (hasC0 == 0: zeros, not read)
 *       mask  (B, D*d)       dropout mask on g(c) (hasMask == 0: ones, not read)
 *     Per time step t in the column's direction, with e = (t*B + b)*D*d + col:
 *       f = sigmoid(u[e*K+1] + bias_f), r = sigmoid(u[e*K+2] + bias_r)
 *       c_t = f * c_{t-1} + (1 - f) * u[e*K]
 *       h_t = r * act(c_t) * mask + (1 - r) * x'      (x' = x[e] if K == 3 else u[e*K+3])
 *     Outputs: h (T, B, D*d), c (T, B, D*d) every step's c, cLast (B, D*d) the last c of the
 *     walk (c at t = T-1 forward, at t = 0 reverse).              (Backend.sruForward)
 *
 * act: 0 identity, 1 tanh, 2 relu. Must match ReferenceBackend.sruForward up to float32
 * rounding (the reference carries c in double). Launch: 1-D, global size >= batch*dirs*hidden.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_sru_fwd(i32 seqLen, i32 batch, i32 hidden, i32 dirs, i32 k, i32 act,
                     const GLOBAL float* u, i64 uOff, const GLOBAL float* x, i64 xOff,
                     const GLOBAL float* bias, i64 biasOff,
                     i32 hasC0, const GLOBAL float* c0, i64 c0Off,
                     i32 hasMask, const GLOBAL float* mask, i64 maskOff,
                     GLOBAL float* h, i64 hOff, GLOBAL float* c, i64 cOff, GLOBAL float* cLast, i64 cLastOff) {
    const i64 ncols = (i64) dirs * hidden;
    const i64 id = GLOBAL_ID(0);
    if (id >= (i64) batch * ncols) return;
    const i64 b = id / ncols, col = id % ncols;
    const int reverse = col >= hidden;
    const float bf = bias[biasOff + col], br = bias[biasOff + ncols + col];
    const float mk = hasMask ? mask[maskOff + id] : 1.0f;
    float cur = hasC0 ? c0[c0Off + id] : 0.0f;
    for (i32 s = 0; s < seqLen; s++) {
        const i64 t = reverse ? seqLen - 1 - s : s;
        const i64 e = (t * batch + b) * ncols + col;
        const GLOBAL float* ue = u + (uOff + e * k);
        const float f = rnn4j_sigmoid(ue[1] + bf);
        const float r = rnn4j_sigmoid(ue[2] + br);
        cur = f * cur + (1.0f - f) * ue[0];
        const float xh = k == 3 ? x[xOff + e] : ue[3];
        c[cOff + e] = cur;
        h[hOff + e] = r * rnn4j_activate(act, cur) * mk + (1.0f - r) * xh;
    }
    cLast[cLastOff + id] = cur;
}
