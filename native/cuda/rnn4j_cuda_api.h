/*
 * The table of librnn4j_cuda.so's status-returning functions: one X(name, signature, (parameters),
 * (arguments)) per function of rnn4j.h, in the header's order. The signature spells the C
 * parameter types for the JVM: P pointer, I int, L int64_t, F float, D double (every function
 * returns int). rnn4j_cuda_java.c expands it into a compile-time check that each entry matches the
 * prototype in rnn4j.h, the "_e" variant of each function (the message of a failure copied into a
 * caller's buffer) and the table that dev.rnn4j.natives.CudaNative reads at load to bind them.
 * The element-wise kernels' entries come from their own table (rnn4j_cuda_ops.h), which also gives
 * their prototypes and bodies. Adding another function: its prototype in rnn4j.h, its entry here,
 * its body in rnn4j_cuda.c.
 */
#ifndef RNN4J_CUDA_API_H
#define RNN4J_CUDA_API_H

#include "rnn4j_cuda_ops.h"

/* An entry of the element-wise table (rnn4j_cuda_ops.h) as an entry of this one. */
#define RNN4J_CUDA_API_ELEMENTWISE(X, name, ...)                                                   \
    X(rnn4j_cuda_launch_##name, RNN4J_EW_SIGNATURE(__VA_ARGS__), RNN4J_EW_PARAMS(__VA_ARGS__), \
      RNN4J_EW_ARGS(__VA_ARGS__))

#define RNN4J_CUDA_API_TABLE(X) \
    X(rnn4j_cuda_abi_version, "P", \
      (int *out), \
      (out)) \
    X(rnn4j_cuda_probe, "PPPL", \
      (int *device_count, int *cuda_error, char *reason, int64_t reason_cap), \
      (device_count, cuda_error, reason, reason_cap)) \
    X(rnn4j_cuda_device_count, "P", \
      (int *out), \
      (out)) \
    X(rnn4j_cuda_versions, "PP", \
      (int *runtime, int *driver), \
      (runtime, driver)) \
    X(rnn4j_cuda_device_properties, "IPLPPPP", \
      (int ordinal, char *name, int64_t name_cap, int *cc_major, int *cc_minor, int64_t *total_bytes, int *multiprocessors), \
      (ordinal, name, name_cap, cc_major, cc_minor, total_bytes, multiprocessors)) \
    X(rnn4j_cuda_cublas_probe, "PPL", \
      (int *found, char *description, int64_t description_cap), \
      (found, description, description_cap)) \
    X(rnn4j_cuda_cublas_load, "PPPL", \
      (const char *candidates, int *found, char *description, int64_t description_cap), \
      (candidates, found, description, description_cap)) \
    X(rnn4j_cuda_device_create, "IIP", \
      (int ordinal, int flags, rnn4j_cuda_device **out), \
      (ordinal, flags, out)) \
    X(rnn4j_cuda_device_destroy, "P", \
      (rnn4j_cuda_device *dev), \
      (dev)) \
    X(rnn4j_cuda_device_synchronize, "P", \
      (rnn4j_cuda_device *dev), \
      (dev)) \
    X(rnn4j_cuda_device_live_buffers, "PP", \
      (const rnn4j_cuda_device *dev, int64_t *out), \
      (dev, out)) \
    X(rnn4j_cuda_device_gemm_info, "PPPL", \
      (const rnn4j_cuda_device *dev, int *uses_cublas, char *description, int64_t description_cap), \
      (dev, uses_cublas, description, description_cap)) \
    X(rnn4j_cuda_malloc, "PLP", \
      (rnn4j_cuda_device *dev, int64_t bytes, rnn4j_cuda_buffer **out), \
      (dev, bytes, out)) \
    X(rnn4j_cuda_free, "P", \
      (rnn4j_cuda_buffer *buf), \
      (buf)) \
    X(rnn4j_cuda_buffer_size, "PP", \
      (const rnn4j_cuda_buffer *buf, int64_t *bytes), \
      (buf, bytes)) \
    X(rnn4j_cuda_memset, "PLIL", \
      (rnn4j_cuda_buffer *buf, int64_t offset, int value, int64_t bytes), \
      (buf, offset, value, bytes)) \
    X(rnn4j_cuda_upload, "PLPL", \
      (rnn4j_cuda_buffer *dst, int64_t dst_offset, const void *src, int64_t bytes), \
      (dst, dst_offset, src, bytes)) \
    X(rnn4j_cuda_download, "PLPL", \
      (const rnn4j_cuda_buffer *src, int64_t src_offset, void *dst, int64_t bytes), \
      (src, src_offset, dst, bytes)) \
    X(rnn4j_cuda_memcpy, "PLPLL", \
      (const rnn4j_cuda_buffer *src, int64_t src_offset, rnn4j_cuda_buffer *dst, int64_t dst_offset, int64_t bytes), \
      (src, src_offset, dst, dst_offset, bytes)) \
    X(rnn4j_cuda_staging, "PPPP", \
      (rnn4j_cuda_device *dev, void **host, int64_t *slot_bytes, int *slots), \
      (dev, host, slot_bytes, slots)) \
    X(rnn4j_cuda_staging_wait, "PI", \
      (rnn4j_cuda_device *dev, int slot), \
      (dev, slot)) \
    X(rnn4j_cuda_upload_staged, "PLIL", \
      (rnn4j_cuda_buffer *dst, int64_t dst_offset, int slot, int64_t bytes), \
      (dst, dst_offset, slot, bytes)) \
    X(rnn4j_cuda_download_staged, "PLIL", \
      (const rnn4j_cuda_buffer *src, int64_t src_offset, int slot, int64_t bytes), \
      (src, src_offset, slot, bytes)) \
    RNN4J_CUDA_ELEMENTWISE_OPS(RNN4J_CUDA_API_ELEMENTWISE, X) \
    X(rnn4j_cuda_launch_copy2d, "PIIPLIPLI", \
      (rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *src, int64_t src_off, int src_ld, rnn4j_cuda_buffer *dst, int64_t dst_off, int dst_ld), \
      (dev, rows, cols, src, src_off, src_ld, dst, dst_off, dst_ld)) \
    X(rnn4j_cuda_launch_mul_rows, "PIIPLPLPL", \
      (rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *x, int64_t x_off, const rnn4j_cuda_buffer *m, int64_t m_off, rnn4j_cuda_buffer *out, int64_t out_off), \
      (dev, rows, cols, x, x_off, m, m_off, out, out_off)) \
    X(rnn4j_cuda_launch_add_row_vector, "PIIPLPLI", \
      (rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *bias, int64_t bias_off, rnn4j_cuda_buffer *c, int64_t c_off, int ldc), \
      (dev, rows, cols, bias, bias_off, c, c_off, ldc)) \
    X(rnn4j_cuda_launch_sum_rows, "PIIPLIFPL", \
      (rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *a, int64_t a_off, int lda, float beta, rnn4j_cuda_buffer *out, int64_t out_off), \
      (dev, rows, cols, a, a_off, lda, beta, out, out_off)) \
    X(rnn4j_cuda_sum_squares, "PLPLP", \
      (rnn4j_cuda_device *dev, int64_t n, const rnn4j_cuda_buffer *x, int64_t off, double *out), \
      (dev, n, x, off, out)) \
    X(rnn4j_cuda_launch_dropout_mask, "PLFLPL", \
      (rnn4j_cuda_device *dev, int64_t n, float p, int64_t seed, rnn4j_cuda_buffer *out, int64_t out_off), \
      (dev, n, p, seed, out, out_off)) \
    X(rnn4j_cuda_gemm, "PIIIIIFPLIPLIFPLIILLL", \
      (rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k, float alpha, const rnn4j_cuda_buffer *a, int64_t a_off, int lda, const rnn4j_cuda_buffer *b, int64_t b_off, int ldb, float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc, int batch, int64_t stride_a, int64_t stride_b, int64_t stride_c), \
      (dev, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc, batch, stride_a, stride_b, stride_c)) \
    X(rnn4j_cuda_launch_gemm, "PIIIIIFPLIPLIFPLIILLL", \
      (rnn4j_cuda_device *dev, int trans_a, int trans_b, int m, int n, int k, float alpha, const rnn4j_cuda_buffer *a, int64_t a_off, int lda, const rnn4j_cuda_buffer *b, int64_t b_off, int ldb, float beta, rnn4j_cuda_buffer *c, int64_t c_off, int ldc, int batch, int64_t stride_a, int64_t stride_b, int64_t stride_c), \
      (dev, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc, batch, stride_a, stride_b, stride_c)) \
    X(rnn4j_cuda_embedding_forward, "PPIIPLPL", \
      (rnn4j_cuda_device *dev, const int32_t *ids, int n, int dim, const rnn4j_cuda_buffer *weight, int64_t w_off, rnn4j_cuda_buffer *out, int64_t out_off), \
      (dev, ids, n, dim, weight, w_off, out, out_off)) \
    X(rnn4j_cuda_embedding_backward, "PPIIPLPL", \
      (rnn4j_cuda_device *dev, const int32_t *ids, int n, int dim, const rnn4j_cuda_buffer *d_out, int64_t d_out_off, rnn4j_cuda_buffer *d_weight, int64_t dw_off), \
      (dev, ids, n, dim, d_out, d_out_off, d_weight, dw_off)) \
    X(rnn4j_cuda_log_softmax_nll, "PIIPLPFPLP", \
      (rnn4j_cuda_device *dev, int rows, int classes, const rnn4j_cuda_buffer *logits, int64_t l_off, const int32_t *targets, float grad_scale, rnn4j_cuda_buffer *d_logits, int64_t d_off, double *loss), \
      (dev, rows, classes, logits, l_off, targets, grad_scale, d_logits, d_off, loss)) \
    X(rnn4j_cuda_launch_rnn_pointwise_fwd, "PILPLPL", \
      (rnn4j_cuda_device *dev, int act, int64_t n, const rnn4j_cuda_buffer *pre, int64_t pre_off, rnn4j_cuda_buffer *h, int64_t h_off), \
      (dev, act, n, pre, pre_off, h, h_off)) \
    X(rnn4j_cuda_launch_rnn_pointwise_bwd, "PILPLPLPL", \
      (rnn4j_cuda_device *dev, int act, int64_t n, const rnn4j_cuda_buffer *h, int64_t h_off, const rnn4j_cuda_buffer *dh, int64_t dh_off, rnn4j_cuda_buffer *dpre, int64_t dpre_off), \
      (dev, act, n, h, h_off, dh, dh_off, dpre, dpre_off)) \
    X(rnn4j_cuda_launch_lstm_pointwise_fwd, "PIIPLPLPLPL", \
      (rnn4j_cuda_device *dev, int batch, int hidden, rnn4j_cuda_buffer *gates, int64_t g_off, const rnn4j_cuda_buffer *c_prev, int64_t c_prev_off, rnn4j_cuda_buffer *c, int64_t c_off, rnn4j_cuda_buffer *h, int64_t h_off), \
      (dev, batch, hidden, gates, g_off, c_prev, c_prev_off, c, c_off, h, h_off)) \
    X(rnn4j_cuda_launch_lstm_pointwise_bwd, "PIIPLPLPLPLPLPLPL", \
      (rnn4j_cuda_device *dev, int batch, int hidden, const rnn4j_cuda_buffer *gates, int64_t g_off, const rnn4j_cuda_buffer *c_prev, int64_t c_prev_off, const rnn4j_cuda_buffer *c, int64_t c_off, const rnn4j_cuda_buffer *dh, int64_t dh_off, const rnn4j_cuda_buffer *dc_next, int64_t dc_next_off, rnn4j_cuda_buffer *d_gates, int64_t dg_off, rnn4j_cuda_buffer *dc_prev, int64_t dc_prev_off), \
      (dev, batch, hidden, gates, g_off, c_prev, c_prev_off, c, c_off, dh, dh_off, dc_next, dc_next_off, d_gates, dg_off, dc_prev, dc_prev_off)) \
    X(rnn4j_cuda_launch_gru_pointwise_fwd, "PIIPLPLPLPLPLPL", \
      (rnn4j_cuda_device *dev, int batch, int hidden, const rnn4j_cuda_buffer *gx, int64_t gx_off, const rnn4j_cuda_buffer *gh, int64_t gh_off, const rnn4j_cuda_buffer *bias_hh, int64_t bias_hh_off, const rnn4j_cuda_buffer *h_prev, int64_t h_prev_off, rnn4j_cuda_buffer *h, int64_t h_off, rnn4j_cuda_buffer *saved, int64_t saved_off), \
      (dev, batch, hidden, gx, gx_off, gh, gh_off, bias_hh, bias_hh_off, h_prev, h_prev_off, h, h_off, saved, saved_off)) \
    X(rnn4j_cuda_launch_gru_pointwise_bwd, "PIIPLPLPLPLPLPL", \
      (rnn4j_cuda_device *dev, int batch, int hidden, const rnn4j_cuda_buffer *saved, int64_t saved_off, const rnn4j_cuda_buffer *h_prev, int64_t h_prev_off, const rnn4j_cuda_buffer *dh, int64_t dh_off, rnn4j_cuda_buffer *dgx, int64_t dgx_off, rnn4j_cuda_buffer *dgh, int64_t dgh_off, rnn4j_cuda_buffer *dh_prev_partial, int64_t dhp_off), \
      (dev, batch, hidden, saved, saved_off, h_prev, h_prev_off, dh, dh_off, dgx, dgx_off, dgh, dgh_off, dh_prev_partial, dhp_off)) \
    X(rnn4j_cuda_launch_sru_fwd, "PIIIIIIPLPLPLPLPLPLFIIPPLPLPL", \
      (rnn4j_cuda_device *dev, int seq_len, int batch, int hidden, int dirs, int k, int act, const rnn4j_cuda_buffer *u, int64_t u_off, const rnn4j_cuda_buffer *x, int64_t x_off, const rnn4j_cuda_buffer *bias, int64_t bias_off, const rnn4j_cuda_buffer *c0, int64_t c0_off, const rnn4j_cuda_buffer *mask, int64_t mask_off, const rnn4j_cuda_buffer *weight_c, int64_t weight_c_off, float scale, int has_skip, int mask_on_gate, const int32_t *lengths, rnn4j_cuda_buffer *h, int64_t h_off, rnn4j_cuda_buffer *c, int64_t c_off, rnn4j_cuda_buffer *c_last, int64_t c_last_off), \
      (dev, seq_len, batch, hidden, dirs, k, act, u, u_off, x, x_off, bias, bias_off, c0, c0_off, mask, mask_off, weight_c, weight_c_off, scale, has_skip, mask_on_gate, lengths, h, h_off, c, c_off, c_last, c_last_off)) \
    X(rnn4j_cuda_launch_sru_bwd, "PIIIIIIPLPLPLPLPLPLFIIPPLPLPLPLPLPLPLPL", \
      (rnn4j_cuda_device *dev, int seq_len, int batch, int hidden, int dirs, int k, int act, const rnn4j_cuda_buffer *u, int64_t u_off, const rnn4j_cuda_buffer *x, int64_t x_off, const rnn4j_cuda_buffer *bias, int64_t bias_off, const rnn4j_cuda_buffer *c0, int64_t c0_off, const rnn4j_cuda_buffer *mask, int64_t mask_off, const rnn4j_cuda_buffer *weight_c, int64_t weight_c_off, float scale, int has_skip, int mask_on_gate, const int32_t *lengths, const rnn4j_cuda_buffer *c, int64_t c_off, const rnn4j_cuda_buffer *dh, int64_t dh_off, const rnn4j_cuda_buffer *dc_last, int64_t dc_last_off, rnn4j_cuda_buffer *du, int64_t du_off, rnn4j_cuda_buffer *dx, int64_t dx_off, rnn4j_cuda_buffer *d_bias, int64_t d_bias_off, rnn4j_cuda_buffer *d_weight_c, int64_t d_weight_c_off, rnn4j_cuda_buffer *dc0, int64_t dc0_off), \
      (dev, seq_len, batch, hidden, dirs, k, act, u, u_off, x, x_off, bias, bias_off, c0, c0_off, mask, mask_off, weight_c, weight_c_off, scale, has_skip, mask_on_gate, lengths, c, c_off, dh, dh_off, dc_last, dc_last_off, du, du_off, dx, dx_off, d_bias, d_bias_off, d_weight_c, d_weight_c_off, dc0, dc0_off)) \
    X(rnn4j_cuda_launch_layer_norm_fwd, "PIIFPLPLPLPLPL", \
      (rnn4j_cuda_device *dev, int rows, int cols, float eps, const rnn4j_cuda_buffer *x, int64_t x_off, const rnn4j_cuda_buffer *gamma, int64_t gamma_off, const rnn4j_cuda_buffer *beta, int64_t beta_off, rnn4j_cuda_buffer *y, int64_t y_off, rnn4j_cuda_buffer *stats, int64_t stats_off), \
      (dev, rows, cols, eps, x, x_off, gamma, gamma_off, beta, beta_off, y, y_off, stats, stats_off)) \
    X(rnn4j_cuda_launch_layer_norm_bwd, "PIIPLPLPLPLPLPLPL", \
      (rnn4j_cuda_device *dev, int rows, int cols, const rnn4j_cuda_buffer *x, int64_t x_off, const rnn4j_cuda_buffer *gamma, int64_t gamma_off, const rnn4j_cuda_buffer *stats, int64_t stats_off, const rnn4j_cuda_buffer *dy, int64_t dy_off, rnn4j_cuda_buffer *dx, int64_t dx_off, rnn4j_cuda_buffer *d_gamma, int64_t d_gamma_off, rnn4j_cuda_buffer *d_beta, int64_t d_beta_off), \
      (dev, rows, cols, x, x_off, gamma, gamma_off, stats, stats_off, dy, dy_off, dx, dx_off, d_gamma, d_gamma_off, d_beta, d_beta_off))

#endif
