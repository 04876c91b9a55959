/*
 * embedding.cl: embedding lookup and its gradient (scatter-add by token id).
 *
 *   rnn4j_embedding_fwd
 *       out[outOff + i*dim + j] = weight[wOff + ids[i]*dim + j], i in [0, n), j in [0, dim).
 *       ids (n) are token ids, already checked by the host to address rows of weight.
 *                                                          (Backend.embeddingForward)
 *       Launch: 2-D, dimension 0 over j (global >= dim), dimension 1 over i (global >= n).
 *
 *   rnn4j_embedding_bwd
 *       dWeight[dwOff + id*dim + j] += dOut[dOutOff + i*dim + j] for every position i holding id.
 *       Deterministic, without atomics: the host groups positions by id and passes one int
 *       array csr = [uniq (u ids) | start (u+1 offsets into pos) | pos (n positions, ascending
 *       within each id)];
 *       one work-item per (id, j) adds its positions in ascending order, which is exactly the
 *       reference's float32 summation order, so results agree bit for bit.
 *                                                          (Backend.embeddingBackward)
 *       Launch: 2-D, dimension 0 over j (global >= dim), dimension 1 over the u ids.
 *
 * Must match ReferenceBackend.embeddingForward / embeddingBackward exactly.
 */
#include "rnn4j_compat.h"

KERNEL rnn4j_embedding_fwd(i32 n, i32 dim, const GLOBAL i32* ids, const GLOBAL float* weight, i64 wOff,
                           GLOBAL float* out, i64 outOff) {
    const i64 j = GLOBAL_ID(0), i = GLOBAL_ID(1);
    if (j >= dim || i >= n) return;
    out[outOff + i * dim + j] = weight[wOff + (i64) ids[i] * dim + j];
}

KERNEL rnn4j_embedding_bwd(i32 u, i32 dim, const GLOBAL i32* csr,
                           const GLOBAL float* dOut, i64 dOutOff, GLOBAL float* dWeight, i64 dwOff) {
    const i64 j = GLOBAL_ID(0), q = GLOBAL_ID(1);
    if (j >= dim || q >= u) return;
    const GLOBAL i32* uniq = csr;
    const GLOBAL i32* start = csr + u;
    const GLOBAL i32* pos = csr + 2 * u + 1;
    GLOBAL float* w = dWeight + (dwOff + (i64) uniq[q] * dim + j);
    float acc = *w;
    for (i32 p = start[q]; p < start[q + 1]; p++) acc += dOut[dOutOff + (i64) pos[p] * dim + j];
    *w = acc;
}
