/*
 * rnn4j native API: a flat C interface called from Java through the FFM API.
 *
 * Two libraries implement it. librnn4j.so (the core: version, ABI, last error) is always
 * built; java/dev/rnn4j/natives/NativeLib.java binds it. librnn4j_cuda.so (everything named
 * rnn4j_cuda_*, below) is built only when CMake finds nvcc, so the core never depends on CUDA;
 * java/dev/rnn4j/natives/CudaNative.java binds it. Each library has its own last-error getter.
 *
 * Conventions: functions that can fail return an int status (RNN4J_OK = 0); on failure the
 * message is available from rnn4j_last_error() on the same thread. Nothing here aborts or
 * prints: the caller is a JVM, and a crash or stray output there is worse than an error code.
 */
#ifndef RNN4J_H
#define RNN4J_H

#include <stdint.h>
#include "rnn4j_cuda_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; only what is marked RNN4J_API is exported. */
#if defined(__GNUC__)
#define RNN4J_API __attribute__((visibility("default")))
#else
#define RNN4J_API
#endif

#define RNN4J_OK 0
#define RNN4J_ERR_INVALID_ARGUMENT 1
#define RNN4J_ERR_UNAVAILABLE 2
#define RNN4J_ERR_INTERNAL 3
/* The device or its runtime failed (a CUDA error; the message has its name and code). */
#define RNN4J_ERR_DEVICE 4
/* Device memory is exhausted. */
#define RNN4J_ERR_OUT_OF_MEMORY 5

/* Version of the native library (the project version, e.g. "0.1.0"); never NULL, static storage. */
RNN4J_API const char *rnn4j_version(void);

/* Writes the library's ABI number into *out. Returns RNN4J_ERR_INVALID_ARGUMENT for NULL. */
RNN4J_API int rnn4j_abi_version(int *out);

/*
 * Message of the last failed call on this thread; "" if no call has failed yet or the last
 * status-returning call succeeded. Never NULL; valid until the next rnn4j call on this thread.
 */
RNN4J_API const char *rnn4j_last_error(void);

/* ======================================================================================
 * CUDA: exported by librnn4j_cuda.so.
 *
 * The library owns CUDA devices (with one stream each), device memory, copies, a launcher for
 * every kernel of kernels/ (compiled by nvcc from the same sources as the OpenCL backend, with
 * the launch geometry that backend uses) and GEMM through cuBLAS (found with dlopen at run time)
 * or the rnn4j_gemm kernel when cuBLAS is absent. The CUDA runtime is linked statically; the
 * driver (libcuda.so.1) is found by the runtime when it starts.
 *
 * Conventions, besides those above:
 *   - Sizes and offsets are int64_t; a negative one is RNN4J_ERR_INVALID_ARGUMENT.
 *   - The memory functions (malloc, memset, upload, download, memcpy) count BYTES. The kernel
 *     functions (rnn4j_cuda_launch_*, rnn4j_cuda_gemm, rnn4j_cuda_sum_squares) count float32
 *     ELEMENTS, offsets included; a buffer of b bytes holds b/4 of them.
 *   - Every range is checked against the size recorded in the buffer handle before anything
 *     reaches the device; a buffer used with a device must have been allocated on it. Optional
 *     buffers may be NULL where the comment says so.
 *   - Work is queued on the device's stream in call order. upload, download, sum_squares and
 *     device_synchronize wait for it; other calls return once the work is queued, so an error
 *     of a kernel may surface at a later call. CUDA errors are RNN4J_ERR_DEVICE (or
 *     RNN4J_ERR_OUT_OF_MEMORY) with the message "<call>: <cudaErrorName> (<code>): <text>".
 *   - Calls may come from any thread; the library selects the device's GPU on each call.
 * ====================================================================================== */

typedef struct rnn4j_cuda_device rnn4j_cuda_device; /* a GPU with its stream, cuBLAS handle, scratch */
typedef struct rnn4j_cuda_buffer rnn4j_cuda_buffer; /* device memory and its size in bytes */

/* rnn4j_cuda_device_create flags. */
#define RNN4J_CUDA_TF32 1      /* cuBLAS GEMM may use TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH) */
#define RNN4J_CUDA_NO_CUBLAS 2 /* never use cuBLAS: every GEMM runs the rnn4j_gemm kernel */

/*
 * The binding table (native/cuda/rnn4j_cuda_api.h): every status-returning rnn4j_cuda_* function
 * below, by name and parameter signature (P pointer, I int, L int64_t, F float, D double), in
 * this header's order. Each such function f also exists as f_e, with two more parameters,
 * (char *err, int64_t err_cap): on failure it copies f's message into err, for callers that
 * cannot read the thread-local last error on the thread that failed (the JVM's virtual threads).
 */
typedef struct rnn4j_cuda_api_entry {
    const char *name;
    const char *signature;
} rnn4j_cuda_api_entry;
RNN4J_API int rnn4j_cuda_api(const rnn4j_cuda_api_entry **entries, int *count);

/* Version, ABI number and last error of librnn4j_cuda.so (as rnn4j_version etc. for the core). */
RNN4J_API const char *rnn4j_cuda_version(void);
RNN4J_API int rnn4j_cuda_abi_version(int *out);
RNN4J_API const char *rnn4j_cuda_last_error(void);

/*
 * Asks the CUDA runtime how many devices there are, without failing when there are none:
 * returns RNN4J_OK with *device_count = 0, *cuda_error = the runtime's code (e.g. 35
 * cudaErrorInsufficientDriver when there is no usable driver, 100 cudaErrorNoDevice when the
 * driver sees no GPU) and reason = "<cudaErrorName> (<code>): <text>"; on success *cuda_error is
 * 0 and reason "". reason_cap bytes at reason (>= 1) receive the NUL-terminated text, truncated.
 */
RNN4J_API int rnn4j_cuda_probe(int *device_count, int *cuda_error, char *reason, int64_t reason_cap);

/* Number of devices; RNN4J_ERR_UNAVAILABLE with the runtime's reason when the runtime has none. */
RNN4J_API int rnn4j_cuda_device_count(int *out);

/* CUDA runtime version linked in and driver version (0 when no driver), as 1000*major + 10*minor. */
RNN4J_API int rnn4j_cuda_versions(int *runtime, int *driver);

/* Name (NUL-terminated, truncated to name_cap), compute capability, memory and SM count of a device. */
RNN4J_API int rnn4j_cuda_device_properties(int ordinal, char *name, int64_t name_cap, int *cc_major, int *cc_minor,
                                           int64_t *total_bytes, int *multiprocessors);

/*
 * Whether cuBLAS can be loaded (libcublas.so.13, then libcublas.so.12) with the functions rnn4j
 * uses. Writes 1 or 0 to *found and into description the library name, or why it is absent.
 * Once cuBLAS has loaded it stays loaded for the process. Needs no GPU.
 */
RNN4J_API int rnn4j_cuda_cublas_probe(int *found, char *description, int64_t description_cap);

/*
 * Like rnn4j_cuda_cublas_probe, trying the '\n'-separated candidates in order: sonames (searched
 * on the loader path) or file paths, e.g. PyTorch's site-packages/nvidia/cublas/lib/
 * libcublas.so.13. NULL means the default pair. When cuBLAS is already loaded nothing is tried
 * and description names the library in use. Devices created afterwards use what was loaded.
 */
RNN4J_API int rnn4j_cuda_cublas_load(const char *candidates, int *found, char *description,
                                     int64_t description_cap);

/* Opens device `ordinal`: a non-blocking stream, scratch memory, a cuBLAS handle unless absent. */
RNN4J_API int rnn4j_cuda_device_create(int ordinal, int flags, rnn4j_cuda_device **out);

/* Waits for the stream and releases the device. Every buffer must have been freed first. */
RNN4J_API int rnn4j_cuda_device_destroy(rnn4j_cuda_device *dev);

/* Waits until all work queued on the device's stream has finished; reports its errors. */
RNN4J_API int rnn4j_cuda_device_synchronize(rnn4j_cuda_device *dev);

/* Number of buffers allocated on the device and not yet freed. */
RNN4J_API int rnn4j_cuda_device_live_buffers(const rnn4j_cuda_device *dev, int64_t *out);

/*
 * How this device runs GEMM: *uses_cublas = 1 for cuBLAS, 0 for the rnn4j_gemm kernel;
 * description e.g. "cuBLAS (libcublas.so.13, FP32)" or "rnn4j_gemm kernel (cuBLAS not found: ...)".
 */
RNN4J_API int rnn4j_cuda_device_gemm_info(const rnn4j_cuda_device *dev, int *uses_cublas, char *description,
                                          int64_t description_cap);

/* ---- memory (bytes) ---- */

/* Allocates `bytes` (>= 0; 0 gives a valid empty buffer) of device memory, not initialised. */
RNN4J_API int rnn4j_cuda_malloc(rnn4j_cuda_device *dev, int64_t bytes, rnn4j_cuda_buffer **out);
/* Frees the buffer and its handle (queued after the work already on the stream). The handle is
 * released even when CUDA reports an error, which is then returned. */
RNN4J_API int rnn4j_cuda_free(rnn4j_cuda_buffer *buf);
RNN4J_API int rnn4j_cuda_buffer_size(const rnn4j_cuda_buffer *buf, int64_t *bytes);
/* Sets bytes [offset, offset + bytes) to the byte `value` (0..255). */
RNN4J_API int rnn4j_cuda_memset(rnn4j_cuda_buffer *buf, int64_t offset, int value, int64_t bytes);
/* Host to device; returns when the host memory may be reused. */
RNN4J_API int rnn4j_cuda_upload(rnn4j_cuda_buffer *dst, int64_t dst_offset, const void *src, int64_t bytes);
/* Device to host; returns when the data is in host memory (after all earlier work). */
RNN4J_API int rnn4j_cuda_download(const rnn4j_cuda_buffer *src, int64_t src_offset, void *dst, int64_t bytes);
/* Device to device, buffers of the same device; the ranges must not overlap. */
RNN4J_API int rnn4j_cuda_memcpy(const rnn4j_cuda_buffer *src, int64_t src_offset, rnn4j_cuda_buffer *dst,
                                int64_t dst_offset, int64_t bytes);

/*
 * Staged transfers, for callers that copy from their own memory anyway (the JVM's heap arrays):
 * the device owns `slots` pinned host buffers of slot_bytes each, at *host one after another,
 * reused by every transfer. The caller fills a slot and calls upload_staged, which queues the
 * copy on the device's copy stream and returns at once; download_staged queues the copy into a
 * slot. Either copy runs after the work queued on the device before it, and work queued after it
 * waits for it. staging_wait(slot) returns when the last copy through the slot has finished: call
 * it before filling a slot again and before reading a downloaded one. One user at a time per
 * device (the caller serialises); the memory is valid until the device is destroyed.
 */
RNN4J_API int rnn4j_cuda_staging(rnn4j_cuda_device *dev, void **host, int64_t *slot_bytes, int *slots);
RNN4J_API int rnn4j_cuda_staging_wait(rnn4j_cuda_device *dev, int slot);
RNN4J_API int rnn4j_cuda_upload_staged(rnn4j_cuda_buffer *dst, int64_t dst_offset, int slot, int64_t bytes);
RNN4J_API int rnn4j_cuda_download_staged(const rnn4j_cuda_buffer *src, int64_t src_offset, int slot, int64_t bytes);

/* ---- kernels (float32 elements); each matches the Backend method named, see kernels/<file>.cl ---- */

/*
 * The element-wise kernels (copy, fill, axpy, scale, mul, adam_step): one thread per element of
 * [0, n), every buffer operand n floats from its offset. Their prototypes,
 * rnn4j_cuda_launch_<name>(dev, int64_t n, operands...), come from the table in rnn4j_cuda_ops.h;
 * e.g. rnn4j_cuda_launch_adam_step(dev, n, beta1, beta2, step_size, bc2_sqrt, eps, g, g_off, m,
 * m_off, v, v_off, p, p_off).
 */
#define RNN4J_CUDA_DECLARE_ELEMENTWISE(ctx, name, ...) \
    RNN4J_API int rnn4j_cuda_launch_##name RNN4J_EW_PARAMS(__VA_ARGS__);
RNN4J_CUDA_ELEMENTWISE_OPS(RNN4J_CUDA_DECLARE_ELEMENTWISE, _)

/* copy.cl */
RNN4J_API int rnn4j_cuda_launch_copy2d(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *src,
                                       int64_t src_off, int src_ld, rnn4j_cuda_buffer *dst, int64_t dst_off, int dst_ld);

/* elementwise.cl */
RNN4J_API int rnn4j_cuda_launch_mul_rows(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *x,
                                         int64_t x_off, const rnn4j_cuda_buffer *m, int64_t m_off,
                                         rnn4j_cuda_buffer *out, int64_t out_off);
RNN4J_API int rnn4j_cuda_launch_add_row_vector(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *bias,
                                               int64_t bias_off, rnn4j_cuda_buffer *c, int64_t c_off, int ldc);

/* reduce.cl */
RNN4J_API int rnn4j_cuda_launch_sum_rows(rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *a,
                                         int64_t a_off, int lda, float beta, rnn4j_cuda_buffer *out, int64_t out_off);
/* Partial sums of squares on the device (rnn4j_sum_squares_partial), added in double here; waits. */
RNN4J_API int rnn4j_cuda_sum_squares(rnn4j_cuda_device *dev, int64_t n, const rnn4j_cuda_buffer *x, int64_t off,
                                     double *out);

/* dropout_mask.cl: 0 <= p < 1, n <= 2^32; scale 1/(1-p) is computed in float32 as the reference does. */
RNN4J_API int rnn4j_cuda_launch_dropout_mask(rnn4j_cuda_device *dev, int64_t n, float p, int64_t seed,
                                             rnn4j_cuda_buffer *out, int64_t out_off);

/*
 * GEMM (Backend.gemm): cuBLAS cublasSgemmStridedBatched when the device has it and the leading
 * dimensions suit it (each >= max(1, the stored row length)) and k > 0; otherwise the kernels of
 * gemm.cl as rnn4j_cuda_launch_gemm runs them.
 */
RNN4J_API int rnn4j_cuda_gemm(rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k, float alpha,
                              const rnn4j_cuda_buffer *a, int64_t a_off, int lda,
                              const rnn4j_cuda_buffer *b, int64_t b_off, int ldb,
                              float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc,
                              int batch, int64_t stride_a, int64_t stride_b, int64_t stride_c);
/* The kernels of gemm.cl alone, whatever cuBLAS offers; same arguments. rnn4j_gemm_blocked (4 x 4
 * outputs per thread) when m and n are both at least 64, else rnn4j_gemm, as the OpenCL backend
 * chooses. */
RNN4J_API int rnn4j_cuda_launch_gemm(rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k, float alpha,
                                     const rnn4j_cuda_buffer *a, int64_t a_off, int lda,
                                     const rnn4j_cuda_buffer *b, int64_t b_off, int ldb,
                                     float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc,
                                     int batch, int64_t stride_a, int64_t stride_b, int64_t stride_c);

/* ---- language-model primitives: token ids and targets are HOST int32 arrays, checked here
 * against the table and copied to a device scratch buffer per call ---- */

/* embedding.cl: out[i*dim + j] = weight[w_off + ids[i]*dim + j]; each id in [0, rows of weight
 * from w_off on). */
RNN4J_API int rnn4j_cuda_embedding_forward(rnn4j_cuda_device *dev, const int32_t *ids, int n, int dim,
                                           const rnn4j_cuda_buffer *weight, int64_t w_off,
                                           rnn4j_cuda_buffer *out, int64_t out_off);
/* embedding.cl: d_weight[dw_off + ids[i]*dim + j] += d_out[d_out_off + i*dim + j], repeated ids
 * adding in position order (the reference's float32 order, so the result is bit-exact). */
RNN4J_API int rnn4j_cuda_embedding_backward(rnn4j_cuda_device *dev, const int32_t *ids, int n, int dim,
                                            const rnn4j_cuda_buffer *d_out, int64_t d_out_off,
                                            rnn4j_cuda_buffer *d_weight, int64_t dw_off);
/* log_softmax_nll.cl: *loss = sum over rows of -log softmax(logits_i)[targets[i]] (row losses on the
 * device, summed in double here; waits); d_logits (NULL: none; may alias logits exactly) gets
 * grad_scale * (softmax - onehot). Each target in [0, classes). */
RNN4J_API int rnn4j_cuda_log_softmax_nll(rnn4j_cuda_device *dev, int rows, int classes,
                                         const rnn4j_cuda_buffer *logits, int64_t l_off, const int32_t *targets,
                                         float grad_scale, rnn4j_cuda_buffer *d_logits, int64_t d_off, double *loss);

/* rnn_pointwise.cl: act 0 identity, 1 tanh, 2 relu (dev.rnn4j.backend.Activation codes). */
RNN4J_API int rnn4j_cuda_launch_rnn_pointwise_fwd(rnn4j_cuda_device *dev, int act, int64_t n,
                                                  const rnn4j_cuda_buffer *pre, int64_t pre_off,
                                                  rnn4j_cuda_buffer *h, int64_t h_off);
RNN4J_API int rnn4j_cuda_launch_rnn_pointwise_bwd(rnn4j_cuda_device *dev, int act, int64_t n,
                                                  const rnn4j_cuda_buffer *h, int64_t h_off,
                                                  const rnn4j_cuda_buffer *dh, int64_t dh_off,
                                                  rnn4j_cuda_buffer *dpre, int64_t dpre_off);

/* lstm_pointwise.cl; dc_next may be NULL (zero). */
RNN4J_API int rnn4j_cuda_launch_lstm_pointwise_fwd(rnn4j_cuda_device *dev, int batch, int hidden,
                                                   rnn4j_cuda_buffer *gates, int64_t g_off,
                                                   const rnn4j_cuda_buffer *c_prev, int64_t c_prev_off,
                                                   rnn4j_cuda_buffer *c, int64_t c_off, rnn4j_cuda_buffer *h, int64_t h_off);
RNN4J_API int rnn4j_cuda_launch_lstm_pointwise_bwd(rnn4j_cuda_device *dev, int batch, int hidden,
                                                   const rnn4j_cuda_buffer *gates, int64_t g_off,
                                                   const rnn4j_cuda_buffer *c_prev, int64_t c_prev_off,
                                                   const rnn4j_cuda_buffer *c, int64_t c_off,
                                                   const rnn4j_cuda_buffer *dh, int64_t dh_off,
                                                   const rnn4j_cuda_buffer *dc_next, int64_t dc_next_off,
                                                   rnn4j_cuda_buffer *d_gates, int64_t dg_off,
                                                   rnn4j_cuda_buffer *dc_prev, int64_t dc_prev_off);

/* gru_pointwise.cl; bias_hh (3 * hidden, added to each row of gh) may be NULL (none). */
RNN4J_API int rnn4j_cuda_launch_gru_pointwise_fwd(rnn4j_cuda_device *dev, int batch, int hidden,
                                                  const rnn4j_cuda_buffer *gx, int64_t gx_off,
                                                  const rnn4j_cuda_buffer *gh, int64_t gh_off,
                                                  const rnn4j_cuda_buffer *bias_hh, int64_t bias_hh_off,
                                                  const rnn4j_cuda_buffer *h_prev, int64_t h_prev_off,
                                                  rnn4j_cuda_buffer *h, int64_t h_off,
                                                  rnn4j_cuda_buffer *saved, int64_t saved_off);
RNN4J_API int rnn4j_cuda_launch_gru_pointwise_bwd(rnn4j_cuda_device *dev, int batch, int hidden,
                                                  const rnn4j_cuda_buffer *saved, int64_t saved_off,
                                                  const rnn4j_cuda_buffer *h_prev, int64_t h_prev_off,
                                                  const rnn4j_cuda_buffer *dh, int64_t dh_off,
                                                  rnn4j_cuda_buffer *dgx, int64_t dgx_off,
                                                  rnn4j_cuda_buffer *dgh, int64_t dgh_off,
                                                  rnn4j_cuda_buffer *dh_prev_partial, int64_t dhp_off);

/* sru_fwd.cl / sru_bwd.cl: k 3 or 4, dirs 1 or 2. x (and dx) are read (written) only for the
 * k == 3 skip term (has_skip) and may be NULL otherwise; c0, mask and dc_last may be NULL (zeros,
 * ones, zeros). sru 2.x options: weight_c (2*dirs*hidden peepholes, NULL for none; d_weight_c
 * then receives batch x 2*dirs*hidden partials), scale (the k == 3 skip multiplier), has_skip 0
 * (no skip term; k must be 3), mask_on_gate 1 (h = x' + (g(c) - x')*mask*r), lengths (host
 * array of batch valid lengths in 1..seq_len, copied by the call; NULL for all seq_len). */
RNN4J_API int rnn4j_cuda_launch_sru_fwd(rnn4j_cuda_device *dev, int seq_len, int batch, int hidden, int dirs, int k,
                                        int act, const rnn4j_cuda_buffer *u, int64_t u_off,
                                        const rnn4j_cuda_buffer *x, int64_t x_off,
                                        const rnn4j_cuda_buffer *bias, int64_t bias_off,
                                        const rnn4j_cuda_buffer *c0, int64_t c0_off,
                                        const rnn4j_cuda_buffer *mask, int64_t mask_off,
                                        const rnn4j_cuda_buffer *weight_c, int64_t weight_c_off, float scale,
                                        int has_skip, int mask_on_gate, const int32_t *lengths,
                                        rnn4j_cuda_buffer *h, int64_t h_off, rnn4j_cuda_buffer *c, int64_t c_off,
                                        rnn4j_cuda_buffer *c_last, int64_t c_last_off);
RNN4J_API int rnn4j_cuda_launch_sru_bwd(rnn4j_cuda_device *dev, int seq_len, int batch, int hidden, int dirs, int k,
                                        int act, const rnn4j_cuda_buffer *u, int64_t u_off,
                                        const rnn4j_cuda_buffer *x, int64_t x_off,
                                        const rnn4j_cuda_buffer *bias, int64_t bias_off,
                                        const rnn4j_cuda_buffer *c0, int64_t c0_off,
                                        const rnn4j_cuda_buffer *mask, int64_t mask_off,
                                        const rnn4j_cuda_buffer *weight_c, int64_t weight_c_off, float scale,
                                        int has_skip, int mask_on_gate, const int32_t *lengths,
                                        const rnn4j_cuda_buffer *c, int64_t c_off,
                                        const rnn4j_cuda_buffer *dh, int64_t dh_off,
                                        const rnn4j_cuda_buffer *dc_last, int64_t dc_last_off,
                                        rnn4j_cuda_buffer *du, int64_t du_off, rnn4j_cuda_buffer *dx, int64_t dx_off,
                                        rnn4j_cuda_buffer *d_bias, int64_t d_bias_off,
                                        rnn4j_cuda_buffer *d_weight_c, int64_t d_weight_c_off,
                                        rnn4j_cuda_buffer *dc0, int64_t dc0_off);

/* layer_norm.cl: per row of x (rows x cols), y = (x - mean)/sqrt(var + eps)*gamma + beta, stats
 * (rows x 2) = [mean, 1/sqrt(var + eps)]; gamma/beta may be NULL (ones/zeros). Backward: dx from
 * x, gamma, stats and dy (dx may alias dy); d_gamma, d_beta (cols, overwritten) may be NULL. */
RNN4J_API int rnn4j_cuda_launch_layer_norm_fwd(rnn4j_cuda_device *dev, int rows, int cols, float eps,
                                               const rnn4j_cuda_buffer *x, int64_t x_off,
                                               const rnn4j_cuda_buffer *gamma, int64_t gamma_off,
                                               const rnn4j_cuda_buffer *beta, int64_t beta_off,
                                               rnn4j_cuda_buffer *y, int64_t y_off,
                                               rnn4j_cuda_buffer *stats, int64_t stats_off);
RNN4J_API int rnn4j_cuda_launch_layer_norm_bwd(rnn4j_cuda_device *dev, int rows, int cols,
                                               const rnn4j_cuda_buffer *x, int64_t x_off,
                                               const rnn4j_cuda_buffer *gamma, int64_t gamma_off,
                                               const rnn4j_cuda_buffer *stats, int64_t stats_off,
                                               const rnn4j_cuda_buffer *dy, int64_t dy_off,
                                               rnn4j_cuda_buffer *dx, int64_t dx_off,
                                               rnn4j_cuda_buffer *d_gamma, int64_t d_gamma_off,
                                               rnn4j_cuda_buffer *d_beta, int64_t d_beta_off);

#ifdef __cplusplus
}
#endif
#endif
