/*
 * dropout_mask.cl: dropout masks from the counter-based generator.
 *
 *   rnn4j_dropout_mask  out[outOff + i] = keep(i) ? scale : 0, i in [0, n), n <= 2^32,
 *                       keep(i) = ((bits(i) >> 8) * 2^-24 >= p), scale = 1/(1-p) computed by
 *                       the host in float32, and bits(i) the 32-bit hash of
 *                       dev.rnn4j.backend.DropoutRng.bits with the seed split into the keys
 *                       k0 = low 32 bits, k1 = high 32 bits.          (Backend.dropoutMask)
 *
 * Must match ReferenceBackend.dropoutMask bit for bit: all arithmetic is on 32-bit unsigned
 * integers (wrapping multiply and add), and (bits >> 8) * 2^-24 is exact in float32.
 * Launch: 1-D, one work-item per element, global size >= n.
 */
#include "rnn4j_compat.h"

/* The "lowbias32" integer finaliser: xorshift-multiply, two rounds. */
DEVICE_FN u32 rnn4j_dropout_mix(u32 x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

KERNEL rnn4j_dropout_mask(i64 n, float p, float scale, u32 k0, u32 k1, GLOBAL float* out, i64 outOff) {
    i64 i = GLOBAL_ID(0);
    if (i >= n) return;
    u32 a = rnn4j_dropout_mix(((u32) i) ^ k0);
    u32 bits = rnn4j_dropout_mix(a + k1 + 0x9e3779b9u);
    float u = (float) (bits >> 8) * 5.9604644775390625e-8f; /* 2^-24 */
    out[outOff + i] = u >= p ? scale : 0.0f;
}
