/*
 * reduce.cl: reductions.
 *
 *   rnn4j_sum_rows  Column sums of a (rows x cols) matrix with leading dimension lda:
 *                   out[outOff + j] = beta * out[outOff + j] + sum_r a[aOff + r*lda + j];
 *                   out is not read when beta == 0.                              (Backend.sumRows)
 *                   Launch: 2-D, local size (W, H) with W * H = RNN4J_TILE^2 and H a power
 *                   of two, global (round_up(cols, W), H): dimension 0 picks the column, the
 *                   H items of dimension 1 take every H-th row and are summed in a tree.
 *                   OpenCL launches (TILE, TILE); CUDA (32, TILE^2 / 32), so that a warp
 *                   reads 32 consecutive floats of a row.
 *
 *   rnn4j_sum_squares_partial
 *                   partial[g] = sum of x[off + i]^2 over the elements i visited by
 *                   work-group g (a grid-stride loop over [0, n)); the host adds the
 *                   partials in double.                                          (Backend.sumSquares)
 *                   Launch: 1-D, local size RNN4J_TILE*RNN4J_TILE, any number of groups.
 *
 * Must match ReferenceBackend.sumRows and sumSquares up to float32 summation rounding.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_sum_rows(i32 rows, i32 cols, const GLOBAL float* a, i64 aOff, i32 lda,
                      float beta, GLOBAL float* out, i64 outOff) {
    /* (H x W) partial sums, rows padded by one against bank conflicts: H * (W + 1) <= this */
    SHARED float part[RNN4J_TILE * (RNN4J_TILE + 1)];
    const i32 tx = LOCAL_ID(0), ty = LOCAL_ID(1), w = LOCAL_SIZE(0), h = LOCAL_SIZE(1), pitch = w + 1;
    const i64 col = GROUP_ID(0) * w + tx;
    float s = 0.0f;
    if (col < cols)
        for (i64 r = ty; r < rows; r += h) s += a[aOff + r * lda + col];
    part[ty * pitch + tx] = s;
    SYNC_THREADS();
    for (i32 width = h / 2; width > 0; width >>= 1) {
        if (ty < width) part[ty * pitch + tx] += part[(ty + width) * pitch + tx];
        SYNC_THREADS();
    }
    if (ty == 0 && col < cols) {
        float v = part[tx];
        out[outOff + col] = beta == 0.0f ? v : v + beta * out[outOff + col];
    }
}

KERNEL rnn4j_sum_squares_partial(i64 n, const GLOBAL float* x, i64 off, GLOBAL float* partial) {
    SHARED float part[RNN4J_TILE * RNN4J_TILE];
    const i32 lid = LOCAL_ID(0);
    const i64 stride = NUM_GROUPS(0) * (RNN4J_TILE * RNN4J_TILE);
    float s = 0.0f;
    for (i64 i = GROUP_ID(0) * (RNN4J_TILE * RNN4J_TILE) + lid; i < n; i += stride) {
        float v = x[off + i];
        s += v * v;
    }
    part[lid] = s;
    SYNC_THREADS();
    for (i32 width = (RNN4J_TILE * RNN4J_TILE) / 2; width > 0; width >>= 1) {
        if (lid < width) part[lid] += part[lid + width];
        SYNC_THREADS();
    }
    if (lid == 0) partial[GROUP_ID(0)] = part[0];
}
