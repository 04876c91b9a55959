/*
 * elementwise.cl: BLAS-1 style element-wise ops on float32 vectors and row-major matrices.
 *
 *   rnn4j_axpy            y[yOff + i] += alpha * x[xOff + i], i in [0, n)          (Backend.axpy)
 *   rnn4j_scale           x[xOff + i] *= alpha, i in [0, n)                        (Backend.scale)
 *   rnn4j_mul             out[i] = a[i] * b[i], i in [0, n); out may alias a or b  (Backend.mul)
 *   rnn4j_mul_rows        out[r*cols + j] = x[r*cols + j] * m[j], the (rows x cols) block
 *                         contiguous; out may alias x                             (Backend.mulRows)
 *   rnn4j_add_row_vector  c[cOff + r*ldc + j] += bias[biasOff + j],
 *                         r in [0, rows), j in [0, cols)                          (Backend.addRowVector)
 *
 * Must match ReferenceBackend.axpy, scale, mul, mulRows and addRowVector (axpy may differ
 * from the reference's double evaluation by rounding only).
 * Launch: 1-D, one work-item per element (n, rows*cols), global size >= that (extra items
 * return); add_row_vector 2-D, dimension 0 over cols and 1 over rows.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_axpy(i64 n, float alpha, const GLOBAL float* x, i64 xOff, GLOBAL float* y, i64 yOff) {
    i64 i = GLOBAL_ID(0);
    if (i < n) y[yOff + i] = y[yOff + i] + alpha * x[xOff + i];
}

KERNEL rnn4j_scale(i64 n, float alpha, GLOBAL float* x, i64 xOff) {
    i64 i = GLOBAL_ID(0);
    if (i < n) x[xOff + i] = x[xOff + i] * alpha;
}

KERNEL rnn4j_mul(i64 n, const GLOBAL float* a, i64 aOff, const GLOBAL float* b, i64 bOff,
                 GLOBAL float* out, i64 outOff) {
    i64 i = GLOBAL_ID(0);
    if (i < n) out[outOff + i] = a[aOff + i] * b[bOff + i];
}

KERNEL rnn4j_mul_rows(i32 rows, i32 cols, const GLOBAL float* x, i64 xOff, const GLOBAL float* m, i64 mOff,
                      GLOBAL float* out, i64 outOff) {
    i64 i = GLOBAL_ID(0);
    if (i < (i64) rows * cols) out[outOff + i] = x[xOff + i] * m[mOff + i % cols];
}

KERNEL rnn4j_add_row_vector(i32 rows, i32 cols, const GLOBAL float* bias, i64 biasOff,
                            GLOBAL float* c, i64 cOff, i32 ldc) {
    i64 j = GLOBAL_ID(0), r = GLOBAL_ID(1);
    if (j < cols && r < rows) c[cOff + r * ldc + j] += bias[biasOff + j];
}
