/*
 * lstm_pointwise.cl: the fused element-wise step of an LSTM, one work-item per (b, j) of the
 * (B x H) state, e = b*H + j. Gates are (B x 4H), blocks i, f, g, o along each row.
 *
 *   rnn4j_lstm_pointwise_fwd
 *       gates hold pre-activations (both biases added); in place they become
 *       i = sigmoid, f = sigmoid, g = tanh, o = sigmoid; then
 *       c = f * cPrev + i * g, h = o * tanh(c).               (Backend.lstmPointwiseForward)
 *   rnn4j_lstm_pointwise_bwd
 *       from the activated gates, cPrev, c, dh and dcNext (hasDcNext == 0: zero, the pointer
 *       is then not read): dc = dh * o * (1 - tanh(c)^2) + dcNext,
 *       dGates = [dc*g*i(1-i), dc*cPrev*f(1-f), dc*i*(1-g^2), dh*tanh(c)*o(1-o)],
 *       dcPrev = dc * f; dcPrev may alias dcNext exactly.    (Backend.lstmPointwiseBackward)
 *
 * Must match ReferenceBackend.lstmPointwiseForward / lstmPointwiseBackward up to float32
 * rounding. Launch: 1-D, global size >= batch * hidden.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_lstm_pointwise_fwd(i32 batch, i32 hidden, GLOBAL float* gates, i64 gOff,
                                const GLOBAL float* cPrev, i64 cPrevOff, GLOBAL float* c, i64 cOff,
                                GLOBAL float* h, i64 hOff) {
    const i64 e = GLOBAL_ID(0);
    if (e >= (i64) batch * hidden) return;
    const i64 b = e / hidden, j = e % hidden;
    GLOBAL float* row = gates + (gOff + b * 4 * hidden);
    const float ig = rnn4j_sigmoid(row[j]);
    const float fg = rnn4j_sigmoid(row[hidden + j]);
    const float gg = TANHF(row[2 * hidden + j]);
    const float og = rnn4j_sigmoid(row[3 * hidden + j]);
    row[j] = ig;
    row[hidden + j] = fg;
    row[2 * hidden + j] = gg;
    row[3 * hidden + j] = og;
    const float cv = fg * cPrev[cPrevOff + e] + ig * gg;
    c[cOff + e] = cv;
    h[hOff + e] = og * TANHF(cv);
}

KERNEL rnn4j_lstm_pointwise_bwd(i32 batch, i32 hidden, const GLOBAL float* gates, i64 gOff,
                                const GLOBAL float* cPrev, i64 cPrevOff, const GLOBAL float* c, i64 cOff,
                                const GLOBAL float* dh, i64 dhOff,
                                i32 hasDcNext, const GLOBAL float* dcNext, i64 dcNextOff,
                                GLOBAL float* dGates, i64 dgOff, GLOBAL float* dcPrev, i64 dcPrevOff) {
    const i64 e = GLOBAL_ID(0);
    if (e >= (i64) batch * hidden) return;
    const i64 b = e / hidden, j = e % hidden;
    const GLOBAL float* row = gates + (gOff + b * 4 * hidden);
    GLOBAL float* drow = dGates + (dgOff + b * 4 * hidden);
    const float ig = row[j], fg = row[hidden + j], gg = row[2 * hidden + j], og = row[3 * hidden + j];
    const float tc = TANHF(c[cOff + e]);
    const float dhv = dh[dhOff + e];
    const float dc = dhv * og * (1.0f - tc * tc) + (hasDcNext ? dcNext[dcNextOff + e] : 0.0f);
    drow[j] = dc * gg * ig * (1.0f - ig);
    drow[hidden + j] = dc * cPrev[cPrevOff + e] * fg * (1.0f - fg);
    drow[2 * hidden + j] = dc * ig * (1.0f - gg * gg);
    drow[3 * hidden + j] = dhv * tc * og * (1.0f - og);
    dcPrev[dcPrevOff + e] = dc * fg;
}
