/*
 * gru_pointwise.cl: the fused element-wise step of a GRU (PyTorch's formulation, r applied to
 * W_hh h + b_hh), one work-item per (b, j) of the (B x H) state, e = b*H + j.
 * gx = W_ih x + b_ih and gh = W_hh h + b_hh are (B x 3H), blocks r, z, n along each row;
 * saved is (B x 4H), blocks r, z, n, gh_n.
 *
 *   rnn4j_gru_pointwise_fwd
 *       gh here is W_hh h; b_hh (3H, hasBias == 0: zero, the pointer is then not read) is
 *       added to each row, saving a separate bias launch per step.
 *       r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z), n = tanh(gx_n + r * gh_n),
 *       h = (1 - z) * n + z * hPrev; saved = [r, z, n, gh_n] (gh_n biased).
 *                                                          (Backend.gruPointwiseForward)
 *   rnn4j_gru_pointwise_bwd
 *       dn = dh (1-z)(1-n^2), dz = dh (hPrev - n) z(1-z), dr = dn gh_n r(1-r);
 *       dgx = [dr, dz, dn], dgh = [dr, dz, dn * r], dhPrevPartial = dh * z.
 *                                                          (Backend.gruPointwiseBackward)
 *
 * Must match ReferenceBackend.gruPointwiseForward / gruPointwiseBackward up to float32
 * rounding. Launch: 1-D, global size >= batch * hidden.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_gru_pointwise_fwd(i32 batch, i32 hidden, const GLOBAL float* gx, i64 gxOff,
                               const GLOBAL float* gh, i64 ghOff,
                               i32 hasBias, const GLOBAL float* bias, i64 biasOff,
                               const GLOBAL float* hPrev, i64 hPrevOff,
                               GLOBAL float* h, i64 hOff, GLOBAL float* saved, i64 savedOff) {
    const i64 e = GLOBAL_ID(0);
    if (e >= (i64) batch * hidden) return;
    const i64 b = e / hidden, j = e % hidden;
    const GLOBAL float* xr = gx + (gxOff + b * 3 * hidden);
    const GLOBAL float* hr = gh + (ghOff + b * 3 * hidden);
    GLOBAL float* sr = saved + (savedOff + b * 4 * hidden);
    const float br = hasBias ? bias[biasOff + j] : 0.0f;
    const float bz = hasBias ? bias[biasOff + hidden + j] : 0.0f;
    const float bn = hasBias ? bias[biasOff + 2 * hidden + j] : 0.0f;
    const float r = rnn4j_sigmoid(xr[j] + (hr[j] + br));
    const float z = rnn4j_sigmoid(xr[hidden + j] + (hr[hidden + j] + bz));
    const float ghn = hr[2 * hidden + j] + bn;
    const float nv = TANHF(xr[2 * hidden + j] + r * ghn);
    h[hOff + e] = (1.0f - z) * nv + z * hPrev[hPrevOff + e];
    sr[j] = r;
    sr[hidden + j] = z;
    sr[2 * hidden + j] = nv;
    sr[3 * hidden + j] = ghn;
}

KERNEL rnn4j_gru_pointwise_bwd(i32 batch, i32 hidden, const GLOBAL float* saved, i64 savedOff,
                               const GLOBAL float* hPrev, i64 hPrevOff, const GLOBAL float* dh, i64 dhOff,
                               GLOBAL float* dgx, i64 dgxOff, GLOBAL float* dgh, i64 dghOff,
                               GLOBAL float* dhPrevPartial, i64 dhpOff) {
    const i64 e = GLOBAL_ID(0);
    if (e >= (i64) batch * hidden) return;
    const i64 b = e / hidden, j = e % hidden;
    const GLOBAL float* sr = saved + (savedOff + b * 4 * hidden);
    GLOBAL float* xr = dgx + (dgxOff + b * 3 * hidden);
    GLOBAL float* hr = dgh + (dghOff + b * 3 * hidden);
    const float r = sr[j], z = sr[hidden + j], nv = sr[2 * hidden + j], ghn = sr[3 * hidden + j];
    const float d = dh[dhOff + e];
    const float dn = d * (1.0f - z) * (1.0f - nv * nv);
    const float dz = d * (hPrev[hPrevOff + e] - nv) * z * (1.0f - z);
    const float dr = dn * ghn * r * (1.0f - r);
    xr[j] = dr;
    xr[hidden + j] = dz;
    xr[2 * hidden + j] = dn;
    hr[j] = dr;
    hr[hidden + j] = dz;
    hr[2 * hidden + j] = dn * r;
    dhPrevPartial[dhpOff + e] = d * z;
}
