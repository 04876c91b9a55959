/*
 * rnn_pointwise.cl: the element-wise step of an Elman RNN (tanh or relu).
 *
 *   rnn4j_rnn_pointwise_fwd  h[hOff + i] = act(pre[preOff + i]), i in [0, n), n = B*H
 *                                                        (Backend.rnnPointwiseForward)
 *   rnn4j_rnn_pointwise_bwd  dpre[i] = dh[i] * act'(h[i]) from the forward OUTPUT h:
 *                            tanh' = 1 - h^2, relu' = h > 0 ? 1 : 0, identity' = 1;
 *                            dpre may alias dh exactly.  (Backend.rnnPointwiseBackward)
 *
 * act is an activation code (0 identity, 1 tanh, 2 relu). Must match
 * ReferenceBackend.rnnPointwiseForward / rnnPointwiseBackward up to float32 rounding.
 * Launch: 1-D, one work-item per element, global size >= n.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_rnn_pointwise_fwd(i32 act, i64 n, const GLOBAL float* pre, i64 preOff, GLOBAL float* h, i64 hOff) {
    i64 i = GLOBAL_ID(0);
    if (i < n) h[hOff + i] = rnn4j_activate(act, pre[preOff + i]);
}

KERNEL rnn4j_rnn_pointwise_bwd(i32 act, i64 n, const GLOBAL float* h, i64 hOff,
                               const GLOBAL float* dh, i64 dhOff, GLOBAL float* dpre, i64 dpreOff) {
    i64 i = GLOBAL_ID(0);
    if (i >= n) return;
    float y = h[hOff + i];
    float g = act == RNN4J_ACT_TANH ? 1.0f - y * y : (act == RNN4J_ACT_RELU ? (y > 0.0f ? 1.0f : 0.0f) : 1.0f);
    dpre[dpreOff + i] = dh[dhOff + i] * g;
}
