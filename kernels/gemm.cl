/*
 * gemm.cl: strided batched SGEMM, row-major, tiled through local (shared) memory.
 *
 *   rnn4j_gemm  for p in [0, batch):
 *                 C_p (m x n) = alpha * op(A_p) * op(B_p) + beta * C_p
 *               op(A_p) is A_p (m x k, row-major, leading dimension lda) or, if transA != 0,
 *               A_p stored as (k x m) and transposed; op(B_p) likewise (k x n) or stored as
 *               (n x k) if transB != 0. A_p starts at a[aOff + p*strideA], B_p at
 *               b[bOff + p*strideB], C_p at c[cOff + p*strideC] (leading dimension ldc).
 *               When beta == 0, C is not read (NaN/Inf in C do not propagate). k == 0
 *               gives C = beta * C.                                          (Backend.gemm)
 *
 * Must match ReferenceBackend.gemm up to float32 accumulation rounding: every element is one
 * sequential float32 dot product over l = 0..k-1 (error within k * eps * sum_l |a_il b_lj|).
 *
 * Launch: 3-D, local size (RNN4J_TILE, RNN4J_TILE, 1); global (round_up(n, TILE),
 * round_up(m, TILE), G) for any G >= 1: dimension 0 walks columns of C, dimension 1 rows,
 * and group z handles the batches z, z + G, z + 2G, ... Each work-group stages a TILE x TILE
 * block of op(A) and of op(B) per step of k, loading along the stored rows so that
 * neighbouring work-items read neighbouring addresses for every transpose combination.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_gemm(i32 transA, i32 transB, i32 m, i32 n, i32 k, float alpha,
                  const GLOBAL float* a, i64 aOff, i32 lda,
                  const GLOBAL float* b, i64 bOff, i32 ldb,
                  float beta, GLOBAL float* c, i64 cOff, i32 ldc,
                  i32 batch, i64 strideA, i64 strideB, i64 strideC) {
    SHARED float As[RNN4J_TILE][RNN4J_TILE + 1]; /* As[i][l] = op(A)[row0 + i][l0 + l] */
    SHARED float Bs[RNN4J_TILE][RNN4J_TILE + 1]; /* Bs[l][j] = op(B)[l0 + l][col0 + j] */
    const i32 tx = LOCAL_ID(0), ty = LOCAL_ID(1);
    const i64 col0 = GROUP_ID(0) * RNN4J_TILE, row0 = GROUP_ID(1) * RNN4J_TILE;
    const i64 row = row0 + ty, col = col0 + tx;

    for (i64 p = GROUP_ID(2); p < batch; p += NUM_GROUPS(2)) {
        const GLOBAL float* A = a + (aOff + p * strideA);
        const GLOBAL float* B = b + (bOff + p * strideB);
        float acc = 0.0f;
        for (i32 l0 = 0; l0 < k; l0 += RNN4J_TILE) {
            if (transA) { /* stored (k x m): op(A)[i][l] = A[l*lda + i]; tx walks i */
                const i64 i = row0 + tx;
                const i32 l = l0 + ty;
                As[tx][ty] = (i < m && l < k) ? A[(i64) l * lda + i] : 0.0f;
            } else {      /* stored (m x k): op(A)[i][l] = A[i*lda + l]; tx walks l */
                const i64 i = row0 + ty;
                const i32 l = l0 + tx;
                As[ty][tx] = (i < m && l < k) ? A[i * lda + l] : 0.0f;
            }
            if (transB) { /* stored (n x k): op(B)[l][j] = B[j*ldb + l]; tx walks l */
                const i64 j = col0 + ty;
                const i32 l = l0 + tx;
                Bs[tx][ty] = (j < n && l < k) ? B[j * ldb + l] : 0.0f;
            } else {      /* stored (k x n): op(B)[l][j] = B[l*ldb + j]; tx walks j */
                const i64 j = col0 + tx;
                const i32 l = l0 + ty;
                Bs[ty][tx] = (j < n && l < k) ? B[(i64) l * ldb + j] : 0.0f;
            }
            SYNC_THREADS();
            for (i32 q = 0; q < RNN4J_TILE; q++) acc += As[ty][q] * Bs[q][tx];
            SYNC_THREADS();
        }
        if (row < m && col < n) {
            GLOBAL float* C = c + (cOff + p * strideC);
            const i64 ci = row * ldc + col;
            C[ci] = beta == 0.0f ? alpha * acc : alpha * acc + beta * C[ci];
        }
    }
}

/*
 * rnn4j_gemm_blocked: the same product, computed in (TILE*WPT) x (TILE*WPT) blocks of C by
 * TILE x TILE work-groups: every work-item accumulates a WPT x WPT grid of C elements
 * (rows row0 + ty + TILE*i, columns col0 + tx + TILE*j), reusing each staged value of op(A)
 * and op(B) WPT times from registers. Same arguments, same sequential float32 dot product per
 * element (so the same error bound) as rnn4j_gemm; the host picks it when m and n both span a
 * whole block, where it does far fewer local-memory reads per multiply-add.
 * Launch: local (TILE, TILE, 1); global (round_up(n, TILE*WPT) / WPT, round_up(m, TILE*WPT) / WPT, G).
 */
#define RNN4J_GEMM_WPT 4
#define RNN4J_GEMM_BLOCK (RNN4J_TILE * RNN4J_GEMM_WPT)
/* Blocks per multiprocessor the register cap must allow (CUDA only): 4 of 256 threads on sm_90
 * (64 registers, no spills with nvcc 13), 3 on sm_80 (79 registers; 4 would spill there).
 * Without a cap nvcc used 168 registers: one block per multiprocessor, 12.5% occupancy. */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define RNN4J_GEMM_MIN_BLOCKS 3
#else
#define RNN4J_GEMM_MIN_BLOCKS 4
#endif

KERNEL RNN4J_LAUNCH_BOUNDS(RNN4J_TILE * RNN4J_TILE, RNN4J_GEMM_MIN_BLOCKS) rnn4j_gemm_blocked(i32 transA, i32 transB, i32 m, i32 n, i32 k, float alpha,
                          const GLOBAL float* a, i64 aOff, i32 lda,
                          const GLOBAL float* b, i64 bOff, i32 ldb,
                          float beta, GLOBAL float* c, i64 cOff, i32 ldc,
                          i32 batch, i64 strideA, i64 strideB, i64 strideC) {
    SHARED float As[RNN4J_GEMM_BLOCK][RNN4J_TILE + 1]; /* As[i][l] = op(A)[row0 + i][l0 + l] */
    SHARED float Bs[RNN4J_TILE][RNN4J_GEMM_BLOCK + 1]; /* Bs[l][j] = op(B)[l0 + l][col0 + j] */
    const i32 tx = LOCAL_ID(0), ty = LOCAL_ID(1);
    const i32 lid = ty * RNN4J_TILE + tx;
    /* m and n are i32, so every row and column index fits in 32 bits; only the element offsets
     * (index times leading dimension) need 64. Keeping the rest narrow keeps register use low. */
    const i32 col0 = (i32) GROUP_ID(0) * RNN4J_GEMM_BLOCK, row0 = (i32) GROUP_ID(1) * RNN4J_GEMM_BLOCK;

    for (i64 p = GROUP_ID(2); p < batch; p += NUM_GROUPS(2)) {
        const GLOBAL float* A = a + (aOff + p * strideA);
        const GLOBAL float* B = b + (bOff + p * strideB);
        float acc[RNN4J_GEMM_WPT][RNN4J_GEMM_WPT];
        for (i32 i = 0; i < RNN4J_GEMM_WPT; i++)
            for (i32 j = 0; j < RNN4J_GEMM_WPT; j++) acc[i][j] = 0.0f;

        for (i32 l0 = 0; l0 < k; l0 += RNN4J_TILE) {
            /* Consecutive items read consecutive addresses of the stored matrix whatever the
             * transposition (the tile index that varies fastest with lid is the stored row's). */
            for (i32 q = 0; q < RNN4J_GEMM_WPT; q++) {
                const i32 idx = lid + q * RNN4J_TILE * RNN4J_TILE;
                const i32 ii = transA ? idx % RNN4J_GEMM_BLOCK : idx / RNN4J_TILE;
                const i32 la = transA ? idx / RNN4J_GEMM_BLOCK : idx % RNN4J_TILE;
                const i32 i = row0 + ii, l = l0 + la;
                float v = 0.0f;
                if (i < m && l < k) v = transA ? A[(i64) l * lda + i] : A[(i64) i * lda + l];
                As[ii][la] = v;
                const i32 jj = transB ? idx / RNN4J_TILE : idx % RNN4J_GEMM_BLOCK;
                const i32 lb = transB ? idx % RNN4J_TILE : idx / RNN4J_GEMM_BLOCK;
                const i32 j = col0 + jj, l2 = l0 + lb;
                float w = 0.0f;
                if (j < n && l2 < k) w = transB ? B[(i64) j * ldb + l2] : B[(i64) l2 * ldb + j];
                Bs[lb][jj] = w;
            }
            SYNC_THREADS();
            for (i32 q = 0; q < RNN4J_TILE; q++) {
                float av[RNN4J_GEMM_WPT], bv[RNN4J_GEMM_WPT];
                for (i32 i = 0; i < RNN4J_GEMM_WPT; i++) av[i] = As[ty + i * RNN4J_TILE][q];
                for (i32 j = 0; j < RNN4J_GEMM_WPT; j++) bv[j] = Bs[q][tx + j * RNN4J_TILE];
                for (i32 i = 0; i < RNN4J_GEMM_WPT; i++)
                    for (i32 j = 0; j < RNN4J_GEMM_WPT; j++) acc[i][j] += av[i] * bv[j];
            }
            SYNC_THREADS();
        }
        GLOBAL float* C = c + (cOff + p * strideC);
        for (i32 i = 0; i < RNN4J_GEMM_WPT; i++) {
            const i32 row = row0 + ty + i * RNN4J_TILE;
            if (row >= m) continue;
            for (i32 j = 0; j < RNN4J_GEMM_WPT; j++) {
                const i32 col = col0 + tx + j * RNN4J_TILE;
                if (col >= n) continue;
                const i64 ci = (i64) row * ldc + col;
                C[ci] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * C[ci];
            }
        }
    }
}
