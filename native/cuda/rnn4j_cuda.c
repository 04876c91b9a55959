/*
 * librnn4j_cuda.so: the CUDA half of rnn4j.h. Devices and their streams, device memory,
 * copies, one launcher per kernel of kernels/ and GEMM (cuBLAS or the rnn4j_gemm kernel).
 *
 * Every entry point first validates all of its arguments (handles, sizes, every element range
 * against the sizes recorded in the buffer handles) and only then talks to CUDA, so a bad call
 * costs a status and a message, never a crash in the JVM. Launch shapes are those of the OpenCL
 * backend (dev.rnn4j.backend.opencl.OpenClBackend): 1-D kernels in blocks of 128 threads, GEMM
 * in 16 x 16 blocks, the sum of squares in at most 256 blocks of 256; except that the
 * memory-bound 2-D kernels run in 32 x 8 blocks (see WIDE_X), which their sources allow.
 */
#define _GNU_SOURCE
#include "rnn4j_cuda_internal.h"
#include "rnn4j_cuda_kernels.h"
#include "rnn4j_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped whenever an rnn4j_cuda_* signature changes; CudaNative refuses a library with another. */
#define RNN4J_CUDA_ABI 2

const char *rnn4j_cuda_version(void) { return RNN4J_VERSION_STRING; }

int rnn4j_cuda_abi_version(int *out) {
    if (out == NULL) return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "rnn4j_cuda_abi_version: out is NULL");
    *out = RNN4J_CUDA_ABI;
    return rnn4j_ok();
}

const char *rnn4j_cuda_last_error(void) { return rnn4j_error_message(); }

/* ------------------------------------------------------------------ errors */

/* "<cudaErrorName> (<code>): <text>" into buf. */
static void describe_cuda_error(cudaError_t e, char *buf, size_t cap) {
    const char *name = cudaGetErrorName(e), *text = cudaGetErrorString(e);
    snprintf(buf, cap, "%s (%d): %s", name != NULL ? name : "cudaErrorUnknown", (int) e,
             text != NULL ? text : "unknown error");
}

static int status_of(cudaError_t e) {
    switch (e) {
    case cudaErrorMemoryAllocation: return RNN4J_ERR_OUT_OF_MEMORY;
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice: return RNN4J_ERR_UNAVAILABLE;
    default: return RNN4J_ERR_DEVICE;
    }
}

/* Records "<fn>: <what> failed: <name> (<code>): <text>" and returns the matching status. */
static int cuda_fail(const char *fn, const char *what, cudaError_t e) {
    char desc[512];
    describe_cuda_error(e, desc, sizeof desc);
    (void) cudaGetLastError(); /* clear the runtime's per-thread error; sticky ones stay anyway */
    return rnn4j_fail(status_of(e), "%s: %s failed: %s", fn, what, desc);
}

#define INVALID(...) rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, __VA_ARGS__)

/* Copies s into out[0 .. cap) NUL-terminated, truncating. */
static void put_string(char *out, int64_t cap, const char *s) {
    if (cap <= 0) return;
    size_t n = strlen(s);
    if ((uint64_t) n >= (uint64_t) cap) n = (size_t) cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------------ validation */

static int check_out(const char *fn, const char *name, const void *p) {
    return p == NULL ? INVALID("%s: %s is NULL", fn, name) : RNN4J_OK;
}

static int check_device(const char *fn, const rnn4j_cuda_device *dev) {
    if (dev == NULL) return INVALID("%s: device handle is NULL", fn);
    if (dev->magic != RNN4J_CUDA_DEVICE_MAGIC) return INVALID("%s: not a live rnn4j_cuda_device handle", fn);
    return RNN4J_OK;
}

static int check_nonneg(const char *fn, const char *name, int64_t v) {
    return v < 0 ? INVALID("%s: %s is negative (%lld)", fn, name, (long long) v) : RNN4J_OK;
}

/* A live buffer handle of `dev` (any device when dev is NULL). */
static int check_buffer(const char *fn, const char *name, const rnn4j_cuda_buffer *b, const rnn4j_cuda_device *dev) {
    if (b == NULL) return INVALID("%s: buffer %s is NULL", fn, name);
    if (b->magic != RNN4J_CUDA_BUFFER_MAGIC) return INVALID("%s: %s is not a live rnn4j_cuda_buffer handle", fn, name);
    if (dev != NULL && b->dev != dev) return INVALID("%s: buffer %s belongs to another device", fn, name);
    return RNN4J_OK;
}

/* Bytes [off, off + count) inside buffer b. */
static int check_bytes(const char *fn, const char *name, const rnn4j_cuda_buffer *b, int64_t off, int64_t count) {
    if (off < 0 || count < 0 || off > b->bytes || count > b->bytes - off)
        return INVALID("%s: %s: bytes [%lld, +%lld) outside a buffer of %lld bytes", fn, name, (long long) off,
                       (long long) count, (long long) b->bytes);
    return RNN4J_OK;
}

/* Float elements [off, off + count) inside buffer b of dev. */
static int check_range(const char *fn, const char *name, const rnn4j_cuda_device *dev, const rnn4j_cuda_buffer *b,
                       int64_t off, int64_t count) {
    int st = check_buffer(fn, name, b, dev);
    if (st) return st;
    int64_t size = b->bytes / (int64_t) sizeof(float);
    if (count < 0) return INVALID("%s: %s: negative element count %lld", fn, name, (long long) count);
    if (off < 0 || off > size || count > size - off) {
        int64_t end;
        if (__builtin_add_overflow(off, count, &end))
            return INVALID("%s: %s: elements [%lld, +%lld) outside a buffer of %lld floats", fn, name, (long long) off,
                           (long long) count, (long long) size);
        return INVALID("%s: %s: elements [%lld, %lld) outside a buffer of %lld floats", fn, name, (long long) off,
                       (long long) end, (long long) size);
    }
    return RNN4J_OK;
}

/* Like check_range, but NULL is allowed (an absent optional argument). */
static int check_optional(const char *fn, const char *name, const rnn4j_cuda_device *dev, const rnn4j_cuda_buffer *b,
                          int64_t off, int64_t count) {
    return b == NULL ? RNN4J_OK : check_range(fn, name, dev, b, off, count);
}

/*
 * A (rows x cols) matrix with leading dimension ld, repeated batch times `stride` apart from
 * element off: every element touched must lie in the buffer. Empty matrices touch nothing.
 */
static int check_matrix(const char *fn, const char *name, const rnn4j_cuda_device *dev, const rnn4j_cuda_buffer *b,
                        int64_t off, int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride) {
    int st = check_buffer(fn, name, b, dev);
    if (st) return st;
    if (rows < 0 || cols < 0 || batch < 0)
        return INVALID("%s: %s: negative size (%lld x %lld, batch %lld)", fn, name, (long long) rows, (long long) cols,
                       (long long) batch);
    if (rows == 0 || cols == 0 || batch == 0) return RNN4J_OK;
    if (ld < 0 || stride < 0)
        return INVALID("%s: %s: negative leading dimension %lld or stride %lld", fn, name, (long long) ld,
                       (long long) stride);
    int64_t size = b->bytes / (int64_t) sizeof(float), s1, s2, last;
    if (__builtin_mul_overflow(batch - 1, stride, &s1) || __builtin_mul_overflow(rows - 1, ld, &s2) ||
        __builtin_add_overflow(s1, s2, &last) || __builtin_add_overflow(last, cols - 1, &last) ||
        __builtin_add_overflow(last, off, &last))
        return INVALID("%s: %s: matrix extent overflows", fn, name);
    if (off < 0 || last >= size)
        return INVALID("%s: %s: %lld x %lld (ld %lld, batch %lld, stride %lld) at offset %lld reaches element %lld "
                       "of a buffer of %lld floats",
                       fn, name, (long long) rows, (long long) cols, (long long) ld, (long long) batch,
                       (long long) stride, (long long) off, (long long) last, (long long) size);
    return RNN4J_OK;
}

/* *out = a * b * c (all >= 0), refusing overflow. */
static int product(const char *fn, int64_t a, int64_t b, int64_t c, int64_t *out) {
    int64_t ab;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, out))
        return INVALID("%s: sizes overflow (%lld * %lld * %lld)", fn, (long long) a, (long long) b, (long long) c);
    return RNN4J_OK;
}

static int check_activation(const char *fn, int act) {
    return act < 0 || act > 2 ? INVALID("%s: activation code must be 0, 1 or 2, got %d", fn, act) : RNN4J_OK;
}

/* ------------------------------------------------------------------ launching */

/* Makes dev's GPU current on this thread (the runtime keeps the current device per thread). */
static int enter(const char *fn, const rnn4j_cuda_device *dev) {
    cudaError_t e = cudaSetDevice(dev->ordinal);
    return e == cudaSuccess ? RNN4J_OK : cuda_fail(fn, "cudaSetDevice", e);
}

static const float *cptr(const rnn4j_cuda_buffer *b) { return b == NULL ? NULL : (const float *) b->ptr; }
static float *ptr(rnn4j_cuda_buffer *b) { return b == NULL ? NULL : (float *) b->ptr; }

/*
 * args holds one pointer per kernel parameter, read as that parameter's type. Each launch below
 * fills a struct whose members repeat the kernel's parameters, names and types, and passes the
 * members' addresses in the parameters' order: CudaKernelArgumentsTest checks both against
 * the kernels' .cl sources, so two same-typed arguments in each other's place fail it.
 */
static int launch(const char *fn, const char *kernel, const rnn4j_cuda_device *dev, const void *func, dim3 grid,
                  dim3 block, void **args) {
    cudaError_t e = cudaLaunchKernel(func, grid, block, args, 0, dev->stream);
    if (e != cudaSuccess) {
        char what[96];
        snprintf(what, sizeof what, "cudaLaunchKernel(%s)", kernel);
        return cuda_fail(fn, what, e);
    }
    return rnn4j_ok();
}

/* One thread per element of [0, n), n > 0. */
static int launch_1d(const char *fn, const char *kernel, const rnn4j_cuda_device *dev, const void *func, int64_t n,
                     void **args) {
    int64_t blocks = (n + RNN4J_CUDA_BLOCK_1D - 1) / RNN4J_CUDA_BLOCK_1D;
    if (blocks > 0x7fffffff) return INVALID("%s: %lld elements are too many for one launch", fn, (long long) n);
    dim3 grid = {(unsigned) blocks, 1, 1}, block = {RNN4J_CUDA_BLOCK_1D, 1, 1};
    return launch(fn, kernel, dev, func, grid, block, args);
}

/*
 * The memory-bound 2-D kernels (copy2d, add_row_vector, embedding, sum_rows) index by global
 * id only, so CUDA launches them in blocks a warp wide: each warp reads or writes 32
 * consecutive floats of a row (128 bytes) instead of two half rows of 16.
 */
#define WIDE_X 32
#define WIDE_Y (RNN4J_CUDA_TILE * RNN4J_CUDA_TILE / WIDE_X)
/* Rows one such launch may cover: gridDim.y is at most 65535 blocks; taller matrices go in slices. */
#define WIDE_ROWS_PER_LAUNCH ((int64_t) RNN4J_CUDA_MAX_GRID_YZ * WIDE_Y)
static unsigned wide_cols(int64_t n) { return (unsigned) ((n + WIDE_X - 1) / WIDE_X); }
static unsigned wide_rows(int64_t n) { return (unsigned) ((n + WIDE_Y - 1) / WIDE_Y); }

/* Device memory in stream order where the GPU has memory pools, else cudaMalloc / cudaFree. */
static cudaError_t dev_alloc(const rnn4j_cuda_device *dev, void **p, size_t bytes) {
    return dev->mem_pools ? cudaMallocAsync(p, bytes, dev->stream) : cudaMalloc(p, bytes);
}

/* Releases p after the work already queued (which may still use it). */
static cudaError_t dev_release(const rnn4j_cuda_device *dev, void *p) {
    if (p == NULL) return cudaSuccess;
    if (dev->mem_pools) return cudaFreeAsync(p, dev->stream);
    cudaError_t s = cudaStreamSynchronize(dev->stream), e = cudaFree(p);
    return s != cudaSuccess ? s : e;
}

/* Makes *p (capacity *cap bytes) hold at least `bytes`, doubling as it grows. Call under dev->lock. */
static int grow_scratch(const char *fn, const rnn4j_cuda_device *dev, void **p, int64_t *cap, int64_t bytes,
                        const char *what) {
    if (*p != NULL && *cap >= bytes) return RNN4J_OK;
    int64_t want = bytes > 2 * *cap ? bytes : 2 * *cap;
    if (want < 64) want = 64;
    cudaError_t e = dev_release(dev, *p);
    *p = NULL;
    *cap = 0;
    if (e != cudaSuccess) return cuda_fail(fn, "releasing scratch memory", e);
    if ((e = dev_alloc(dev, p, (size_t) want)) != cudaSuccess) {
        *p = NULL;
        char w[96];
        snprintf(w, sizeof w, "allocating %lld bytes of %s", (long long) want, what);
        return cuda_fail(fn, w, e);
    }
    *cap = want;
    return RNN4J_OK;
}

/* ------------------------------------------------------------------ discovery */

int rnn4j_cuda_probe(int *device_count, int *cuda_error, char *reason, int64_t reason_cap) {
    static const char fn[] = "rnn4j_cuda_probe";
    int st;
    if ((st = check_out(fn, "device_count", device_count)) || (st = check_out(fn, "cuda_error", cuda_error)) ||
        (st = check_out(fn, "reason", reason)))
        return st;
    if (reason_cap < 1) return INVALID("%s: reason_cap must be at least 1, got %lld", fn, (long long) reason_cap);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        char desc[512];
        describe_cuda_error(e, desc, sizeof desc);
        (void) cudaGetLastError();
        *device_count = 0;
        *cuda_error = (int) e;
        put_string(reason, reason_cap, desc);
    } else {
        *device_count = n;
        *cuda_error = 0;
        put_string(reason, reason_cap, "");
    }
    return rnn4j_ok();
}

int rnn4j_cuda_device_count(int *out) {
    static const char fn[] = "rnn4j_cuda_device_count";
    int st = check_out(fn, "out", out);
    if (st) return st;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaGetDeviceCount", e);
    *out = n;
    return rnn4j_ok();
}

int rnn4j_cuda_versions(int *runtime, int *driver) {
    static const char fn[] = "rnn4j_cuda_versions";
    int st;
    if ((st = check_out(fn, "runtime", runtime)) || (st = check_out(fn, "driver", driver))) return st;
    int r = 0, d = 0;
    cudaError_t e = cudaRuntimeGetVersion(&r);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaRuntimeGetVersion", e);
    e = cudaDriverGetVersion(&d); /* 0 and success when there is no driver */
    if (e != cudaSuccess) return cuda_fail(fn, "cudaDriverGetVersion", e);
    *runtime = r;
    *driver = d;
    return rnn4j_ok();
}

int rnn4j_cuda_device_properties(int ordinal, char *name, int64_t name_cap, int *cc_major, int *cc_minor,
                                 int64_t *total_bytes, int *multiprocessors) {
    static const char fn[] = "rnn4j_cuda_device_properties";
    int st;
    if ((st = check_out(fn, "name", name)) || (st = check_out(fn, "cc_major", cc_major)) ||
        (st = check_out(fn, "cc_minor", cc_minor)) || (st = check_out(fn, "total_bytes", total_bytes)) ||
        (st = check_out(fn, "multiprocessors", multiprocessors)))
        return st;
    if (name_cap < 1) return INVALID("%s: name_cap must be at least 1, got %lld", fn, (long long) name_cap);
    if (ordinal < 0) return INVALID("%s: device ordinal is negative (%d)", fn, ordinal);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaGetDeviceCount", e);
    if (ordinal >= count) return INVALID("%s: no CUDA device %d (there are %d)", fn, ordinal, count);
    struct cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, ordinal);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaGetDeviceProperties", e);
    p.name[sizeof p.name - 1] = '\0';
    put_string(name, name_cap, p.name);
    *cc_major = p.major;
    *cc_minor = p.minor;
    *total_bytes = (int64_t) p.totalGlobalMem;
    *multiprocessors = p.multiProcessorCount;
    return rnn4j_ok();
}

int rnn4j_cuda_cublas_load(const char *candidates, int *found, char *description, int64_t description_cap) {
    static const char fn[] = "rnn4j_cuda_cublas_load";
    int st;
    if ((st = check_out(fn, "found", found)) || (st = check_out(fn, "description", description))) return st;
    if (description_cap < 1)
        return INVALID("%s: description_cap must be at least 1, got %lld", fn, (long long) description_cap);
    if (candidates != NULL && candidates[0] == '\0') return INVALID("%s: candidates is empty", fn);
    char desc[1024];
    *found = rnn4j_cublas_load(candidates, desc, sizeof desc);
    put_string(description, description_cap, desc);
    return rnn4j_ok();
}

int rnn4j_cuda_cublas_probe(int *found, char *description, int64_t description_cap) {
    static const char fn[] = "rnn4j_cuda_cublas_probe";
    int st;
    if ((st = check_out(fn, "found", found)) || (st = check_out(fn, "description", description))) return st;
    if (description_cap < 1)
        return INVALID("%s: description_cap must be at least 1, got %lld", fn, (long long) description_cap);
    char desc[1024];
    *found = rnn4j_cublas_load(NULL, desc, sizeof desc);
    put_string(description, description_cap, desc);
    return rnn4j_ok();
}

/* ------------------------------------------------------------------ devices */

/* Frees what the transfer path holds (copy stream, events, pinned memory); NULL members are skipped.
 * Returns the first error. */
static cudaError_t release_transfer_resources(rnn4j_cuda_device *dev) {
    cudaError_t first = cudaSuccess, e;
    if (dev->copy_stream != NULL && (e = cudaStreamSynchronize(dev->copy_stream)) != cudaSuccess && !first) first = e;
    if (dev->ints_done != NULL && (e = cudaEventSynchronize(dev->ints_done)) != cudaSuccess && !first) first = e;
    cudaEvent_t events[] = {dev->slot_done[0], dev->slot_done[1], dev->compute_ready, dev->copy_done, dev->ints_done};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (events[i] != NULL && (e = cudaEventDestroy(events[i])) != cudaSuccess && !first) first = e;
    if (dev->staging != NULL && (e = cudaFreeHost(dev->staging)) != cudaSuccess && !first) first = e;
    if (dev->pinned_ints != NULL && (e = cudaFreeHost(dev->pinned_ints)) != cudaSuccess && !first) first = e;
    if (dev->copy_stream != NULL && (e = cudaStreamDestroy(dev->copy_stream)) != cudaSuccess && !first) first = e;
    dev->copy_stream = NULL;
    dev->staging = NULL;
    dev->pinned_ints = NULL;
    return first;
}

int rnn4j_cuda_device_create(int ordinal, int flags, rnn4j_cuda_device **out) {
    static const char fn[] = "rnn4j_cuda_device_create";
    int st = check_out(fn, "out", out);
    if (st) return st;
    *out = NULL;
    if (ordinal < 0) return INVALID("%s: device ordinal is negative (%d)", fn, ordinal);
    if (flags & ~(RNN4J_CUDA_TF32 | RNN4J_CUDA_NO_CUBLAS)) return INVALID("%s: unknown flags 0x%x", fn, (unsigned) flags);
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaGetDeviceCount", e);
    if (ordinal >= count) return INVALID("%s: no CUDA device %d (there are %d)", fn, ordinal, count);

    rnn4j_cuda_device *dev = calloc(1, sizeof *dev);
    if (dev == NULL) return rnn4j_fail(RNN4J_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    dev->ordinal = ordinal;
    dev->flags = flags;
    if (pthread_mutex_init(&dev->lock, NULL) != 0) {
        free(dev);
        return rnn4j_fail(RNN4J_ERR_INTERNAL, "%s: pthread_mutex_init failed", fn);
    }
    atomic_init(&dev->live_buffers, 0);
    const char *what = "";
    if ((e = cudaSetDevice(ordinal)) != cudaSuccess) {
        what = "cudaSetDevice";
        goto fail;
    }
    if ((e = cudaStreamCreateWithFlags(&dev->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        what = "cudaStreamCreateWithFlags";
        dev->stream = NULL;
        goto fail;
    }
    /* A GPU older than every architecture the fatbin has code for (e.g. sm_75 with the default
     * 80-real;90) would fail at its first launch; say so now, with the way out. */
    struct cudaFuncAttributes fa;
    if ((e = cudaFuncGetAttributes(&fa, (const void *) rnn4j_fill)) != cudaSuccess && e != cudaErrorNoKernelImageForDevice &&
        e != cudaErrorInvalidDeviceFunction && e != cudaErrorUnsupportedPtxVersion && e != cudaErrorInvalidPtx) {
        what = "cudaFuncGetAttributes(rnn4j_fill)";
        goto fail;
    }
    if (e != cudaSuccess) {
        int major = 0, minor = 0;
        (void) cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ordinal);
        (void) cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, ordinal);
        char desc[512];
        describe_cuda_error(e, desc, sizeof desc);
        (void) cudaGetLastError();
        cudaStreamDestroy(dev->stream);
        pthread_mutex_destroy(&dev->lock);
        free(dev);
        return rnn4j_fail(RNN4J_ERR_UNAVAILABLE,
                          "%s: the kernels have no code for this GPU (sm_%d%d): %s; this library was built for CUDA "
                          "architectures %s (rebuild with -DRNN4J_CUDA_ARCHITECTURES=... to add it)",
                          fn, major, minor, desc, RNN4J_CUDA_ARCHITECTURES_STRING);
    }
    int pools = 0;
    if ((e = cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, ordinal)) != cudaSuccess) {
        what = "cudaDeviceGetAttribute(cudaDevAttrMemoryPoolsSupported)";
        goto fail;
    }
    if (pools) {
        /* Keep freed blocks in the device's default pool for reuse instead of handing them back to
         * the driver at every synchronisation: layers allocate and free temporaries all the time. */
        cudaMemPool_t pool;
        uint64_t threshold = UINT64_MAX;
        if ((e = cudaDeviceGetDefaultMemPool(&pool, ordinal)) != cudaSuccess) {
            what = "cudaDeviceGetDefaultMemPool";
            goto fail;
        }
        if ((e = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold)) != cudaSuccess) {
            what = "cudaMemPoolSetAttribute(cudaMemPoolAttrReleaseThreshold)";
            goto fail;
        }
    }
    dev->mem_pools = pools;
    if ((e = cudaMalloc((void **) &dev->partials, RNN4J_CUDA_MAX_PARTIALS * sizeof(float))) != cudaSuccess) {
        what = "cudaMalloc(partial sums)";
        dev->partials = NULL;
        goto fail;
    }
    if ((e = cudaStreamCreateWithFlags(&dev->copy_stream, cudaStreamNonBlocking)) != cudaSuccess) {
        what = "cudaStreamCreateWithFlags(copy stream)";
        dev->copy_stream = NULL;
        goto fail;
    }
    {
        cudaEvent_t *events[] = {&dev->slot_done[0], &dev->slot_done[1], &dev->compute_ready, &dev->copy_done,
                                 &dev->ints_done};
        for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
            if ((e = cudaEventCreateWithFlags(events[i], cudaEventDisableTiming)) != cudaSuccess) {
                *events[i] = NULL;
                what = "cudaEventCreateWithFlags";
                goto fail;
            }
        }
    }
    if ((e = cudaHostAlloc(&dev->staging, (size_t) (RNN4J_CUDA_STAGING_SLOTS * RNN4J_CUDA_STAGING_BYTES),
                           cudaHostAllocPortable)) != cudaSuccess) {
        dev->staging = NULL;
        what = "cudaHostAlloc(transfer staging)";
        goto fail;
    }
    if (flags & RNN4J_CUDA_NO_CUBLAS) {
        snprintf(dev->gemm_description, sizeof dev->gemm_description, "rnn4j_gemm kernel (cuBLAS disabled)");
    } else {
        char why[384];
        dev->cublas = rnn4j_cublas_create(dev->stream, flags & RNN4J_CUDA_TF32, why, sizeof why);
        char lib[1024];
        rnn4j_cublas_load(NULL, lib, sizeof lib);
        if (dev->cublas != NULL)
            snprintf(dev->gemm_description, sizeof dev->gemm_description, "cuBLAS (%.400s, %s)", lib,
                     (flags & RNN4J_CUDA_TF32) ? "TF32 tensor cores" : "FP32");
        else
            snprintf(dev->gemm_description, sizeof dev->gemm_description, "rnn4j_gemm kernel (%s)", why);
    }
    dev->magic = RNN4J_CUDA_DEVICE_MAGIC;
    *out = dev;
    return rnn4j_ok();

fail:
    st = cuda_fail(fn, what, e);
    release_transfer_resources(dev);
    if (dev->partials != NULL) cudaFree(dev->partials);
    if (dev->stream != NULL) cudaStreamDestroy(dev->stream);
    pthread_mutex_destroy(&dev->lock);
    free(dev);
    return st;
}

int rnn4j_cuda_device_destroy(rnn4j_cuda_device *dev) {
    static const char fn[] = "rnn4j_cuda_device_destroy";
    int st = check_device(fn, dev);
    if (st) return st;
    long long live = atomic_load(&dev->live_buffers);
    if (live != 0) return INVALID("%s: %lld buffer(s) of this device are still allocated; free them first", fn, live);
    dev->magic = 0;
    cudaError_t first = cudaSuccess, e;
    const char *what = NULL;
#define KEEP_FIRST(call, name)                          \
    do {                                                \
        e = (call);                                     \
        if (e != cudaSuccess && first == cudaSuccess) { \
            first = e;                                  \
            what = (name);                              \
        }                                               \
    } while (0)
    KEEP_FIRST(cudaSetDevice(dev->ordinal), "cudaSetDevice");
    KEEP_FIRST(cudaStreamSynchronize(dev->stream), "cudaStreamSynchronize");
    KEEP_FIRST(release_transfer_resources(dev), "releasing the transfer staging");
    rnn4j_cublas_destroy(dev->cublas);
    KEEP_FIRST(dev_release(dev, dev->ints), "releasing the int scratch");
    KEEP_FIRST(dev_release(dev, dev->losses), "releasing the loss scratch");
    KEEP_FIRST(cudaFree(dev->partials), "cudaFree(partial sums)");
    KEEP_FIRST(cudaStreamSynchronize(dev->stream), "cudaStreamSynchronize");
    KEEP_FIRST(cudaStreamDestroy(dev->stream), "cudaStreamDestroy");
    if (dev->mem_pools) {
        cudaMemPool_t pool;
        if (cudaDeviceGetDefaultMemPool(&pool, dev->ordinal) == cudaSuccess) (void) cudaMemPoolTrimTo(pool, 0);
    }
#undef KEEP_FIRST
    pthread_mutex_destroy(&dev->lock);
    free(dev);
    return first == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, what, first);
}

int rnn4j_cuda_device_synchronize(rnn4j_cuda_device *dev) {
    static const char fn[] = "rnn4j_cuda_device_synchronize";
    int st = check_device(fn, dev);
    if (st || (st = enter(fn, dev))) return st;
    cudaError_t e = cudaStreamSynchronize(dev->stream);
    return e == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, "cudaStreamSynchronize", e);
}

int rnn4j_cuda_device_live_buffers(const rnn4j_cuda_device *dev, int64_t *out) {
    static const char fn[] = "rnn4j_cuda_device_live_buffers";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_out(fn, "out", out))) return st;
    *out = atomic_load(&((rnn4j_cuda_device *) dev)->live_buffers);
    return rnn4j_ok();
}

int rnn4j_cuda_device_gemm_info(const rnn4j_cuda_device *dev, int *uses_cublas, char *description,
                                int64_t description_cap) {
    static const char fn[] = "rnn4j_cuda_device_gemm_info";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_out(fn, "uses_cublas", uses_cublas)) ||
        (st = check_out(fn, "description", description)))
        return st;
    if (description_cap < 1)
        return INVALID("%s: description_cap must be at least 1, got %lld", fn, (long long) description_cap);
    *uses_cublas = dev->cublas != NULL;
    put_string(description, description_cap, dev->gemm_description);
    return rnn4j_ok();
}

/* ------------------------------------------------------------------ memory */

int rnn4j_cuda_malloc(rnn4j_cuda_device *dev, int64_t bytes, rnn4j_cuda_buffer **out) {
    static const char fn[] = "rnn4j_cuda_malloc";
    int st;
    if ((st = check_out(fn, "out", out))) return st;
    *out = NULL;
    if ((st = check_device(fn, dev)) || (st = check_nonneg(fn, "bytes", bytes)) || (st = enter(fn, dev))) return st;
    rnn4j_cuda_buffer *b = calloc(1, sizeof *b);
    if (b == NULL) return rnn4j_fail(RNN4J_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    size_t n = bytes > 0 ? (size_t) bytes : 1; /* an empty buffer still owns a valid pointer */
    void *p = NULL;
    cudaError_t e = dev_alloc(dev, &p, n);
    if (e != cudaSuccess) {
        free(b);
        char what[96];
        snprintf(what, sizeof what, "%s(%lld bytes)", dev->mem_pools ? "cudaMallocAsync" : "cudaMalloc",
                 (long long) bytes);
        return cuda_fail(fn, what, e);
    }
    b->magic = RNN4J_CUDA_BUFFER_MAGIC;
    b->dev = dev;
    b->ptr = p;
    b->bytes = bytes;
    atomic_fetch_add(&dev->live_buffers, 1);
    *out = b;
    return rnn4j_ok();
}

int rnn4j_cuda_free(rnn4j_cuda_buffer *buf) {
    static const char fn[] = "rnn4j_cuda_free";
    int st = check_buffer(fn, "buf", buf, NULL);
    if (st) return st;
    rnn4j_cuda_device *dev = buf->dev;
    void *p = buf->ptr;
    buf->magic = 0;
    free(buf);
    atomic_fetch_sub(&dev->live_buffers, 1);
    cudaError_t e = cudaSetDevice(dev->ordinal);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaSetDevice", e);
    /* Stream-ordered where possible: the memory goes after the work already queued that uses it. */
    e = dev_release(dev, p);
    return e == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, dev->mem_pools ? "cudaFreeAsync" : "cudaFree", e);
}

int rnn4j_cuda_buffer_size(const rnn4j_cuda_buffer *buf, int64_t *bytes) {
    static const char fn[] = "rnn4j_cuda_buffer_size";
    int st;
    if ((st = check_buffer(fn, "buf", buf, NULL)) || (st = check_out(fn, "bytes", bytes))) return st;
    *bytes = buf->bytes;
    return rnn4j_ok();
}

int rnn4j_cuda_memset(rnn4j_cuda_buffer *buf, int64_t offset, int value, int64_t bytes) {
    static const char fn[] = "rnn4j_cuda_memset";
    int st;
    if ((st = check_buffer(fn, "buf", buf, NULL)) || (st = check_bytes(fn, "buf", buf, offset, bytes))) return st;
    if (value < 0 || value > 255) return INVALID("%s: value must be a byte (0..255), got %d", fn, value);
    if (bytes == 0) return rnn4j_ok();
    if ((st = enter(fn, buf->dev))) return st;
    cudaError_t e = cudaMemsetAsync((char *) buf->ptr + offset, value, (size_t) bytes, buf->dev->stream);
    return e == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, "cudaMemsetAsync", e);
}

/* Queues one copy on the device's stream and waits for the stream. */
static int copy_and_wait(const char *fn, const rnn4j_cuda_device *dev, void *dst, const void *src, int64_t bytes,
                         enum cudaMemcpyKind kind) {
    int st = enter(fn, dev);
    if (st) return st;
    cudaError_t e = cudaMemcpyAsync(dst, src, (size_t) bytes, kind, dev->stream);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaMemcpyAsync", e);
    e = cudaStreamSynchronize(dev->stream);
    return e == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, "cudaStreamSynchronize", e);
}

int rnn4j_cuda_upload(rnn4j_cuda_buffer *dst, int64_t dst_offset, const void *src, int64_t bytes) {
    static const char fn[] = "rnn4j_cuda_upload";
    int st;
    if ((st = check_buffer(fn, "dst", dst, NULL)) || (st = check_bytes(fn, "dst", dst, dst_offset, bytes))) return st;
    if (bytes == 0) return rnn4j_ok();
    if ((st = check_out(fn, "src", src))) return st;
    return copy_and_wait(fn, dst->dev, (char *) dst->ptr + dst_offset, src, bytes, cudaMemcpyHostToDevice);
}

int rnn4j_cuda_download(const rnn4j_cuda_buffer *src, int64_t src_offset, void *dst, int64_t bytes) {
    static const char fn[] = "rnn4j_cuda_download";
    int st;
    if ((st = check_buffer(fn, "src", src, NULL)) || (st = check_bytes(fn, "src", src, src_offset, bytes))) return st;
    if (bytes == 0) return rnn4j_ok();
    if ((st = check_out(fn, "dst", dst))) return st;
    return copy_and_wait(fn, src->dev, dst, (const char *) src->ptr + src_offset, bytes, cudaMemcpyDeviceToHost);
}

int rnn4j_cuda_memcpy(const rnn4j_cuda_buffer *src, int64_t src_offset, rnn4j_cuda_buffer *dst, int64_t dst_offset,
                      int64_t bytes) {
    static const char fn[] = "rnn4j_cuda_memcpy";
    int st;
    if ((st = check_buffer(fn, "src", src, NULL)) || (st = check_buffer(fn, "dst", dst, src->dev)) ||
        (st = check_bytes(fn, "src", src, src_offset, bytes)) || (st = check_bytes(fn, "dst", dst, dst_offset, bytes)))
        return st;
    if (src == dst && src_offset < dst_offset + bytes && dst_offset < src_offset + bytes)
        return INVALID("%s: source bytes [%lld, +%lld) and destination bytes [%lld, +%lld) overlap", fn,
                       (long long) src_offset, (long long) bytes, (long long) dst_offset, (long long) bytes);
    if (bytes == 0) return rnn4j_ok();
    if ((st = enter(fn, dst->dev))) return st;
    cudaError_t e = cudaMemcpyAsync((char *) dst->ptr + dst_offset, (const char *) src->ptr + src_offset,
                                    (size_t) bytes, cudaMemcpyDeviceToDevice, dst->dev->stream);
    return e == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, "cudaMemcpyAsync", e);
}

/* ------------------------------------------------------------------ staged transfers */

int rnn4j_cuda_staging(rnn4j_cuda_device *dev, void **host, int64_t *slot_bytes, int *slots) {
    static const char fn[] = "rnn4j_cuda_staging";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_out(fn, "host", host)) ||
        (st = check_out(fn, "slot_bytes", slot_bytes)) || (st = check_out(fn, "slots", slots)))
        return st;
    *host = dev->staging;
    *slot_bytes = RNN4J_CUDA_STAGING_BYTES;
    *slots = RNN4J_CUDA_STAGING_SLOTS;
    return rnn4j_ok();
}

static int check_slot(const char *fn, int slot, int64_t bytes) {
    if (slot < 0 || slot >= RNN4J_CUDA_STAGING_SLOTS)
        return INVALID("%s: staging slot %d outside [0, %d)", fn, slot, RNN4J_CUDA_STAGING_SLOTS);
    if (bytes < 0 || bytes > RNN4J_CUDA_STAGING_BYTES)
        return INVALID("%s: %lld bytes do not fit a staging slot of %lld", fn, (long long) bytes,
                       (long long) RNN4J_CUDA_STAGING_BYTES);
    return RNN4J_OK;
}

int rnn4j_cuda_staging_wait(rnn4j_cuda_device *dev, int slot) {
    static const char fn[] = "rnn4j_cuda_staging_wait";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_slot(fn, slot, 0)) || (st = enter(fn, dev))) return st;
    cudaError_t e = cudaEventSynchronize(dev->slot_done[slot]);
    return e == cudaSuccess ? rnn4j_ok() : cuda_fail(fn, "cudaEventSynchronize", e);
}

/*
 * Queues one copy between a staging slot and device memory on the copy stream: after the work
 * queued on the compute stream so far, and before the work queued there afterwards. Returns
 * once queued; slot_done[slot] marks its end.
 */
static int staged_copy(const char *fn, rnn4j_cuda_device *dev, void *dst, const void *src, int64_t bytes, int slot,
                       enum cudaMemcpyKind kind) {
    int st = enter(fn, dev);
    if (st) return st;
    cudaError_t e;
    const char *what;
    pthread_mutex_lock(&dev->lock); /* the two shared events are recorded and waited on as a pair */
    if ((e = cudaEventRecord(dev->compute_ready, dev->stream)) != cudaSuccess) what = "cudaEventRecord";
    else if ((e = cudaStreamWaitEvent(dev->copy_stream, dev->compute_ready, 0)) != cudaSuccess) what = "cudaStreamWaitEvent";
    else if ((e = cudaMemcpyAsync(dst, src, (size_t) bytes, kind, dev->copy_stream)) != cudaSuccess) what = "cudaMemcpyAsync";
    else if ((e = cudaEventRecord(dev->slot_done[slot], dev->copy_stream)) != cudaSuccess) what = "cudaEventRecord";
    else if ((e = cudaEventRecord(dev->copy_done, dev->copy_stream)) != cudaSuccess) what = "cudaEventRecord";
    else if ((e = cudaStreamWaitEvent(dev->stream, dev->copy_done, 0)) != cudaSuccess) what = "cudaStreamWaitEvent";
    else what = NULL;
    pthread_mutex_unlock(&dev->lock);
    return what == NULL ? rnn4j_ok() : cuda_fail(fn, what, e);
}

int rnn4j_cuda_upload_staged(rnn4j_cuda_buffer *dst, int64_t dst_offset, int slot, int64_t bytes) {
    static const char fn[] = "rnn4j_cuda_upload_staged";
    int st;
    if ((st = check_buffer(fn, "dst", dst, NULL)) || (st = check_bytes(fn, "dst", dst, dst_offset, bytes)) ||
        (st = check_slot(fn, slot, bytes)))
        return st;
    if (bytes == 0) return rnn4j_ok();
    rnn4j_cuda_device *dev = dst->dev;
    const char *from = (const char *) dev->staging + (int64_t) slot * RNN4J_CUDA_STAGING_BYTES;
    return staged_copy(fn, dev, (char *) dst->ptr + dst_offset, from, bytes, slot, cudaMemcpyHostToDevice);
}

int rnn4j_cuda_download_staged(const rnn4j_cuda_buffer *src, int64_t src_offset, int slot, int64_t bytes) {
    static const char fn[] = "rnn4j_cuda_download_staged";
    int st;
    if ((st = check_buffer(fn, "src", src, NULL)) || (st = check_bytes(fn, "src", src, src_offset, bytes)) ||
        (st = check_slot(fn, slot, bytes)))
        return st;
    if (bytes == 0) return rnn4j_ok();
    rnn4j_cuda_device *dev = src->dev;
    char *to = (char *) dev->staging + (int64_t) slot * RNN4J_CUDA_STAGING_BYTES;
    return staged_copy(fn, dev, to, (const char *) src->ptr + src_offset, bytes, slot, cudaMemcpyDeviceToHost);
}

/*
 * Copies n host ints to dev->ints (grown as needed) in stream order: through dev->pinned_ints,
 * whose previous upload must have finished before it is rewritten (ints_done), but with no
 * wait for the rest of the stream. Call under dev->lock.
 */
static int upload_ints(const char *fn, rnn4j_cuda_device *dev, const int32_t *src, int64_t n, const char *what) {
    int64_t bytes = n * (int64_t) sizeof(int32_t);
    int st = grow_scratch(fn, dev, (void **) &dev->ints, &dev->ints_capacity, bytes, what);
    if (st) return st;
    cudaError_t e = cudaEventSynchronize(dev->ints_done);
    if (e != cudaSuccess) return cuda_fail(fn, "cudaEventSynchronize", e);
    if (dev->pinned_ints == NULL || dev->pinned_ints_capacity < bytes) {
        int64_t want = bytes > 2 * dev->pinned_ints_capacity ? bytes : 2 * dev->pinned_ints_capacity;
        if (want < 4096) want = 4096;
        if (dev->pinned_ints != NULL && (e = cudaFreeHost(dev->pinned_ints)) != cudaSuccess) {
            dev->pinned_ints = NULL;
            dev->pinned_ints_capacity = 0;
            return cuda_fail(fn, "cudaFreeHost", e);
        }
        dev->pinned_ints = NULL;
        dev->pinned_ints_capacity = 0;
        if ((e = cudaHostAlloc((void **) &dev->pinned_ints, (size_t) want, cudaHostAllocPortable)) != cudaSuccess) {
            dev->pinned_ints = NULL;
            return cuda_fail(fn, "cudaHostAlloc(pinned ints)", e);
        }
        dev->pinned_ints_capacity = want;
    }
    memcpy(dev->pinned_ints, src, (size_t) bytes);
    if ((e = cudaMemcpyAsync(dev->ints, dev->pinned_ints, (size_t) bytes, cudaMemcpyHostToDevice, dev->stream)) !=
        cudaSuccess)
        return cuda_fail(fn, "cudaMemcpyAsync", e);
    if ((e = cudaEventRecord(dev->ints_done, dev->stream)) != cudaSuccess) return cuda_fail(fn, "cudaEventRecord", e);
    return RNN4J_OK;
}

/* ------------------------------------------------------------------ element-wise kernels (rnn4j_cuda_ops.h) */

/*
 * Each entry of RNN4J_CUDA_ELEMENTWISE_OPS becomes rnn4j_cuda_launch_<name>: every argument checked
 * (what each operand kind adds: EW_CHECK), then rnn4j_<name> launched one thread per element with
 * (n, operands...) as its argument array (EW_LOCAL holds each value in the kernel's type, EW_REF
 * points the array at it).
 */
#define EW_CHECK(kind, x) EW_CHECK_##kind(x)
#define EW_CHECK_f32(x)
#define EW_CHECK_in(x) if ((st = check_range(fn, #x, dev, x, x##_off, n))) return st;
#define EW_CHECK_out(x) EW_CHECK_in(x)
#define EW_LOCAL(kind, x) EW_LOCAL_##kind(x)
#define EW_LOCAL_f32(x) float x##_a = x;
#define EW_LOCAL_in(x) const float *x##_a = cptr(x); long long x##_o = x##_off;
#define EW_LOCAL_out(x) float *x##_a = ptr(x); long long x##_o = x##_off;
#define EW_REF(kind, x) EW_REF_##kind(x)
#define EW_REF_f32(x) , &x##_a
#define EW_REF_in(x) , &x##_a, &x##_o
#define EW_REF_out(x) , &x##_a, &x##_o

#define DEFINE_ELEMENTWISE(ctx, name, ...)                                                  \
    int rnn4j_cuda_launch_##name RNN4J_EW_PARAMS(__VA_ARGS__) {                             \
        static const char fn[] = "rnn4j_cuda_launch_" #name;                                \
        int st;                                                                             \
        if ((st = check_device(fn, dev)) || (st = check_nonneg(fn, "n", n))) return st;     \
        RNN4J_EACH(EW_CHECK, __VA_ARGS__)                                                   \
        if (n == 0) return rnn4j_ok();                                                      \
        if ((st = enter(fn, dev))) return st;                                               \
        long long n_a = n;                                                                  \
        RNN4J_EACH(EW_LOCAL, __VA_ARGS__)                                                   \
        void *args[] = {&n_a RNN4J_EACH(EW_REF, __VA_ARGS__)};                              \
        return launch_1d(fn, "rnn4j_" #name, dev, (const void *) rnn4j_##name, n, args);   \
    }
RNN4J_CUDA_ELEMENTWISE_OPS(DEFINE_ELEMENTWISE, _)

/* ------------------------------------------------------------------ copy.cl */

int rnn4j_cuda_launch_copy2d(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *src, int64_t src_off,
                             int src_ld, rnn4j_cuda_buffer *dst, int64_t dst_off, int dst_ld) {
    static const char fn[] = "rnn4j_cuda_launch_copy2d";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_matrix(fn, "src", dev, src, src_off, rows, cols, src_ld, 1, 0)) ||
        (st = check_matrix(fn, "dst", dev, dst, dst_off, rows, cols, dst_ld, 1, 0)))
        return st;
    if (rows == 0 || cols == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    for (int64_t r0 = 0; r0 < rows; r0 += WIDE_ROWS_PER_LAUNCH) {
        int r = (int) (rows - r0 < WIDE_ROWS_PER_LAUNCH ? rows - r0 : WIDE_ROWS_PER_LAUNCH);
        struct {
            int rows, cols;
            const float *src;
            long long srcOff;
            int srcLd;
            float *dst;
            long long dstOff;
            int dstLd;
        } ka = {.rows = r, .cols = cols, .src = cptr(src), .srcOff = src_off + r0 * src_ld, .srcLd = src_ld,
                .dst = ptr(dst), .dstOff = dst_off + r0 * dst_ld, .dstLd = dst_ld};
        void *args[] = {&ka.rows, &ka.cols, &ka.src, &ka.srcOff, &ka.srcLd, &ka.dst, &ka.dstOff, &ka.dstLd};
        dim3 grid = {wide_cols(cols), wide_rows(r), 1}, block = {WIDE_X, WIDE_Y, 1};
        if ((st = launch(fn, "rnn4j_copy2d", dev, (const void *) rnn4j_copy2d, grid, block, args))) return st;
    }
    return rnn4j_ok();
}

/* ------------------------------------------------------------------ elementwise.cl */

int rnn4j_cuda_launch_mul_rows(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *x, int64_t x_off,
                               const rnn4j_cuda_buffer *m, int64_t m_off, rnn4j_cuda_buffer *out, int64_t out_off) {
    static const char fn[] = "rnn4j_cuda_launch_mul_rows";
    int st;
    if ((st = check_device(fn, dev))) return st;
    if (rows < 0 || cols < 0) return INVALID("%s: negative size %d x %d", fn, rows, cols);
    int64_t n = (int64_t) rows * cols;
    if ((st = check_range(fn, "x", dev, x, x_off, n)) || (st = check_range(fn, "m", dev, m, m_off, n == 0 ? 0 : cols)) ||
        (st = check_range(fn, "out", dev, out, out_off, n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int rows, cols;
        const float *x;
        long long xOff;
        const float *m;
        long long mOff;
        float *out;
        long long outOff;
    } ka = {.rows = rows, .cols = cols, .x = cptr(x), .xOff = x_off, .m = cptr(m), .mOff = m_off, .out = ptr(out),
            .outOff = out_off};
    void *args[] = {&ka.rows, &ka.cols, &ka.x, &ka.xOff, &ka.m, &ka.mOff, &ka.out, &ka.outOff};
    return launch_1d(fn, "rnn4j_mul_rows", dev, (const void *) rnn4j_mul_rows, n, args);
}

int rnn4j_cuda_launch_add_row_vector(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *bias,
                                     int64_t bias_off, rnn4j_cuda_buffer *c, int64_t c_off, int ldc) {
    static const char fn[] = "rnn4j_cuda_launch_add_row_vector";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_matrix(fn, "c", dev, c, c_off, rows, cols, ldc, 1, 0)) ||
        (st = check_range(fn, "bias", dev, bias, bias_off, rows == 0 ? 0 : cols)))
        return st;
    if (rows == 0 || cols == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    for (int64_t r0 = 0; r0 < rows; r0 += WIDE_ROWS_PER_LAUNCH) {
        int r = (int) (rows - r0 < WIDE_ROWS_PER_LAUNCH ? rows - r0 : WIDE_ROWS_PER_LAUNCH);
        struct {
            int rows, cols;
            const float *bias;
            long long biasOff;
            float *c;
            long long cOff;
            int ldc;
        } ka = {.rows = r, .cols = cols, .bias = cptr(bias), .biasOff = bias_off, .c = ptr(c), .cOff = c_off + r0 * ldc,
                .ldc = ldc};
        void *args[] = {&ka.rows, &ka.cols, &ka.bias, &ka.biasOff, &ka.c, &ka.cOff, &ka.ldc};
        dim3 grid = {wide_cols(cols), wide_rows(r), 1}, block = {WIDE_X, WIDE_Y, 1};
        if ((st = launch(fn, "rnn4j_add_row_vector", dev, (const void *) rnn4j_add_row_vector, grid, block, args)))
            return st;
    }
    return rnn4j_ok();
}

/* ------------------------------------------------------------------ reduce.cl */

int rnn4j_cuda_launch_sum_rows(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *a, int64_t a_off,
                               int lda, float beta, rnn4j_cuda_buffer *out, int64_t out_off) {
    static const char fn[] = "rnn4j_cuda_launch_sum_rows";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_matrix(fn, "a", dev, a, a_off, rows, cols, lda, 1, 0)) ||
        (st = check_range(fn, "out", dev, out, out_off, cols)))
        return st;
    if (cols == 0) return rnn4j_ok(); /* rows == 0 still writes out = beta * out */
    if ((st = enter(fn, dev))) return st;
    struct {
        int rows, cols;
        const float *a;
        long long aOff;
        int lda;
        float beta;
        float *out;
        long long outOff;
    } ka = {.rows = rows, .cols = cols, .a = cptr(a), .aOff = a_off, .lda = lda, .beta = beta, .out = ptr(out),
            .outOff = out_off};
    void *args[] = {&ka.rows, &ka.cols, &ka.a, &ka.aOff, &ka.lda, &ka.beta, &ka.out, &ka.outOff};
    /* a warp per row segment: WIDE_X columns per block, WIDE_Y threads down each column */
    dim3 grid = {wide_cols(cols), 1, 1}, block = {WIDE_X, WIDE_Y, 1};
    return launch(fn, "rnn4j_sum_rows", dev, (const void *) rnn4j_sum_rows, grid, block, args);
}

int rnn4j_cuda_sum_squares(rnn4j_cuda_device *dev, int64_t n, const rnn4j_cuda_buffer *x, int64_t off, double *out) {
    static const char fn[] = "rnn4j_cuda_sum_squares";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_out(fn, "out", out)) || (st = check_nonneg(fn, "n", n)) ||
        (st = check_range(fn, "x", dev, x, off, n)))
        return st;
    if (n == 0) {
        *out = 0.0;
        return rnn4j_ok();
    }
    if ((st = enter(fn, dev))) return st;
    const int64_t local = (int64_t) RNN4J_CUDA_TILE * RNN4J_CUDA_TILE;
    int64_t groups = (n + local - 1) / local;
    if (groups > RNN4J_CUDA_MAX_PARTIALS) groups = RNN4J_CUDA_MAX_PARTIALS;
    float part[RNN4J_CUDA_MAX_PARTIALS];
    struct {
        long long n;
        const float *x;
        long long off;
        float *partial;
    } ka = {.n = n, .x = cptr(x), .off = off, .partial = dev->partials};
    void *args[] = {&ka.n, &ka.x, &ka.off, &ka.partial};
    dim3 grid = {(unsigned) groups, 1, 1}, block = {(unsigned) local, 1, 1};
    pthread_mutex_lock(&dev->lock); /* the partials buffer is shared by the device's callers */
    st = launch(fn, "rnn4j_sum_squares_partial", dev, (const void *) rnn4j_sum_squares_partial, grid, block, args);
    if (st == RNN4J_OK)
        st = copy_and_wait(fn, dev, part, dev->partials, groups * (int64_t) sizeof(float), cudaMemcpyDeviceToHost);
    pthread_mutex_unlock(&dev->lock);
    if (st) return st;
    double s = 0.0;
    for (int64_t g = 0; g < groups; g++) s += part[g];
    *out = s;
    return rnn4j_ok();
}

/* ------------------------------------------------------------------ dropout_mask.cl */

int rnn4j_cuda_launch_dropout_mask(rnn4j_cuda_device *dev, int64_t n, float p, int64_t seed, rnn4j_cuda_buffer *out,
                                   int64_t out_off) {
    static const char fn[] = "rnn4j_cuda_launch_dropout_mask";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_nonneg(fn, "n", n))) return st;
    if (!(p >= 0.0f && p < 1.0f)) return INVALID("%s: dropout probability must be in [0, 1), got %g", fn, (double) p);
    if (n > ((int64_t) 1 << 32)) return INVALID("%s: %lld elements: at most 2^32 per mask", fn, (long long) n);
    if ((st = check_range(fn, "out", dev, out, out_off, n))) return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    /* scale in float32, as the reference computes it */
    struct {
        long long n;
        float p, scale;
        unsigned k0, k1;
        float *out;
        long long outOff;
    } ka = {.n = n, .p = p, .scale = 1.0f / (1.0f - p), .k0 = (unsigned) ((uint64_t) seed & 0xffffffffu),
            .k1 = (unsigned) ((uint64_t) seed >> 32), .out = ptr(out), .outOff = out_off};
    void *args[] = {&ka.n, &ka.p, &ka.scale, &ka.k0, &ka.k1, &ka.out, &ka.outOff};
    return launch_1d(fn, "rnn4j_dropout_mask", dev, (const void *) rnn4j_dropout_mask, n, args);
}

/* ------------------------------------------------------------------ gemm.cl and cuBLAS */

/* Validates a GEMM call; *empty tells whether it has nothing to do. */
static int check_gemm(const char *fn, const rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k,
                      const rnn4j_cuda_buffer *a, int64_t a_off, int lda, const rnn4j_cuda_buffer *b, int64_t b_off,
                      int ldb, const rnn4j_cuda_buffer *c, int64_t c_off, int ldc, int batch, int64_t stride_a,
                      int64_t stride_b, int64_t stride_c, int *empty) {
    int st = check_device(fn, dev);
    if (st) return st;
    if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
        return INVALID("%s: trans_a and trans_b must be 0 or 1, got %d and %d", fn, trans_a, trans_b);
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return INVALID("%s: negative size m=%d n=%d k=%d batch=%d", fn, m, n, k, batch);
    *empty = m == 0 || n == 0 || batch == 0;
    int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k, b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
    if ((st = check_matrix(fn, "a", dev, a, a_off, *empty ? 0 : a_rows, a_cols, lda, batch, stride_a)) ||
        (st = check_matrix(fn, "b", dev, b, b_off, *empty ? 0 : b_rows, b_cols, ldb, batch, stride_b)) ||
        (st = check_matrix(fn, "c", dev, c, c_off, m, n, ldc, batch, stride_c)))
        return st;
    return RNN4J_OK;
}

static int gemm_kernel(const char *fn, rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const rnn4j_cuda_buffer *a, int64_t a_off, int lda, const rnn4j_cuda_buffer *b,
                       int64_t b_off, int ldb, float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc, int batch,
                       int64_t stride_a, int64_t stride_b, int64_t stride_c) {
    unsigned groups_z = (unsigned) (batch < RNN4J_CUDA_MAX_GRID_YZ ? batch : RNN4J_CUDA_MAX_GRID_YZ);
    /* As the OpenCL backend: 4 x 4 outputs per thread when C spans whole 64 x 64 blocks, else one
     * (small m or n, e.g. the per-step recurrent product, keeps more blocks busy that way). */
    const int64_t block = (int64_t) RNN4J_CUDA_TILE * RNN4J_CUDA_GEMM_WPT;
    const int blocked = m >= block && n >= block;
    const int64_t span = blocked ? block : RNN4J_CUDA_TILE; /* rows (and columns) of C per thread block */
    const int64_t rows_per_launch = (int64_t) RNN4J_CUDA_MAX_GRID_YZ * span;
    const void *func = blocked ? (const void *) rnn4j_gemm_blocked : (const void *) rnn4j_gemm;
    int st;
    /* Slices of at most rows_per_launch rows of C; a slice's A starts r0 rows (or columns, if
     * transposed) further on. */
    for (int64_t r0 = 0; r0 < m; r0 += rows_per_launch) {
        int mm = (int) (m - r0 < rows_per_launch ? m - r0 : rows_per_launch);
        struct {
            int transA, transB, m, n, k;
            float alpha;
            const float *a;
            long long aOff;
            int lda;
            const float *b;
            long long bOff;
            int ldb;
            float beta;
            float *c;
            long long cOff;
            int ldc, batch;
            long long strideA, strideB, strideC;
        } ka = {.transA = trans_a, .transB = trans_b, .m = mm, .n = n, .k = k, .alpha = alpha, .a = cptr(a),
                .aOff = a_off + (trans_a ? r0 : r0 * lda), .lda = lda, .b = cptr(b), .bOff = b_off, .ldb = ldb,
                .beta = beta, .c = ptr(c), .cOff = c_off + r0 * ldc, .ldc = ldc, .batch = batch, .strideA = stride_a,
                .strideB = stride_b, .strideC = stride_c};
        void *args[] = {&ka.transA, &ka.transB, &ka.m, &ka.n, &ka.k, &ka.alpha, &ka.a, &ka.aOff, &ka.lda, &ka.b,
                        &ka.bOff, &ka.ldb, &ka.beta, &ka.c, &ka.cOff, &ka.ldc, &ka.batch, &ka.strideA, &ka.strideB,
                        &ka.strideC};
        dim3 grid = {(unsigned) ((n + span - 1) / span), (unsigned) ((mm + span - 1) / span), groups_z},
             threads = {RNN4J_CUDA_TILE, RNN4J_CUDA_TILE, 1};
        if ((st = launch(fn, blocked ? "rnn4j_gemm_blocked" : "rnn4j_gemm", dev, func, grid, threads, args))) return st;
    }
    return rnn4j_ok();
}

int rnn4j_cuda_launch_gemm(rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const rnn4j_cuda_buffer *a, int64_t a_off, int lda, const rnn4j_cuda_buffer *b, int64_t b_off,
                           int ldb, float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc, int batch,
                           int64_t stride_a, int64_t stride_b, int64_t stride_c) {
    static const char fn[] = "rnn4j_cuda_launch_gemm";
    int empty = 0;
    int st = check_gemm(fn, dev, trans_a, trans_b, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc, batch,
                        stride_a, stride_b, stride_c, &empty);
    if (st) return st;
    if (empty) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    return gemm_kernel(fn, dev, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc,
                       batch, stride_a, stride_b, stride_c);
}

static int max1(int v) { return v > 1 ? v : 1; }

int rnn4j_cuda_gemm(rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const rnn4j_cuda_buffer *a, int64_t a_off, int lda, const rnn4j_cuda_buffer *b, int64_t b_off,
                    int ldb, float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc, int batch, int64_t stride_a,
                    int64_t stride_b, int64_t stride_c) {
    static const char fn[] = "rnn4j_cuda_gemm";
    int empty = 0;
    int st = check_gemm(fn, dev, trans_a, trans_b, m, n, k, a, a_off, lda, b, b_off, ldb, c, c_off, ldc, batch,
                        stride_a, stride_b, stride_c, &empty);
    if (st) return st;
    if (empty) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    /* cuBLAS wants each leading dimension to be at least the stored row length (column-major:
     * the column height) and we keep k == 0 (C = beta C, C unread when beta == 0) on the kernel,
     * whose semantics are the reference's by construction. */
    int a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    int cublas_ok = dev->cublas != NULL && k > 0 && lda >= max1(a_cols) && ldb >= max1(b_cols) && ldc >= max1(n);
    if (!cublas_ok)
        return gemm_kernel(fn, dev, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c, c_off,
                           ldc, batch, stride_a, stride_b, stride_c);
    const char *status = NULL;
    pthread_mutex_lock(&dev->lock); /* one cuBLAS handle per device; calls on it are serialised */
    int s = rnn4j_cublas_sgemm(dev->cublas, trans_a, trans_b, m, n, k, alpha, cptr(a) + a_off, lda, stride_a,
                               cptr(b) + b_off, ldb, stride_b, beta, ptr(c) + c_off, ldc, stride_c, batch, &status);
    pthread_mutex_unlock(&dev->lock);
    if (s != 0) return rnn4j_fail(RNN4J_ERR_DEVICE, "%s: cublasSgemmStridedBatched failed: %s (%d)", fn, status, s);
    return rnn4j_ok();
}

/* ------------------------------------------------------------------ rnn_pointwise.cl */

int rnn4j_cuda_launch_rnn_pointwise_fwd(rnn4j_cuda_device *dev, int act, int64_t n, const rnn4j_cuda_buffer *pre,
                                        int64_t pre_off, rnn4j_cuda_buffer *h, int64_t h_off) {
    static const char fn[] = "rnn4j_cuda_launch_rnn_pointwise_fwd";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_activation(fn, act)) || (st = check_nonneg(fn, "n", n)) ||
        (st = check_range(fn, "pre", dev, pre, pre_off, n)) || (st = check_range(fn, "h", dev, h, h_off, n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int act;
        long long n;
        const float *pre;
        long long preOff;
        float *h;
        long long hOff;
    } ka = {.act = act, .n = n, .pre = cptr(pre), .preOff = pre_off, .h = ptr(h), .hOff = h_off};
    void *args[] = {&ka.act, &ka.n, &ka.pre, &ka.preOff, &ka.h, &ka.hOff};
    return launch_1d(fn, "rnn4j_rnn_pointwise_fwd", dev, (const void *) rnn4j_rnn_pointwise_fwd, n, args);
}

int rnn4j_cuda_launch_rnn_pointwise_bwd(rnn4j_cuda_device *dev, int act, int64_t n, const rnn4j_cuda_buffer *h,
                                        int64_t h_off, const rnn4j_cuda_buffer *dh, int64_t dh_off,
                                        rnn4j_cuda_buffer *dpre, int64_t dpre_off) {
    static const char fn[] = "rnn4j_cuda_launch_rnn_pointwise_bwd";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_activation(fn, act)) || (st = check_nonneg(fn, "n", n)) ||
        (st = check_range(fn, "h", dev, h, h_off, n)) || (st = check_range(fn, "dh", dev, dh, dh_off, n)) ||
        (st = check_range(fn, "dpre", dev, dpre, dpre_off, n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int act;
        long long n;
        const float *h;
        long long hOff;
        const float *dh;
        long long dhOff;
        float *dpre;
        long long dpreOff;
    } ka = {.act = act, .n = n, .h = cptr(h), .hOff = h_off, .dh = cptr(dh), .dhOff = dh_off, .dpre = ptr(dpre),
            .dpreOff = dpre_off};
    void *args[] = {&ka.act, &ka.n, &ka.h, &ka.hOff, &ka.dh, &ka.dhOff, &ka.dpre, &ka.dpreOff};
    return launch_1d(fn, "rnn4j_rnn_pointwise_bwd", dev, (const void *) rnn4j_rnn_pointwise_bwd, n, args);
}

/* ------------------------------------------------------------------ lstm_pointwise.cl */

/* batch * hidden states, both >= 0. */
static int states(const char *fn, int batch, int hidden, int64_t *n) {
    if (batch < 0 || hidden < 0) return INVALID("%s: negative size batch=%d hidden=%d", fn, batch, hidden);
    *n = (int64_t) batch * hidden;
    /* the gate blocks hold 4n elements */
    if (*n > INT64_MAX / 4) return INVALID("%s: sizes overflow (batch=%d hidden=%d)", fn, batch, hidden);
    return RNN4J_OK;
}

int rnn4j_cuda_launch_lstm_pointwise_fwd(rnn4j_cuda_device *dev, int batch, int hidden, rnn4j_cuda_buffer *gates,
                                         int64_t g_off, const rnn4j_cuda_buffer *c_prev, int64_t c_prev_off,
                                         rnn4j_cuda_buffer *c, int64_t c_off, rnn4j_cuda_buffer *h, int64_t h_off) {
    static const char fn[] = "rnn4j_cuda_launch_lstm_pointwise_fwd";
    int64_t n = 0;
    int st;
    if ((st = check_device(fn, dev)) || (st = states(fn, batch, hidden, &n)) ||
        (st = check_range(fn, "gates", dev, gates, g_off, 4 * n)) ||
        (st = check_range(fn, "c_prev", dev, c_prev, c_prev_off, n)) || (st = check_range(fn, "c", dev, c, c_off, n)) ||
        (st = check_range(fn, "h", dev, h, h_off, n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int batch, hidden;
        float *gates;
        long long gOff;
        const float *cPrev;
        long long cPrevOff;
        float *c;
        long long cOff;
        float *h;
        long long hOff;
    } ka = {.batch = batch, .hidden = hidden, .gates = ptr(gates), .gOff = g_off, .cPrev = cptr(c_prev),
            .cPrevOff = c_prev_off, .c = ptr(c), .cOff = c_off, .h = ptr(h), .hOff = h_off};
    void *args[] = {&ka.batch, &ka.hidden, &ka.gates, &ka.gOff, &ka.cPrev, &ka.cPrevOff, &ka.c, &ka.cOff, &ka.h,
                    &ka.hOff};
    return launch_1d(fn, "rnn4j_lstm_pointwise_fwd", dev, (const void *) rnn4j_lstm_pointwise_fwd, n, args);
}

int rnn4j_cuda_launch_lstm_pointwise_bwd(rnn4j_cuda_device *dev, int batch, int hidden, const rnn4j_cuda_buffer *gates,
                                         int64_t g_off, const rnn4j_cuda_buffer *c_prev, int64_t c_prev_off,
                                         const rnn4j_cuda_buffer *c, int64_t c_off, const rnn4j_cuda_buffer *dh,
                                         int64_t dh_off, const rnn4j_cuda_buffer *dc_next, int64_t dc_next_off,
                                         rnn4j_cuda_buffer *d_gates, int64_t dg_off, rnn4j_cuda_buffer *dc_prev,
                                         int64_t dc_prev_off) {
    static const char fn[] = "rnn4j_cuda_launch_lstm_pointwise_bwd";
    int64_t n = 0;
    int st;
    if ((st = check_device(fn, dev)) || (st = states(fn, batch, hidden, &n)) ||
        (st = check_range(fn, "gates", dev, gates, g_off, 4 * n)) ||
        (st = check_range(fn, "c_prev", dev, c_prev, c_prev_off, n)) || (st = check_range(fn, "c", dev, c, c_off, n)) ||
        (st = check_range(fn, "dh", dev, dh, dh_off, n)) ||
        (st = check_optional(fn, "dc_next", dev, dc_next, dc_next_off, n)) ||
        (st = check_range(fn, "d_gates", dev, d_gates, dg_off, 4 * n)) ||
        (st = check_range(fn, "dc_prev", dev, dc_prev, dc_prev_off, n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int batch, hidden;
        const float *gates;
        long long gOff;
        const float *cPrev;
        long long cPrevOff;
        const float *c;
        long long cOff;
        const float *dh;
        long long dhOff;
        int hasDcNext;
        const float *dcNext;
        long long dcNextOff;
        float *dGates;
        long long dgOff;
        float *dcPrev;
        long long dcPrevOff;
    } ka = {.batch = batch, .hidden = hidden, .gates = cptr(gates), .gOff = g_off, .cPrev = cptr(c_prev),
            .cPrevOff = c_prev_off, .c = cptr(c), .cOff = c_off, .dh = cptr(dh), .dhOff = dh_off,
            .hasDcNext = dc_next != NULL, .dcNext = cptr(dc_next), .dcNextOff = dc_next != NULL ? dc_next_off : 0,
            .dGates = ptr(d_gates), .dgOff = dg_off, .dcPrev = ptr(dc_prev), .dcPrevOff = dc_prev_off};
    void *args[] = {&ka.batch, &ka.hidden, &ka.gates, &ka.gOff, &ka.cPrev, &ka.cPrevOff, &ka.c, &ka.cOff, &ka.dh,
                    &ka.dhOff, &ka.hasDcNext, &ka.dcNext, &ka.dcNextOff, &ka.dGates, &ka.dgOff, &ka.dcPrev,
                    &ka.dcPrevOff};
    return launch_1d(fn, "rnn4j_lstm_pointwise_bwd", dev, (const void *) rnn4j_lstm_pointwise_bwd, n, args);
}

/* ------------------------------------------------------------------ gru_pointwise.cl */

int rnn4j_cuda_launch_gru_pointwise_fwd(rnn4j_cuda_device *dev, int batch, int hidden, const rnn4j_cuda_buffer *gx,
                                        int64_t gx_off, const rnn4j_cuda_buffer *gh, int64_t gh_off,
                                        const rnn4j_cuda_buffer *bias_hh, int64_t bias_hh_off,
                                        const rnn4j_cuda_buffer *h_prev, int64_t h_prev_off, rnn4j_cuda_buffer *h,
                                        int64_t h_off, rnn4j_cuda_buffer *saved, int64_t saved_off) {
    static const char fn[] = "rnn4j_cuda_launch_gru_pointwise_fwd";
    int64_t n = 0;
    int st;
    if ((st = check_device(fn, dev)) || (st = states(fn, batch, hidden, &n)) ||
        (st = check_range(fn, "gx", dev, gx, gx_off, 3 * n)) || (st = check_range(fn, "gh", dev, gh, gh_off, 3 * n)) ||
        (st = check_optional(fn, "bias_hh", dev, bias_hh, bias_hh_off, 3 * (int64_t) hidden)) ||
        (st = check_range(fn, "h_prev", dev, h_prev, h_prev_off, n)) || (st = check_range(fn, "h", dev, h, h_off, n)) ||
        (st = check_range(fn, "saved", dev, saved, saved_off, 4 * n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int batch, hidden;
        const float *gx;
        long long gxOff;
        const float *gh;
        long long ghOff;
        int hasBias;
        const float *bias;
        long long biasOff;
        const float *hPrev;
        long long hPrevOff;
        float *h;
        long long hOff;
        float *saved;
        long long savedOff;
    } ka = {.batch = batch, .hidden = hidden, .gx = cptr(gx), .gxOff = gx_off, .gh = cptr(gh), .ghOff = gh_off,
            .hasBias = bias_hh != NULL, .bias = cptr(bias_hh), .biasOff = bias_hh != NULL ? bias_hh_off : 0,
            .hPrev = cptr(h_prev), .hPrevOff = h_prev_off, .h = ptr(h), .hOff = h_off, .saved = ptr(saved),
            .savedOff = saved_off};
    void *args[] = {&ka.batch, &ka.hidden, &ka.gx, &ka.gxOff, &ka.gh, &ka.ghOff, &ka.hasBias, &ka.bias, &ka.biasOff,
                    &ka.hPrev, &ka.hPrevOff, &ka.h, &ka.hOff, &ka.saved, &ka.savedOff};
    return launch_1d(fn, "rnn4j_gru_pointwise_fwd", dev, (const void *) rnn4j_gru_pointwise_fwd, n, args);
}

int rnn4j_cuda_launch_gru_pointwise_bwd(rnn4j_cuda_device *dev, int batch, int hidden, const rnn4j_cuda_buffer *saved,
                                        int64_t saved_off, const rnn4j_cuda_buffer *h_prev, int64_t h_prev_off,
                                        const rnn4j_cuda_buffer *dh, int64_t dh_off, rnn4j_cuda_buffer *dgx,
                                        int64_t dgx_off, rnn4j_cuda_buffer *dgh, int64_t dgh_off,
                                        rnn4j_cuda_buffer *dh_prev_partial, int64_t dhp_off) {
    static const char fn[] = "rnn4j_cuda_launch_gru_pointwise_bwd";
    int64_t n = 0;
    int st;
    if ((st = check_device(fn, dev)) || (st = states(fn, batch, hidden, &n)) ||
        (st = check_range(fn, "saved", dev, saved, saved_off, 4 * n)) ||
        (st = check_range(fn, "h_prev", dev, h_prev, h_prev_off, n)) ||
        (st = check_range(fn, "dh", dev, dh, dh_off, n)) || (st = check_range(fn, "dgx", dev, dgx, dgx_off, 3 * n)) ||
        (st = check_range(fn, "dgh", dev, dgh, dgh_off, 3 * n)) ||
        (st = check_range(fn, "dh_prev_partial", dev, dh_prev_partial, dhp_off, n)))
        return st;
    if (n == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int batch, hidden;
        const float *saved;
        long long savedOff;
        const float *hPrev;
        long long hPrevOff;
        const float *dh;
        long long dhOff;
        float *dgx;
        long long dgxOff;
        float *dgh;
        long long dghOff;
        float *dhPrevPartial;
        long long dhpOff;
    } ka = {.batch = batch, .hidden = hidden, .saved = cptr(saved), .savedOff = saved_off, .hPrev = cptr(h_prev),
            .hPrevOff = h_prev_off, .dh = cptr(dh), .dhOff = dh_off, .dgx = ptr(dgx), .dgxOff = dgx_off,
            .dgh = ptr(dgh), .dghOff = dgh_off, .dhPrevPartial = ptr(dh_prev_partial), .dhpOff = dhp_off};
    void *args[] = {&ka.batch, &ka.hidden, &ka.saved, &ka.savedOff, &ka.hPrev, &ka.hPrevOff, &ka.dh, &ka.dhOff, &ka.dgx,
                    &ka.dgxOff, &ka.dgh, &ka.dghOff, &ka.dhPrevPartial, &ka.dhpOff};
    return launch_1d(fn, "rnn4j_gru_pointwise_bwd", dev, (const void *) rnn4j_gru_pointwise_bwd, n, args);
}

/* ------------------------------------------------------------------ sru_fwd.cl, sru_bwd.cl */

/* Checks the SRU shape and computes state = batch*dirs*hidden and seq = seq_len*state. */
static int sru_shape(const char *fn, int seq_len, int batch, int hidden, int dirs, int k, int act, int64_t *cols,
                     int64_t *state, int64_t *seq) {
    if (k != 3 && k != 4) return INVALID("%s: SRU k must be 3 or 4, got %d", fn, k);
    if (dirs != 1 && dirs != 2) return INVALID("%s: dirs must be 1 or 2, got %d", fn, dirs);
    if (seq_len < 0 || batch < 0 || hidden < 0)
        return INVALID("%s: negative size seq_len=%d batch=%d hidden=%d", fn, seq_len, batch, hidden);
    int st = check_activation(fn, act);
    if (st) return st;
    *cols = (int64_t) dirs * hidden;
    int64_t unused;
    /* The largest multiples used are 2 * state (d_bias) and k * seq (u, du): refuse their overflow. */
    if ((st = product(fn, batch, *cols, 2, &unused)) || (st = product(fn, seq_len, (int64_t) batch * *cols, 4, &unused)))
        return st;
    *state = (int64_t) batch * *cols;
    *seq = (int64_t) seq_len * *state;
    return RNN4J_OK;
}

/* The 2.x lengths (host, batch entries in 1..seq_len, or NULL): checked with the other arguments,
 * before the device is touched. */
static int check_lengths(const char *fn, const int32_t *lengths, int batch, int seq_len) {
    if (lengths == NULL) return RNN4J_OK;
    for (int b = 0; b < batch; b++)
        if (lengths[b] < 1 || lengths[b] > seq_len)
            return INVALID("%s: lengths[%d] = %d is outside 1..%d", fn, b, (int) lengths[b], seq_len);
    return RNN4J_OK;
}

/* Stages checked lengths into the device's int scratch; the caller holds dev->lock until its
 * launch is enqueued. */
static int sru_lengths(const char *fn, rnn4j_cuda_device *dev, const int32_t *lengths, int batch, const int **staged) {
    *staged = NULL;
    if (lengths == NULL) return RNN4J_OK;
    int st = grow_scratch(fn, dev, (void **) &dev->ints, &dev->ints_capacity, (int64_t) batch * 4, "sru lengths");
    if (st == RNN4J_OK) st = copy_and_wait(fn, dev, dev->ints, lengths, (int64_t) batch * 4, cudaMemcpyHostToDevice);
    if (st == RNN4J_OK) *staged = dev->ints;
    return st;
}

int rnn4j_cuda_launch_sru_fwd(rnn4j_cuda_device *dev, int seq_len, int batch, int hidden, int dirs, int k, int act,
                              const rnn4j_cuda_buffer *u, int64_t u_off, const rnn4j_cuda_buffer *x, int64_t x_off,
                              const rnn4j_cuda_buffer *bias, int64_t bias_off, const rnn4j_cuda_buffer *c0,
                              int64_t c0_off, const rnn4j_cuda_buffer *mask, int64_t mask_off,
                              const rnn4j_cuda_buffer *weight_c, int64_t weight_c_off, float scale, int has_skip,
                              int mask_on_gate, const int32_t *lengths, rnn4j_cuda_buffer *h,
                              int64_t h_off, rnn4j_cuda_buffer *c, int64_t c_off, rnn4j_cuda_buffer *c_last,
                              int64_t c_last_off) {
    static const char fn[] = "rnn4j_cuda_launch_sru_fwd";
    int64_t cols = 0, state = 0, seq = 0;
    int st;
    if ((st = check_device(fn, dev)) || (st = sru_shape(fn, seq_len, batch, hidden, dirs, k, act, &cols, &state, &seq)))
        return st;
    if (!has_skip && k != 3) return INVALID("%s: without the skip term k must be 3, got %d", fn, k);
    int reads_x = has_skip && k == 3;
    if (!reads_x) x = NULL; /* the skip input is a column of u, or there is none */
    if ((st = check_range(fn, "u", dev, u, u_off, seq * k)) ||
        (reads_x && (st = check_range(fn, "x", dev, x, x_off, seq))) ||
        (st = check_range(fn, "bias", dev, bias, bias_off, 2 * cols)) ||
        (st = check_optional(fn, "c0", dev, c0, c0_off, state)) ||
        (st = check_optional(fn, "mask", dev, mask, mask_off, state)) ||
        (st = check_optional(fn, "weight_c", dev, weight_c, weight_c_off, 2 * cols)) ||
        (st = check_range(fn, "h", dev, h, h_off, seq)) || (st = check_range(fn, "c", dev, c, c_off, seq)) ||
        (st = check_range(fn, "c_last", dev, c_last, c_last_off, state)) ||
        (st = check_lengths(fn, lengths, batch, seq_len)))
        return st;
    if (state == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    pthread_mutex_lock(&dev->lock); /* the int scratch is shared by the device's callers */
    const int *lp = NULL;
    st = sru_lengths(fn, dev, lengths, batch, &lp);
    if (st == RNN4J_OK) {
        struct {
            int seqLen, batch, hidden, dirs, k, act;
            const float *u;
            long long uOff;
            const float *x;
            long long xOff;
            const float *bias;
            long long biasOff;
            int hasC0;
            const float *c0;
            long long c0Off;
            int hasMask;
            const float *mask;
            long long maskOff;
            int hasWc;
            const float *weightC;
            long long wcOff;
            float scale;
            int skip, maskOnGate, hasLen;
            const int *lengths;
            float *h;
            long long hOff;
            float *c;
            long long cOff;
            float *cLast;
            long long cLastOff;
        } ka = {.seqLen = seq_len, .batch = batch, .hidden = hidden, .dirs = dirs, .k = k, .act = act, .u = cptr(u),
                .uOff = u_off, .x = cptr(x), .xOff = x != NULL ? x_off : 0, .bias = cptr(bias), .biasOff = bias_off,
                .hasC0 = c0 != NULL, .c0 = cptr(c0), .c0Off = c0 != NULL ? c0_off : 0, .hasMask = mask != NULL,
                .mask = cptr(mask), .maskOff = mask != NULL ? mask_off : 0, .hasWc = weight_c != NULL,
                .weightC = cptr(weight_c), .wcOff = weight_c != NULL ? weight_c_off : 0, .scale = scale,
                .skip = has_skip != 0, .maskOnGate = mask_on_gate != 0, .hasLen = lp != NULL, .lengths = lp,
                .h = ptr(h), .hOff = h_off, .c = ptr(c), .cOff = c_off, .cLast = ptr(c_last), .cLastOff = c_last_off};
        void *args[] = {&ka.seqLen, &ka.batch, &ka.hidden, &ka.dirs, &ka.k, &ka.act, &ka.u, &ka.uOff, &ka.x, &ka.xOff,
                        &ka.bias, &ka.biasOff, &ka.hasC0, &ka.c0, &ka.c0Off, &ka.hasMask, &ka.mask, &ka.maskOff,
                        &ka.hasWc, &ka.weightC, &ka.wcOff, &ka.scale, &ka.skip, &ka.maskOnGate, &ka.hasLen, &ka.lengths,
                        &ka.h, &ka.hOff, &ka.c, &ka.cOff, &ka.cLast, &ka.cLastOff};
        st = launch_1d(fn, "rnn4j_sru_fwd", dev, (const void *) rnn4j_sru_fwd, state, args);
    }
    pthread_mutex_unlock(&dev->lock);
    return st;
}

int rnn4j_cuda_launch_sru_bwd(rnn4j_cuda_device *dev, int seq_len, int batch, int hidden, int dirs, int k, int act,
                              const rnn4j_cuda_buffer *u, int64_t u_off, const rnn4j_cuda_buffer *x, int64_t x_off,
                              const rnn4j_cuda_buffer *bias, int64_t bias_off, const rnn4j_cuda_buffer *c0,
                              int64_t c0_off, const rnn4j_cuda_buffer *mask, int64_t mask_off,
                              const rnn4j_cuda_buffer *weight_c, int64_t weight_c_off, float scale, int has_skip,
                              int mask_on_gate, const int32_t *lengths,
                              const rnn4j_cuda_buffer *c, int64_t c_off, const rnn4j_cuda_buffer *dh, int64_t dh_off,
                              const rnn4j_cuda_buffer *dc_last, int64_t dc_last_off, rnn4j_cuda_buffer *du,
                              int64_t du_off, rnn4j_cuda_buffer *dx, int64_t dx_off, rnn4j_cuda_buffer *d_bias,
                              int64_t d_bias_off, rnn4j_cuda_buffer *d_weight_c, int64_t d_weight_c_off,
                              rnn4j_cuda_buffer *dc0, int64_t dc0_off) {
    static const char fn[] = "rnn4j_cuda_launch_sru_bwd";
    int64_t cols = 0, state = 0, seq = 0;
    int st;
    if ((st = check_device(fn, dev)) || (st = sru_shape(fn, seq_len, batch, hidden, dirs, k, act, &cols, &state, &seq)))
        return st;
    if (!has_skip && k != 3) return INVALID("%s: without the skip term k must be 3, got %d", fn, k);
    int reads_x = has_skip && k == 3;
    if (!reads_x) x = NULL, dx = NULL; /* the skip input is a column of u (its gradient of du), or there is none */
    if (weight_c == NULL) d_weight_c = NULL;
    if ((st = check_range(fn, "u", dev, u, u_off, seq * k)) ||
        (reads_x && (st = check_range(fn, "x", dev, x, x_off, seq))) ||
        (st = check_range(fn, "bias", dev, bias, bias_off, 2 * cols)) ||
        (st = check_optional(fn, "c0", dev, c0, c0_off, state)) ||
        (st = check_optional(fn, "mask", dev, mask, mask_off, state)) ||
        (st = check_optional(fn, "weight_c", dev, weight_c, weight_c_off, 2 * cols)) ||
        (st = check_range(fn, "c", dev, c, c_off, seq)) || (st = check_range(fn, "dh", dev, dh, dh_off, seq)) ||
        (st = check_optional(fn, "dc_last", dev, dc_last, dc_last_off, state)) ||
        (st = check_range(fn, "du", dev, du, du_off, seq * k)) ||
        (reads_x && (st = check_range(fn, "dx", dev, dx, dx_off, seq))) ||
        (st = check_range(fn, "d_bias", dev, d_bias, d_bias_off, 2 * state)) ||
        (weight_c != NULL && (st = check_range(fn, "d_weight_c", dev, d_weight_c, d_weight_c_off, 2 * state))) ||
        (st = check_range(fn, "dc0", dev, dc0, dc0_off, state)) || (st = check_lengths(fn, lengths, batch, seq_len)))
        return st;
    if (state == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    pthread_mutex_lock(&dev->lock);
    const int *lp = NULL;
    st = sru_lengths(fn, dev, lengths, batch, &lp);
    if (st == RNN4J_OK) {
        struct {
            int seqLen, batch, hidden, dirs, k, act;
            const float *u;
            long long uOff;
            const float *x;
            long long xOff;
            const float *bias;
            long long biasOff;
            int hasC0;
            const float *c0;
            long long c0Off;
            int hasMask;
            const float *mask;
            long long maskOff;
            int hasWc;
            const float *weightC;
            long long wcOff;
            float scale;
            int skip, maskOnGate, hasLen;
            const int *lengths;
            const float *c;
            long long cOff;
            const float *dh;
            long long dhOff;
            int hasDcLast;
            const float *dcLast;
            long long dcLastOff;
            float *du;
            long long duOff;
            float *dx;
            long long dxOff;
            float *dBias;
            long long dBiasOff;
            float *dWc;
            long long dWcOff;
            float *dc0;
            long long dc0Off;
        } ka = {.seqLen = seq_len, .batch = batch, .hidden = hidden, .dirs = dirs, .k = k, .act = act, .u = cptr(u),
                .uOff = u_off, .x = cptr(x), .xOff = x != NULL ? x_off : 0, .bias = cptr(bias), .biasOff = bias_off,
                .hasC0 = c0 != NULL, .c0 = cptr(c0), .c0Off = c0 != NULL ? c0_off : 0, .hasMask = mask != NULL,
                .mask = cptr(mask), .maskOff = mask != NULL ? mask_off : 0, .hasWc = weight_c != NULL,
                .weightC = cptr(weight_c), .wcOff = weight_c != NULL ? weight_c_off : 0, .scale = scale,
                .skip = has_skip != 0, .maskOnGate = mask_on_gate != 0, .hasLen = lp != NULL, .lengths = lp,
                .c = cptr(c), .cOff = c_off, .dh = cptr(dh), .dhOff = dh_off, .hasDcLast = dc_last != NULL,
                .dcLast = cptr(dc_last), .dcLastOff = dc_last != NULL ? dc_last_off : 0, .du = ptr(du),
                .duOff = du_off, .dx = ptr(dx), .dxOff = dx != NULL ? dx_off : 0, .dBias = ptr(d_bias),
                .dBiasOff = d_bias_off, .dWc = ptr(d_weight_c), .dWcOff = d_weight_c != NULL ? d_weight_c_off : 0,
                .dc0 = ptr(dc0), .dc0Off = dc0_off};
        void *args[] = {&ka.seqLen, &ka.batch, &ka.hidden, &ka.dirs, &ka.k, &ka.act, &ka.u, &ka.uOff, &ka.x, &ka.xOff,
                        &ka.bias, &ka.biasOff, &ka.hasC0, &ka.c0, &ka.c0Off, &ka.hasMask, &ka.mask, &ka.maskOff,
                        &ka.hasWc, &ka.weightC, &ka.wcOff, &ka.scale, &ka.skip, &ka.maskOnGate, &ka.hasLen, &ka.lengths,
                        &ka.c, &ka.cOff, &ka.dh, &ka.dhOff, &ka.hasDcLast, &ka.dcLast, &ka.dcLastOff, &ka.du, &ka.duOff,
                        &ka.dx, &ka.dxOff, &ka.dBias, &ka.dBiasOff, &ka.dWc, &ka.dWcOff, &ka.dc0, &ka.dc0Off};
        st = launch_1d(fn, "rnn4j_sru_bwd", dev, (const void *) rnn4j_sru_bwd, state, args);
    }
    pthread_mutex_unlock(&dev->lock);
    return st;
}

/* ------------------------------------------------------------------ layer_norm.cl */

int rnn4j_cuda_launch_layer_norm_fwd(rnn4j_cuda_device *dev, int rows, int cols, float eps,
                                     const rnn4j_cuda_buffer *x, int64_t x_off, const rnn4j_cuda_buffer *gamma,
                                     int64_t gamma_off, const rnn4j_cuda_buffer *beta, int64_t beta_off,
                                     rnn4j_cuda_buffer *y, int64_t y_off, rnn4j_cuda_buffer *stats, int64_t stats_off) {
    static const char fn[] = "rnn4j_cuda_launch_layer_norm_fwd";
    int st;
    if ((st = check_device(fn, dev))) return st;
    if (rows < 0 || cols < 0) return INVALID("%s: negative size rows=%d cols=%d", fn, rows, cols);
    if (!(eps > 0.0f)) return INVALID("%s: eps must be positive", fn);
    int64_t n = (int64_t) rows * cols;
    if ((st = check_range(fn, "x", dev, x, x_off, n)) || (st = check_optional(fn, "gamma", dev, gamma, gamma_off, cols)) ||
        (st = check_optional(fn, "beta", dev, beta, beta_off, cols)) || (st = check_range(fn, "y", dev, y, y_off, n)) ||
        (st = check_range(fn, "stats", dev, stats, stats_off, 2 * (int64_t) rows)))
        return st;
    if (rows == 0 || cols == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    struct {
        int rows, cols;
        float eps;
        const float *x;
        long long xOff;
        int hasGamma;
        const float *gamma;
        long long gammaOff;
        int hasBeta;
        const float *beta;
        long long betaOff;
        float *y;
        long long yOff;
        float *stats;
        long long statsOff;
    } ka = {.rows = rows, .cols = cols, .eps = eps, .x = cptr(x), .xOff = x_off, .hasGamma = gamma != NULL,
            .gamma = cptr(gamma), .gammaOff = gamma != NULL ? gamma_off : 0, .hasBeta = beta != NULL,
            .beta = cptr(beta), .betaOff = beta != NULL ? beta_off : 0, .y = ptr(y), .yOff = y_off,
            .stats = ptr(stats), .statsOff = stats_off};
    void *args[] = {&ka.rows, &ka.cols, &ka.eps, &ka.x, &ka.xOff, &ka.hasGamma, &ka.gamma, &ka.gammaOff, &ka.hasBeta,
                    &ka.beta, &ka.betaOff, &ka.y, &ka.yOff, &ka.stats, &ka.statsOff};
    return launch_1d(fn, "rnn4j_layer_norm_fwd", dev, (const void *) rnn4j_layer_norm_fwd, rows, args);
}

int rnn4j_cuda_launch_layer_norm_bwd(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *x,
                                     int64_t x_off, const rnn4j_cuda_buffer *gamma, int64_t gamma_off,
                                     const rnn4j_cuda_buffer *stats, int64_t stats_off, const rnn4j_cuda_buffer *dy,
                                     int64_t dy_off, rnn4j_cuda_buffer *dx, int64_t dx_off, rnn4j_cuda_buffer *d_gamma,
                                     int64_t d_gamma_off, rnn4j_cuda_buffer *d_beta, int64_t d_beta_off) {
    static const char fn[] = "rnn4j_cuda_launch_layer_norm_bwd";
    int st;
    if ((st = check_device(fn, dev))) return st;
    if (rows < 0 || cols < 0) return INVALID("%s: negative size rows=%d cols=%d", fn, rows, cols);
    int64_t n = (int64_t) rows * cols;
    if ((st = check_range(fn, "x", dev, x, x_off, n)) || (st = check_optional(fn, "gamma", dev, gamma, gamma_off, cols)) ||
        (st = check_range(fn, "stats", dev, stats, stats_off, 2 * (int64_t) rows)) ||
        (st = check_range(fn, "dy", dev, dy, dy_off, n)) || (st = check_range(fn, "dx", dev, dx, dx_off, n)) ||
        (st = check_optional(fn, "d_gamma", dev, d_gamma, d_gamma_off, cols)) ||
        (st = check_optional(fn, "d_beta", dev, d_beta, d_beta_off, cols)))
        return st;
    if (cols == 0) return rnn4j_ok();
    if ((st = enter(fn, dev))) return st;
    int hdg = d_gamma != NULL, hdb = d_beta != NULL;
    if (hdg || hdb) { /* before dx, which may overwrite dy */
        struct {
            int rows, cols;
            const float *x;
            long long xOff;
            const float *stats;
            long long statsOff;
            const float *dy;
            long long dyOff;
            int hasDGamma;
            float *dGamma;
            long long dGammaOff;
            int hasDBeta;
            float *dBeta;
            long long dBetaOff;
        } kp = {.rows = rows, .cols = cols, .x = cptr(x), .xOff = x_off, .stats = cptr(stats), .statsOff = stats_off,
                .dy = cptr(dy), .dyOff = dy_off, .hasDGamma = hdg, .dGamma = ptr(d_gamma),
                .dGammaOff = d_gamma != NULL ? d_gamma_off : 0, .hasDBeta = hdb, .dBeta = ptr(d_beta),
                .dBetaOff = d_beta != NULL ? d_beta_off : 0};
        void *pargs[] = {&kp.rows, &kp.cols, &kp.x, &kp.xOff, &kp.stats, &kp.statsOff, &kp.dy, &kp.dyOff,
                         &kp.hasDGamma, &kp.dGamma, &kp.dGammaOff, &kp.hasDBeta, &kp.dBeta, &kp.dBetaOff};
        st = launch_1d(fn, "rnn4j_layer_norm_bwd_params", dev, (const void *) rnn4j_layer_norm_bwd_params, cols, pargs);
        if (st) return st;
    }
    if (rows == 0) return rnn4j_ok();
    struct {
        int rows, cols;
        const float *x;
        long long xOff;
        int hasGamma;
        const float *gamma;
        long long gammaOff;
        const float *stats;
        long long statsOff;
        const float *dy;
        long long dyOff;
        float *dx;
        long long dxOff;
    } ka = {.rows = rows, .cols = cols, .x = cptr(x), .xOff = x_off, .hasGamma = gamma != NULL, .gamma = cptr(gamma),
            .gammaOff = gamma != NULL ? gamma_off : 0, .stats = cptr(stats), .statsOff = stats_off, .dy = cptr(dy),
            .dyOff = dy_off, .dx = ptr(dx), .dxOff = dx_off};
    void *args[] = {&ka.rows, &ka.cols, &ka.x, &ka.xOff, &ka.hasGamma, &ka.gamma, &ka.gammaOff, &ka.stats, &ka.statsOff,
                    &ka.dy, &ka.dyOff, &ka.dx, &ka.dxOff};
    return launch_1d(fn, "rnn4j_layer_norm_bwd_dx", dev, (const void *) rnn4j_layer_norm_bwd_dx, rows, args);
}

/* ------------------------------------------------------------------ embedding.cl, log_softmax_nll.cl */

/* Every ids[i] in [0, rows); the message gives the first that is not. */
static int check_ids(const char *fn, const char *name, const int32_t *ids, int n, int64_t rows) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= rows)
            return INVALID("%s: %s: id %d at position %d outside [0, %lld)", fn, name, (int) ids[i], i, (long long) rows);
    return RNN4J_OK;
}

/* Whole rows of width dim in buffer b from element off on (off already checked). */
static int64_t table_rows(const rnn4j_cuda_buffer *b, int64_t off, int dim) {
    return (b->bytes / (int64_t) sizeof(float) - off) / dim;
}

int rnn4j_cuda_embedding_forward(rnn4j_cuda_device *dev, const int32_t *ids, int n, int dim,
                                 const rnn4j_cuda_buffer *weight, int64_t w_off, rnn4j_cuda_buffer *out,
                                 int64_t out_off) {
    static const char fn[] = "rnn4j_cuda_embedding_forward";
    int st;
    if ((st = check_device(fn, dev))) return st;
    if (n < 0 || dim < 0) return INVALID("%s: negative size n=%d dim=%d", fn, n, dim);
    if ((st = check_range(fn, "weight", dev, weight, w_off, 0)) ||
        (st = check_range(fn, "out", dev, out, out_off, (int64_t) n * dim)))
        return st;
    if (n > 0 && ids == NULL) return INVALID("%s: ids is NULL", fn);
    if (n == 0 || dim == 0) return rnn4j_ok();
    if ((st = check_ids(fn, "ids", ids, n, table_rows(weight, w_off, dim))) || (st = enter(fn, dev))) return st;
    pthread_mutex_lock(&dev->lock); /* the int scratch is shared by the device's callers */
    st = upload_ints(fn, dev, ids, n, "token ids");
    for (int64_t i0 = 0; st == RNN4J_OK && i0 < n; i0 += WIDE_ROWS_PER_LAUNCH) {
        int nn = (int) (n - i0 < WIDE_ROWS_PER_LAUNCH ? n - i0 : WIDE_ROWS_PER_LAUNCH);
        struct {
            int n, dim;
            const int *ids;
            const float *weight;
            long long wOff;
            float *out;
            long long outOff;
        } ka = {.n = nn, .dim = dim, .ids = dev->ints + i0, .weight = cptr(weight), .wOff = w_off, .out = ptr(out),
                .outOff = out_off + i0 * dim};
        void *args[] = {&ka.n, &ka.dim, &ka.ids, &ka.weight, &ka.wOff, &ka.out, &ka.outOff};
        dim3 grid = {wide_cols(dim), wide_rows(nn), 1}, block = {WIDE_X, WIDE_Y, 1};
        st = launch(fn, "rnn4j_embedding_fwd", dev, (const void *) rnn4j_embedding_fwd, grid, block, args);
    }
    pthread_mutex_unlock(&dev->lock);
    return st;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

int rnn4j_cuda_embedding_backward(rnn4j_cuda_device *dev, const int32_t *ids, int n, int dim,
                                  const rnn4j_cuda_buffer *d_out, int64_t d_out_off, rnn4j_cuda_buffer *d_weight,
                                  int64_t dw_off) {
    static const char fn[] = "rnn4j_cuda_embedding_backward";
    int st;
    if ((st = check_device(fn, dev))) return st;
    if (n < 0 || dim < 0) return INVALID("%s: negative size n=%d dim=%d", fn, n, dim);
    if ((st = check_range(fn, "d_out", dev, d_out, d_out_off, (int64_t) n * dim)) ||
        (st = check_range(fn, "d_weight", dev, d_weight, dw_off, 0)))
        return st;
    if (n > 0 && ids == NULL) return INVALID("%s: ids is NULL", fn);
    if (n == 0 || dim == 0) return rnn4j_ok();
    if ((st = check_ids(fn, "ids", ids, n, table_rows(d_weight, dw_off, dim))) || (st = enter(fn, dev))) return st;

    /* Positions grouped by id, ascending within an id (the reference's summation order). The
     * kernel takes [uniq (u) | start (u+1) | pos (n)]; ids beyond what one launch covers go in
     * slices, each with its own such array, all uploaded at once. */
    uint64_t *keys = malloc((size_t) n * sizeof *keys);
    if (keys == NULL) return rnn4j_fail(RNN4J_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    for (int i = 0; i < n; i++) keys[i] = ((uint64_t) (uint32_t) ids[i] << 32) | (uint32_t) i;
    qsort(keys, (size_t) n, sizeof *keys, compare_u64);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || (keys[i] >> 32) != (keys[i - 1] >> 32)) u++;
    const int64_t per_slice = WIDE_ROWS_PER_LAUNCH;
    int64_t slices = (u + per_slice - 1) / per_slice, total = 2 * (int64_t) u + slices + n;
    int *csr = malloc((size_t) total * sizeof *csr), *start = malloc(((size_t) u + 1) * sizeof *start);
    if (csr == NULL || start == NULL) {
        free(keys);
        free(csr);
        free(start);
        return rnn4j_fail(RNN4J_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    }
    /* start[q]: first sorted position of the q-th distinct id */
    for (int i = 0, q = 0; i < n; i++)
        if (i == 0 || (keys[i] >> 32) != (keys[i - 1] >> 32)) start[q++] = i;
    start[u] = n;
    int64_t base = 0;
    for (int64_t q0 = 0; q0 < u; q0 += per_slice) {
        int64_t q1 = q0 + per_slice < u ? q0 + per_slice : u, us = q1 - q0;
        int *uniq_s = csr + base, *start_s = uniq_s + us, *pos_s = start_s + us + 1;
        for (int64_t q = q0; q < q1; q++) {
            uniq_s[q - q0] = (int) (keys[start[q]] >> 32);
            start_s[q - q0] = start[q] - start[q0];
        }
        start_s[us] = start[q1] - start[q0];
        for (int p = start[q0]; p < start[q1]; p++) pos_s[p - start[q0]] = (int) (keys[p] & 0xffffffffu);
        base += 2 * us + 1 + (start[q1] - start[q0]);
    }

    pthread_mutex_lock(&dev->lock);
    st = upload_ints(fn, dev, csr, total, "embedding index");
    base = 0;
    for (int64_t q0 = 0; st == RNN4J_OK && q0 < u; q0 += per_slice) {
        int64_t q1 = q0 + per_slice < u ? q0 + per_slice : u;
        int us = (int) (q1 - q0);
        struct {
            int u, dim;
            const int *csr;
            const float *dOut;
            long long dOutOff;
            float *dWeight;
            long long dwOff;
        } ka = {.u = us, .dim = dim, .csr = dev->ints + base, .dOut = cptr(d_out), .dOutOff = d_out_off,
                .dWeight = ptr(d_weight), .dwOff = dw_off};
        void *args[] = {&ka.u, &ka.dim, &ka.csr, &ka.dOut, &ka.dOutOff, &ka.dWeight, &ka.dwOff};
        dim3 grid = {wide_cols(dim), wide_rows(us), 1}, block = {WIDE_X, WIDE_Y, 1};
        st = launch(fn, "rnn4j_embedding_bwd", dev, (const void *) rnn4j_embedding_bwd, grid, block, args);
        base += 2 * (int64_t) us + 1 + (start[q1] - start[q0]);
    }
    pthread_mutex_unlock(&dev->lock);
    free(keys);
    free(csr);
    free(start);
    return st;
}

int rnn4j_cuda_log_softmax_nll(rnn4j_cuda_device *dev, int rows, int classes, const rnn4j_cuda_buffer *logits,
                               int64_t l_off, const int32_t *targets, float grad_scale, rnn4j_cuda_buffer *d_logits,
                               int64_t d_off, double *loss) {
    static const char fn[] = "rnn4j_cuda_log_softmax_nll";
    int st;
    if ((st = check_device(fn, dev)) || (st = check_out(fn, "loss", loss))) return st;
    if (rows < 0 || classes < 0) return INVALID("%s: negative size %d x %d", fn, rows, classes);
    int64_t n = (int64_t) rows * classes;
    if ((st = check_range(fn, "logits", dev, logits, l_off, n)) ||
        (st = check_optional(fn, "d_logits", dev, d_logits, d_off, n)))
        return st;
    if (rows > 0 && targets == NULL) return INVALID("%s: targets is NULL", fn);
    if ((st = check_ids(fn, "targets", targets, rows, classes))) return st;
    if (rows == 0) {
        *loss = 0.0;
        return rnn4j_ok();
    }
    if ((st = enter(fn, dev))) return st;
    float *row_loss = malloc((size_t) rows * sizeof *row_loss);
    if (row_loss == NULL) return rnn4j_fail(RNN4J_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    pthread_mutex_lock(&dev->lock);
    st = grow_scratch(fn, dev, (void **) &dev->losses, &dev->losses_capacity, (int64_t) rows * 4, "row losses");
    if (st == RNN4J_OK) st = upload_ints(fn, dev, targets, rows, "targets");
    if (st == RNN4J_OK) {
        struct {
            int rows, classes;
            const float *logits;
            long long lOff;
            const int *targets;
            int hasGrad;
            float gradScale;
            float *dLogits;
            long long dOff;
            float *loss;
        } ka = {.rows = rows, .classes = classes, .logits = cptr(logits), .lOff = l_off, .targets = dev->ints,
                .hasGrad = d_logits != NULL, .gradScale = grad_scale, .dLogits = ptr(d_logits),
                .dOff = d_logits != NULL ? d_off : 0, .loss = dev->losses};
        void *args[] = {&ka.rows, &ka.classes, &ka.logits, &ka.lOff, &ka.targets, &ka.hasGrad, &ka.gradScale,
                        &ka.dLogits, &ka.dOff, &ka.loss};
        /* one block of TILE*TILE threads per row */
        dim3 grid = {(unsigned) rows, 1, 1}, block = {RNN4J_CUDA_TILE * RNN4J_CUDA_TILE, 1, 1};
        st = launch(fn, "rnn4j_log_softmax_nll", dev, (const void *) rnn4j_log_softmax_nll, grid, block, args);
    }
    if (st == RNN4J_OK)
        st = copy_and_wait(fn, dev, row_loss, dev->losses, (int64_t) rows * 4, cudaMemcpyDeviceToHost);
    pthread_mutex_unlock(&dev->lock);
    if (st == RNN4J_OK) {
        double total = 0.0;
        for (int i = 0; i < rows; i++) total += row_loss[i];
        *loss = total;
    }
    free(row_loss);
    return st;
}
