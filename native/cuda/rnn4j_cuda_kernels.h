/*
 * The kernels of the kernels/ .cl files as the CUDA host code sees them: one declaration per kernel,
 * parameter for parameter (i64 = long long, i32 = int, u32 = unsigned int, GLOBAL float* =
 * float*). The host (rnn4j_cuda.c, C) takes each kernel's address for cudaLaunchKernel.
 *
 * The declarations are checked against the definitions: rnn4j_kernels.cu includes this file
 * after the kernel sources, where each line redeclares an extern "C" __global__ function, and
 * C++ refuses an extern "C" function redeclared with other parameter types. The element-wise
 * kernels are declared from their table (rnn4j_cuda_ops.h), the others one line each.
 */
#ifndef RNN4J_CUDA_KERNELS_H
#define RNN4J_CUDA_KERNELS_H

#include "rnn4j_cuda_ops.h"

#ifdef __CUDACC__
#define RNN4J_KERNEL_DECL extern "C" __global__ void
#else
/* The host stubs nvcc generates live in the same library: hidden, bound directly. */
#define RNN4J_KERNEL_DECL __attribute__((visibility("hidden"))) void
#endif

/* The element-wise kernels of rnn4j_cuda_ops.h: (long long n, operands...), a buffer operand
 * being (float *x, long long xOff), const when read only. */
#define RNN4J_KPARAM(kind, x) RNN4J_KPARAM_##kind(x)
#define RNN4J_KPARAM_f32(x) , float x
#define RNN4J_KPARAM_in(x) , const float *x, long long x##Off
#define RNN4J_KPARAM_out(x) , float *x, long long x##Off
#define RNN4J_DECLARE_ELEMENTWISE_KERNEL(ctx, name, ...) \
    RNN4J_KERNEL_DECL rnn4j_##name(long long n RNN4J_EACH(RNN4J_KPARAM, __VA_ARGS__));
RNN4J_CUDA_ELEMENTWISE_OPS(RNN4J_DECLARE_ELEMENTWISE_KERNEL, _)

/* copy.cl */
RNN4J_KERNEL_DECL rnn4j_copy2d(int rows, int cols, const float *src, long long srcOff, int srcLd,
                               float *dst, long long dstOff, int dstLd);

/* elementwise.cl */
RNN4J_KERNEL_DECL rnn4j_mul_rows(int rows, int cols, const float *x, long long xOff, const float *m, long long mOff,
                                 float *out, long long outOff);
RNN4J_KERNEL_DECL rnn4j_add_row_vector(int rows, int cols, const float *bias, long long biasOff,
                                       float *c, long long cOff, int ldc);

/* reduce.cl */
RNN4J_KERNEL_DECL rnn4j_sum_rows(int rows, int cols, const float *a, long long aOff, int lda,
                                 float beta, float *out, long long outOff);
RNN4J_KERNEL_DECL rnn4j_sum_squares_partial(long long n, const float *x, long long off, float *partial);

/* dropout_mask.cl */
RNN4J_KERNEL_DECL rnn4j_dropout_mask(long long n, float p, float scale, unsigned int k0, unsigned int k1,
                                     float *out, long long outOff);

/* gemm.cl */
RNN4J_KERNEL_DECL rnn4j_gemm(int transA, int transB, int m, int n, int k, float alpha,
                             const float *a, long long aOff, int lda,
                             const float *b, long long bOff, int ldb,
                             float beta, float *c, long long cOff, int ldc,
                             int batch, long long strideA, long long strideB, long long strideC);

RNN4J_KERNEL_DECL rnn4j_gemm_blocked(int transA, int transB, int m, int n, int k, float alpha,
                                     const float *a, long long aOff, int lda,
                                     const float *b, long long bOff, int ldb,
                                     float beta, float *c, long long cOff, int ldc,
                                     int batch, long long strideA, long long strideB, long long strideC);

/* rnn_pointwise.cl */
RNN4J_KERNEL_DECL rnn4j_rnn_pointwise_fwd(int act, long long n, const float *pre, long long preOff,
                                          float *h, long long hOff);
RNN4J_KERNEL_DECL rnn4j_rnn_pointwise_bwd(int act, long long n, const float *h, long long hOff,
                                          const float *dh, long long dhOff, float *dpre, long long dpreOff);

/* lstm_pointwise.cl */
RNN4J_KERNEL_DECL rnn4j_lstm_pointwise_fwd(int batch, int hidden, float *gates, long long gOff,
                                           const float *cPrev, long long cPrevOff, float *c, long long cOff,
                                           float *h, long long hOff);
RNN4J_KERNEL_DECL rnn4j_lstm_pointwise_bwd(int batch, int hidden, const float *gates, long long gOff,
                                           const float *cPrev, long long cPrevOff, const float *c, long long cOff,
                                           const float *dh, long long dhOff,
                                           int hasDcNext, const float *dcNext, long long dcNextOff,
                                           float *dGates, long long dgOff, float *dcPrev, long long dcPrevOff);

/* gru_pointwise.cl */
RNN4J_KERNEL_DECL rnn4j_gru_pointwise_fwd(int batch, int hidden, const float *gx, long long gxOff,
                                          const float *gh, long long ghOff,
                                          int hasBias, const float *bias, long long biasOff,
                                          const float *hPrev, long long hPrevOff,
                                          float *h, long long hOff, float *saved, long long savedOff);
RNN4J_KERNEL_DECL rnn4j_gru_pointwise_bwd(int batch, int hidden, const float *saved, long long savedOff,
                                          const float *hPrev, long long hPrevOff, const float *dh, long long dhOff,
                                          float *dgx, long long dgxOff, float *dgh, long long dghOff,
                                          float *dhPrevPartial, long long dhpOff);

/* sru_fwd.cl */
RNN4J_KERNEL_DECL rnn4j_sru_fwd(int seqLen, int batch, int hidden, int dirs, int k, int act,
                                const float *u, long long uOff, const float *x, long long xOff,
                                const float *bias, long long biasOff,
                                int hasC0, const float *c0, long long c0Off,
                                int hasMask, const float *mask, long long maskOff,
                                int hasWc, const float *weightC, long long wcOff,
                                float scale, int skip, int maskOnGate, int hasLen, const int *lengths,
                                float *h, long long hOff, float *c, long long cOff, float *cLast, long long cLastOff);

/* sru_bwd.cl */
RNN4J_KERNEL_DECL rnn4j_sru_bwd(int seqLen, int batch, int hidden, int dirs, int k, int act,
                                const float *u, long long uOff, const float *x, long long xOff,
                                const float *bias, long long biasOff,
                                int hasC0, const float *c0, long long c0Off,
                                int hasMask, const float *mask, long long maskOff,
                                int hasWc, const float *weightC, long long wcOff,
                                float scale, int skip, int maskOnGate, int hasLen, const int *lengths,
                                const float *c, long long cOff, const float *dh, long long dhOff,
                                int hasDcLast, const float *dcLast, long long dcLastOff,
                                float *du, long long duOff, float *dx, long long dxOff,
                                float *dBias, long long dBiasOff, float *dWc, long long dWcOff,
                                float *dc0, long long dc0Off);

/* layer_norm.cl */
RNN4J_KERNEL_DECL rnn4j_layer_norm_fwd(int rows, int cols, float eps, const float *x, long long xOff,
                                       int hasGamma, const float *gamma, long long gammaOff,
                                       int hasBeta, const float *beta, long long betaOff,
                                       float *y, long long yOff, float *stats, long long statsOff);
RNN4J_KERNEL_DECL rnn4j_layer_norm_bwd_dx(int rows, int cols, const float *x, long long xOff,
                                          int hasGamma, const float *gamma, long long gammaOff,
                                          const float *stats, long long statsOff,
                                          const float *dy, long long dyOff, float *dx, long long dxOff);
RNN4J_KERNEL_DECL rnn4j_layer_norm_bwd_params(int rows, int cols, const float *x, long long xOff,
                                              const float *stats, long long statsOff,
                                              const float *dy, long long dyOff,
                                              int hasDGamma, float *dGamma, long long dGammaOff,
                                              int hasDBeta, float *dBeta, long long dBetaOff);

/* embedding.cl */
RNN4J_KERNEL_DECL rnn4j_embedding_fwd(int n, int dim, const int *ids, const float *weight, long long wOff,
                                      float *out, long long outOff);
RNN4J_KERNEL_DECL rnn4j_embedding_bwd(int u, int dim, const int *csr, const float *dOut, long long dOutOff,
                                      float *dWeight, long long dwOff);

/* log_softmax_nll.cl */
RNN4J_KERNEL_DECL rnn4j_log_softmax_nll(int rows, int classes, const float *logits, long long lOff, const int *targets,
                                        int hasGrad, float gradScale, float *dLogits, long long dOff, float *loss);

#endif
