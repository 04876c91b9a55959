/*
 * cuBLAS found at run time: the library is dlopen'ed and the five functions rnn4j needs are
 * looked up by name, so librnn4j_cuda.so neither links against cuBLAS nor needs its headers to
 * build. Where to look is the caller's: rnn4j_cublas_load takes a list of candidates (sonames
 * for the loader path, or file paths, e.g. the copy PyTorch's wheels install), the default being
 * libcublas.so.13 then libcublas.so.12. The first that loads stays loaded for the process. The
 * types below are the documented C ABI of those functions (handles and streams are pointers,
 * enums are ints).
 */
#define _GNU_SOURCE
#include "rnn4j_cuda_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* cublasOperation_t, cublasMath_t */
#define CUBLAS_OP_N 0
#define CUBLAS_OP_T 1
#define CUBLAS_DEFAULT_MATH 0
#define CUBLAS_TF32_TENSOR_OP_MATH 3

typedef int (*cublas_create_fn)(void **handle);
typedef int (*cublas_destroy_fn)(void *handle);
typedef int (*cublas_set_stream_fn)(void *handle, cudaStream_t stream);
typedef int (*cublas_set_math_mode_fn)(void *handle, int mode);
typedef int (*cublas_sgemm_strided_batched_fn)(void *handle, int transa, int transb, int m, int n, int k,
                                               const float *alpha, const float *a, int lda, long long stride_a,
                                               const float *b, int ldb, long long stride_b, const float *beta,
                                               float *c, int ldc, long long stride_c, int batch_count);

static struct {
    int usable;
    char description[1024];
    cublas_create_fn create;
    cublas_destroy_fn destroy;
    cublas_set_stream_fn set_stream;
    cublas_set_math_mode_fn set_math_mode;
    cublas_sgemm_strided_batched_fn sgemm_strided_batched;
} blas;

/* Guards blas: loading may be retried with other candidates until one succeeds. */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

const char *const RNN4J_CUBLAS_DEFAULT_CANDIDATES = "libcublas.so.13\nlibcublas.so.12";

/* Appends "; <a>: <b>" (no separator at the start) to blas.description. */
static void note(const char *a, const char *b) {
    size_t used = strlen(blas.description);
    if (used >= sizeof blas.description - 1) return;
    snprintf(blas.description + used, sizeof blas.description - used, "%s%.400s: %s", used == 0 ? "" : "; ", a, b);
}

/* Tries one candidate; 1 if cuBLAS is now usable. Call under blas_lock. */
static int try_load(const char *name) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        note(name, why != NULL ? why : "not found");
        return 0;
    }
    void *create = dlsym(h, "cublasCreate_v2");
    void *destroy = dlsym(h, "cublasDestroy_v2");
    void *set_stream = dlsym(h, "cublasSetStream_v2");
    void *set_math_mode = dlsym(h, "cublasSetMathMode");
    void *gemm = dlsym(h, "cublasSgemmStridedBatched");
    if (!create || !destroy || !set_stream || !set_math_mode || !gemm) {
        note(name, "lacks cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2, cublasSetMathMode or "
                   "cublasSgemmStridedBatched");
        dlclose(h);
        return 0;
    }
    /* Converting void* from dlsym to a function pointer is what POSIX dlsym is for. */
    *(void **) &blas.create = create;
    *(void **) &blas.destroy = destroy;
    *(void **) &blas.set_stream = set_stream;
    *(void **) &blas.set_math_mode = set_math_mode;
    *(void **) &blas.sgemm_strided_batched = gemm;
    /* Kept loaded for the life of the process: handles may outlive any one device. */
    snprintf(blas.description, sizeof blas.description, "%s", name);
    return 1;
}

int rnn4j_cublas_load(const char *candidates, char *description, size_t description_cap) {
    pthread_mutex_lock(&blas_lock);
    if (!blas.usable) {
        if (candidates == NULL) candidates = RNN4J_CUBLAS_DEFAULT_CANDIDATES;
        blas.description[0] = '\0';
        char name[1024];
        for (const char *p = candidates; *p != '\0' && !blas.usable;) {
            size_t n = strcspn(p, "\n");
            if (n > 0 && n < sizeof name) {
                memcpy(name, p, n);
                name[n] = '\0';
                blas.usable = try_load(name);
            } else if (n > 0) {
                note("(a candidate)", "longer than 1023 bytes");
            }
            p += n;
            if (*p == '\n') p++;
        }
        if (!blas.usable && blas.description[0] == '\0') note("(no candidate)", "empty list");
    }
    int usable = blas.usable;
    if (description != NULL && description_cap > 0) snprintf(description, description_cap, "%s", blas.description);
    pthread_mutex_unlock(&blas_lock);
    return usable;
}

/* cublasStatus_t names (cublas_api.h). */
static const char *status_name(int s) {
    switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

void *rnn4j_cublas_create(cudaStream_t stream, int tf32, char *why, size_t why_cap) {
    char desc[1024];
    if (!rnn4j_cublas_load(NULL, desc, sizeof desc)) {
        snprintf(why, why_cap, "cuBLAS not found: %s", desc);
        return NULL;
    }
    void *h = NULL;
    int s = blas.create(&h);
    if (s != 0 || h == NULL) {
        snprintf(why, why_cap, "cublasCreate_v2 failed: %s (%d)", status_name(s), s);
        return NULL;
    }
    s = blas.set_stream(h, stream);
    if (s != 0) {
        snprintf(why, why_cap, "cublasSetStream_v2 failed: %s (%d)", status_name(s), s);
        blas.destroy(h);
        return NULL;
    }
    s = blas.set_math_mode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
    if (s != 0) {
        snprintf(why, why_cap, "cublasSetMathMode failed: %s (%d)", status_name(s), s);
        blas.destroy(h);
        return NULL;
    }
    return h;
}

void rnn4j_cublas_destroy(void *handle) {
    if (handle != NULL && blas.usable) blas.destroy(handle);
}

int rnn4j_cublas_sgemm(void *handle, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, long long stride_a, const float *b, int ldb, long long stride_b,
                       float beta, float *c, int ldc, long long stride_c, int batch, const char **name) {
    /*
     * A row-major matrix is the column-major matrix of its transpose, so row-major
     * C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets B first, with m and n
     * swapped, and each operand keeps its own transpose flag.
     */
    int s = blas.sgemm_strided_batched(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       n, m, k, &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c, ldc, stride_c,
                                       batch);
    if (name != NULL) *name = status_name(s);
    return s;
}
