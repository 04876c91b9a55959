/*
 * copy.cl: data movement inside device memory.
 *
 *   rnn4j_copy   dst[dstOff + i] = src[srcOff + i], i in [0, n)            (Backend.copy)
 *   rnn4j_copy2d dst[dstOff + r*dstLd + c] = src[srcOff + r*srcLd + c],
 *                r in [0, rows), c in [0, cols)                              (Backend.copy2d)
 *   rnn4j_fill   x[xOff + i] = value, i in [0, n)                            (Backend.fill)
 *
 * Must match ReferenceBackend.copy, copy2d and fill exactly (bit for bit).
 * Launch: copy and fill 1-D, one work-item per element, global size >= n (extra items
 * return); copy2d 2-D, dimension 0 over cols and 1 over rows, global sizes >= (cols, rows).
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_copy(i64 n, const GLOBAL float* src, i64 srcOff, GLOBAL float* dst, i64 dstOff) {
    i64 i = GLOBAL_ID(0);
    if (i < n) dst[dstOff + i] = src[srcOff + i];
}

KERNEL rnn4j_copy2d(i32 rows, i32 cols, const GLOBAL float* src, i64 srcOff, i32 srcLd,
                    GLOBAL float* dst, i64 dstOff, i32 dstLd) {
    i64 c = GLOBAL_ID(0), r = GLOBAL_ID(1);
    if (c < cols && r < rows) dst[dstOff + r * dstLd + c] = src[srcOff + r * srcLd + c];
}

KERNEL rnn4j_fill(i64 n, float value, GLOBAL float* x, i64 xOff) {
    i64 i = GLOBAL_ID(0);
    if (i < n) x[xOff + i] = value;
}
