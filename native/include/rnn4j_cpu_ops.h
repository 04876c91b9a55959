/*
 * The functions of librnn4j_cpu.so (the cpu backend's native kernels) as one table. From each
 * RNN4J_CPU_OPS entry come
 *   - the prototype of rnn4j_cpu_<name> below: (operands..., char *err, int64_t err_cap), where err
 *     (may be NULL) receives the message of a failure, so that Java reads it from the failing
 *     downcall itself; rnn4j_cpu_last_error() has it too, on the calling thread;
 *   - the body of rnn4j_cpu_<name> in rnn4j_cpu.c: the boundary checks of every operand (below),
 *     then the hand-written cpu_<name> with the same parameters;
 *   - its entry in the binding table rnn4j_cpu_api() ({name, signature, operands}), from which
 *     dev.rnn4j.natives.CpuNative builds its FFM downcall handles: Java restates no C signature.
 *
 * An entry: OP(ctx, <name>, <operand>, ...), each operand one of
 *   (dim, x)                 int32_t x, refused when negative
 *   (f32, x)                 float x, any value
 *   (isa_id, x)              int32_t x, an RNN4J_CPU_ISA_* number
 *   (isa, x)                 int32_t x, an RNN4J_CPU_ISA_* number this CPU runs
 *   (i32_out, x)             int32_t *x, not NULL
 *   (text_out, x)            char *x, int64_t x_cap: not NULL, x_cap >= 1 (always NUL-terminated)
 *   (mat_in, x, rows, cols)  const float *x, int64_t x_len, int64_t x_off, int32_t x_ld: a row-major
 *                            rows x cols matrix at x[x_off], row stride x_ld >= max(1, cols), every
 *                            element read inside [0, x_len) (x NULL only when nothing is read);
 *                            rows and cols name (dim) operands listed before it
 *   (mat_out, x, rows, cols) the same, written (float *x)
 *   (panels_in, x, n, k)     const float *x, int64_t x_len, int64_t x_off: a B operand packed into
 *                            column panels (rnn4j_cpu_pack_bt), RNN4J_CPU_PANEL_FLOATS(n, k) floats
 *                            from x_off inside [0, x_len)
 *   (panels_out, x, n, k)    the same, written
 *   (gates, x)               int32_t x, a cell's gate blocks: 1 to 4
 *   (units, x)               int32_t x, refused when negative or above RNN4J_CPU_MAX_UNITS (so that
 *                            4 * x and the like fit an int32_t)
 *   (cell_in, x, g, h)       const float *x, int64_t x_len, int64_t x_off: a recurrent weight of g
 *                            gates x h units packed by unit blocks (rnn4j_cpu_pack_cell),
 *                            RNN4J_CPU_CELL_FLOATS(g, h) floats from x_off inside [0, x_len)
 *   (cell_out, x, g, h)      the same, written
 * Every int64_t count is in floats, not bytes. ctx is passed through to OP untouched.
 * Adding a function: one entry here and its cpu_<name> body in rnn4j_cpu.c.
 */
#ifndef RNN4J_CPU_OPS_H
#define RNN4J_CPU_OPS_H

#include "rnn4j.h"

#include <stdint.h>

#define RNN4J_CPU_OPS(OP, ctx)                                                                          \
    OP(ctx, abi_version, (i32_out, abi))                                                                \
    OP(ctx, isa_best, (i32_out, isa))                                                                   \
    OP(ctx, isa_supported, (isa_id, isa), (i32_out, supported))                                         \
    OP(ctx, isa_name, (isa_id, isa), (text_out, name))                                                  \
    OP(ctx, panel_width, (i32_out, width))                                                              \
    OP(ctx, pack_bt, (dim, n), (dim, k), (mat_in, w, n, k), (panels_out, p, n, k))                      \
    OP(ctx, gemm_packed, (isa, isa), (dim, m), (dim, n), (dim, k), (f32, alpha), (mat_in, a, m, k),     \
       (panels_in, p, n, k), (f32, beta), (mat_out, c, m, n))                                           \
    OP(ctx, pack_cell, (gates, gates), (units, hidden), (mat_in, w, gates * hidden, hidden),             \
       (cell_out, p, gates, hidden))                                                                    \
    OP(ctx, lstm_step, (isa, isa), (dim, rows), (units, hidden), (dim, j0), (dim, j1),                  \
       (mat_in, h, rows, hidden), (cell_in, w, 4, hidden), (mat_out, g, rows, 4 * hidden),              \
       (mat_in, cprev, rows, hidden), (mat_out, c, rows, hidden), (mat_out, hout, rows, hidden))       \
    OP(ctx, gru_step, (isa, isa), (dim, rows), (units, hidden), (dim, j0), (dim, j1),                   \
       (mat_in, h, rows, hidden), (cell_in, w, 3, hidden), (mat_in, gx, rows, 3 * hidden),              \
       (dim, nbias), (mat_in, bh, nbias, 3 * hidden), (mat_out, saved, rows, 4 * hidden),              \
       (mat_out, hout, rows, hidden))                                                                   \
    /* end of the table: a new entry is one more line above */

/* The instruction sets the kernels are compiled for, chosen at run time (rnn4j_cpu_isa_best). */
#define RNN4J_CPU_ISA_PORTABLE 0 /* C with fmaf: any CPU */
#define RNN4J_CPU_ISA_AVX2 1     /* AVX2 + FMA (x86-64) */
#define RNN4J_CPU_ISA_AVX512 2   /* AVX-512F (x86-64) */
#define RNN4J_CPU_ISA_COUNT 3

/*
 * Packed B: W (n x k) transposed into panels of RNN4J_CPU_PANEL columns, [n / PANEL][k][PANEL],
 * P[(p * k + l) * PANEL + q] = W[(p * PANEL + q) * ldw + l], zero for the columns past n. The same
 * layout for every instruction set, so a packed copy never depends on the CPU.
 */
#define RNN4J_CPU_PANEL 32
#define RNN4J_CPU_PANEL_FLOATS(n, k) \
    ((((int64_t) (n) + RNN4J_CPU_PANEL - 1) / RNN4J_CPU_PANEL) * RNN4J_CPU_PANEL * (int64_t) (k))

/*
 * A recurrent weight W_hh (g gates of h units each: g*h rows of h, gate-major as the layers keep
 * it) packed for the fused steps: blocks of RNN4J_CPU_UNIT units, [h / UNIT][h][g][UNIT], so that
 * one row l of a block holds all g gates of its UNIT units side by side,
 * P[((b * h + l) * g + q) * UNIT + u] = W[(q * h + b * UNIT + u) * ldw + l], zero for units past
 * h. A step's product for a block so leaves gate q of unit u in lane u of accumulator q, where
 * the pointwise math reads it. The same layout for every instruction set.
 */
#define RNN4J_CPU_UNIT 8
#define RNN4J_CPU_CELL_FLOATS(g, h) \
    ((((int64_t) (h) + RNN4J_CPU_UNIT - 1) / RNN4J_CPU_UNIT) * RNN4J_CPU_UNIT * (int64_t) (g) * (int64_t) (h))
/* The largest hidden size the fused steps take: 4 * h * (h + 8) floats stay far below 2^63. */
#define RNN4J_CPU_MAX_UNITS (1 << 26)

/*
 * RNN4J_CPU_EACH(M, a, b, ...) is M a M b ...: M applied to each operand tuple (at most 12), so
 * that M(kind, name, ...) pastes the kind onto its own name and says what the operand becomes in a
 * parameter list, an argument list, a check, a signature. (RNN4J_EACH of rnn4j_cuda_ops.h does the
 * same for pairs; these tuples have 2 or 4 elements.)
 */
#define RNN4J_CPU_EACH(M, ...) RNN4J_EACH(M, __VA_ARGS__)

/* An operand as C parameters, each followed by a comma (the list ends with err, err_cap). */
#define RNN4J_CPU_PARAM(kind, ...) RNN4J_CPU_PARAM_##kind(__VA_ARGS__)
#define RNN4J_CPU_PARAM_dim(x) int32_t x,
#define RNN4J_CPU_PARAM_f32(x) float x,
#define RNN4J_CPU_PARAM_isa_id(x) int32_t x,
#define RNN4J_CPU_PARAM_isa(x) int32_t x,
#define RNN4J_CPU_PARAM_i32_out(x) int32_t *x,
#define RNN4J_CPU_PARAM_text_out(x) char *x, int64_t x##_cap,
#define RNN4J_CPU_PARAM_mat_in(x, r, c) const float *x, int64_t x##_len, int64_t x##_off, int32_t x##_ld,
#define RNN4J_CPU_PARAM_mat_out(x, r, c) float *x, int64_t x##_len, int64_t x##_off, int32_t x##_ld,
#define RNN4J_CPU_PARAM_panels_in(x, n, k) const float *x, int64_t x##_len, int64_t x##_off,
#define RNN4J_CPU_PARAM_panels_out(x, n, k) float *x, int64_t x##_len, int64_t x##_off,
#define RNN4J_CPU_PARAM_units(x) int32_t x,
#define RNN4J_CPU_PARAM_gates(x) int32_t x,
#define RNN4J_CPU_PARAM_cell_in(x, g, h) const float *x, int64_t x##_len, int64_t x##_off,
#define RNN4J_CPU_PARAM_cell_out(x, g, h) float *x, int64_t x##_len, int64_t x##_off,

/* An operand as arguments of a call, each followed by a comma. */
#define RNN4J_CPU_ARG(kind, ...) RNN4J_CPU_ARG_##kind(__VA_ARGS__)
#define RNN4J_CPU_ARG_dim(x) x,
#define RNN4J_CPU_ARG_f32(x) x,
#define RNN4J_CPU_ARG_isa_id(x) x,
#define RNN4J_CPU_ARG_isa(x) x,
#define RNN4J_CPU_ARG_i32_out(x) x,
#define RNN4J_CPU_ARG_text_out(x) x, x##_cap,
#define RNN4J_CPU_ARG_mat_in(x, r, c) x, x##_len, x##_off, x##_ld,
#define RNN4J_CPU_ARG_mat_out(x, r, c) x, x##_len, x##_off, x##_ld,
#define RNN4J_CPU_ARG_panels_in(x, n, k) x, x##_len, x##_off,
#define RNN4J_CPU_ARG_panels_out(x, n, k) x, x##_len, x##_off,
#define RNN4J_CPU_ARG_units(x) x,
#define RNN4J_CPU_ARG_gates(x) x,
#define RNN4J_CPU_ARG_cell_in(x, g, h) x, x##_len, x##_off,
#define RNN4J_CPU_ARG_cell_out(x, g, h) x, x##_len, x##_off,

/* An operand as signature letters for the JVM: P pointer, I int32_t, L int64_t, F float. */
#define RNN4J_CPU_SIG(kind, ...) RNN4J_CPU_SIG_##kind
#define RNN4J_CPU_SIG_dim "I"
#define RNN4J_CPU_SIG_f32 "F"
#define RNN4J_CPU_SIG_isa_id "I"
#define RNN4J_CPU_SIG_isa "I"
#define RNN4J_CPU_SIG_i32_out "P"
#define RNN4J_CPU_SIG_text_out "PL"
#define RNN4J_CPU_SIG_mat_in "PLLI"
#define RNN4J_CPU_SIG_mat_out "PLLI"
#define RNN4J_CPU_SIG_panels_in "PLL"
#define RNN4J_CPU_SIG_panels_out "PLL"
#define RNN4J_CPU_SIG_units "I"
#define RNN4J_CPU_SIG_gates "I"
#define RNN4J_CPU_SIG_cell_in "PLL"
#define RNN4J_CPU_SIG_cell_out "PLL"

/* An operand as text for the binding table, "kind name[ rows cols];", which Java reads. */
#define RNN4J_CPU_SPEC(kind, ...) #kind " " #__VA_ARGS__ ";"

#define RNN4J_CPU_PARAMS(...) (RNN4J_CPU_EACH(RNN4J_CPU_PARAM, __VA_ARGS__) char *err, int64_t err_cap)
#define RNN4J_CPU_ARGS(...) (RNN4J_CPU_EACH(RNN4J_CPU_ARG, __VA_ARGS__) err, err_cap)
/* The signature, err and err_cap included. */
#define RNN4J_CPU_SIGNATURE(...) RNN4J_CPU_EACH(RNN4J_CPU_SIG, __VA_ARGS__) "PL"

#ifdef __cplusplus
extern "C" {
#endif

#define RNN4J_CPU_DECLARE(ctx, name, ...) RNN4J_API int rnn4j_cpu_##name RNN4J_CPU_PARAMS(__VA_ARGS__);
RNN4J_CPU_OPS(RNN4J_CPU_DECLARE, ~)
#undef RNN4J_CPU_DECLARE

/* One entry of the binding table: the function's name, its signature, its operands as text. */
typedef struct rnn4j_cpu_api_entry {
    const char *name;
    const char *signature;
    const char *operands;
} rnn4j_cpu_api_entry;

/* The binding table, in RNN4J_CPU_OPS's order. */
RNN4J_API int rnn4j_cpu_api(const rnn4j_cpu_api_entry **entries, int *count);

/* Version of the library (the project version) and this thread's last failure ("" if none). */
RNN4J_API const char *rnn4j_cpu_version(void);
RNN4J_API const char *rnn4j_cpu_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
