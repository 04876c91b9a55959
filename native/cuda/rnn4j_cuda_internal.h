/*
 * Internals of librnn4j_cuda.so shared by its C sources (and by native/tests/test_cuda.c, which
 * builds handles by hand to check argument validation on machines without a GPU). Nothing here
 * is exported.
 */
#ifndef RNN4J_CUDA_INTERNAL_H
#define RNN4J_CUDA_INTERNAL_H

#include "rnn4j.h"

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Handle tags: a handle of the wrong kind, or one already released, is refused. */
#define RNN4J_CUDA_DEVICE_MAGIC 0x44346e72u /* "rn4D" */
#define RNN4J_CUDA_BUFFER_MAGIC 0x42346e72u /* "rn4B" */

/* Work-group shapes, as the OpenCL backend launches the same kernels (kernels/ assume them). */
#define RNN4J_CUDA_TILE 16           /* RNN4J_TILE of rnn4j_compat.h; nvcc builds with the default */
#define RNN4J_CUDA_BLOCK_1D 128      /* threads per block of the 1-D kernels */
#define RNN4J_CUDA_MAX_PARTIALS 256  /* blocks of rnn4j_sum_squares_partial */
#define RNN4J_CUDA_MAX_GRID_YZ 65535 /* CUDA's limit on gridDim.y and gridDim.z */
#define RNN4J_CUDA_GEMM_WPT 4        /* outputs per thread and dimension of rnn4j_gemm_blocked */
#define RNN4J_CUDA_STAGING_SLOTS 2   /* pinned transfer slots per device (one fills while one copies) */
#define RNN4J_CUDA_STAGING_BYTES ((int64_t) 4 << 20)

struct rnn4j_cuda_device {
    uint32_t magic;
    int ordinal;
    int flags;
    cudaStream_t stream;
    /* Whether the GPU has stream-ordered allocation (cudaMallocAsync / cudaFreeAsync). */
    int mem_pools;
    /* RNN4J_CUDA_MAX_PARTIALS floats for rnn4j_cuda_sum_squares. */
    float *partials;
    /* cublasHandle_t, or NULL when GEMM runs the rnn4j_gemm kernel. */
    void *cublas;
    char gemm_description[512];
    /* Scratch for host int arrays (token ids, targets) and per-row losses; grown on demand. */
    int *ints;
    int64_t ints_capacity;
    /* Pinned host copy of the int arrays, so their upload is stream-ordered (no wait for the
     * stream); ints_done marks the end of the last upload from it, before it is rewritten. */
    int *pinned_ints;
    int64_t pinned_ints_capacity;
    cudaEvent_t ints_done;
    /* Host <-> device transfers: RNN4J_CUDA_STAGING_SLOTS pinned slots of RNN4J_CUDA_STAGING_BYTES,
     * reused by every transfer, copied on copy_stream; slot_done[s] marks the end of the last
     * copy through slot s. compute_ready / copy_done order the copy stream and the compute
     * stream both ways (a copy after the work queued before it, the work queued after it after it). */
    cudaStream_t copy_stream;
    void *staging;
    cudaEvent_t slot_done[2];
    cudaEvent_t compute_ready, copy_done;
    float *losses;
    int64_t losses_capacity;
    /* Serialises users of the cuBLAS handle and of the scratch buffers (partials, ints, losses). */
    pthread_mutex_t lock;
    atomic_llong live_buffers;
};

struct rnn4j_cuda_buffer {
    uint32_t magic;
    rnn4j_cuda_device *dev;
    void *ptr;
    int64_t bytes;
};

/* ---- cuBLAS, loaded with dlopen (rnn4j_cuda_blas.c) ---- */

/* "libcublas.so.13\nlibcublas.so.12": what rnn4j_cublas_load tries when given NULL. */
extern const char *const RNN4J_CUBLAS_DEFAULT_CANDIDATES;

/*
 * Loads cuBLAS unless already loaded, trying the '\n'-separated candidates (sonames or paths;
 * NULL: the default) in order; 1 if usable. description (may be NULL) gets the library loaded,
 * or each attempt and why it failed. A failed load may be retried with other candidates; the
 * first success stays for the process.
 */
int rnn4j_cublas_load(const char *candidates, char *description, size_t description_cap);

/* Creates a handle bound to `stream` with TF32 on or off; on failure returns NULL and writes why. */
void *rnn4j_cublas_create(cudaStream_t stream, int tf32, char *why, size_t why_cap);
void rnn4j_cublas_destroy(void *handle);

/*
 * Row-major strided batched SGEMM as Backend.gemm defines it, through cublasSgemmStridedBatched on
 * swapped operands. Returns the cuBLAS status (0 = success); *status_name gets its name.
 */
int rnn4j_cublas_sgemm(void *handle, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, long long stride_a, const float *b, int ldb, long long stride_b,
                       float beta, float *c, int ldc, long long stride_c, int batch, const char **status_name);

#endif
