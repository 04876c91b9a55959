/*
 * The element-wise kernels of librnn4j_cuda.so as one table: each RNN4J_CUDA_ELEMENTWISE_OPS entry
 * describes a kernel of kernels/ that runs one thread per element of [0, n) and whose every buffer
 * operand spans n floats from its offset. From that one entry come
 *   - the prototype of rnn4j_cuda_launch_<name> in rnn4j.h: (dev, int64_t n, operands...), where a
 *     buffer operand x is the pair (x, int64_t x_off);
 *   - its body in rnn4j_cuda.c: the boundary checks (device handle; n >= 0; every buffer a live
 *     handle of dev, not NULL, with [x_off, x_off + n) inside it, overflow refused) and the launch of
 *     rnn4j_<name> with (n, operands...) as its argument array;
 *   - the kernel's declaration (rnn4j_cuda_kernels.h), which nvcc checks against its definition;
 *   - its entry in the binding table (rnn4j_cuda_api.h), from which Java builds the FFM descriptor.
 * CMakeLists.txt checks that every entry names a KERNEL of kernels/.
 *
 * An entry: OP(ctx, <name>, <operand>, ...), the operands in the kernel's order after n, each one of
 *   (f32, x)  a float scalar
 *   (in, x)   a buffer the kernel reads
 *   (out, x)  a buffer the kernel writes (or reads and writes)
 * ctx is passed through to OP untouched (the binding table passes its X macro that way).
 * Adding such a kernel: its KERNEL in kernels/<file>.cl (parameters (i64 n, operands...)) and one
 * entry here; nothing else on the C side.
 */
#ifndef RNN4J_CUDA_OPS_H
#define RNN4J_CUDA_OPS_H

#define RNN4J_CUDA_ELEMENTWISE_OPS(OP, ctx)                                                                 \
    OP(ctx, copy, (in, src), (out, dst))                                                    /* copy.cl */ \
    OP(ctx, fill, (f32, value), (out, x))                                                   /* copy.cl */ \
    OP(ctx, axpy, (f32, alpha), (in, x), (out, y))                                   /* elementwise.cl */ \
    OP(ctx, scale, (f32, alpha), (out, x))                                           /* elementwise.cl */ \
    OP(ctx, mul, (in, a), (in, b), (out, out))                                       /* elementwise.cl */ \
    OP(ctx, adam_step, (f32, beta1), (f32, beta2), (f32, step_size), (f32, bc2_sqrt), (f32, eps),         \
       (in, g), (out, m), (out, v), (out, p))                                          /* adam_step.cl */ \
    /* end of the table: a new entry is one more line above */

/*
 * RNN4J_EACH(M, a, b, ...) is M a M b ...: M applied to each operand pair, so that M(kind, name)
 * can paste the kind onto its own name (M##_f32, M##_in, M##_out) and say what that operand
 * becomes in a parameter list, an argument list, a check... At most 12 operands.
 */
#define RNN4J_EACH(M, ...) RNN4J_EACH_N(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)(M, __VA_ARGS__)
#define RNN4J_EACH_N(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) RNN4J_EACH_##n
#define RNN4J_EACH_1(M, a) M a
#define RNN4J_EACH_2(M, a, ...) M a RNN4J_EACH_1(M, __VA_ARGS__)
#define RNN4J_EACH_3(M, a, ...) M a RNN4J_EACH_2(M, __VA_ARGS__)
#define RNN4J_EACH_4(M, a, ...) M a RNN4J_EACH_3(M, __VA_ARGS__)
#define RNN4J_EACH_5(M, a, ...) M a RNN4J_EACH_4(M, __VA_ARGS__)
#define RNN4J_EACH_6(M, a, ...) M a RNN4J_EACH_5(M, __VA_ARGS__)
#define RNN4J_EACH_7(M, a, ...) M a RNN4J_EACH_6(M, __VA_ARGS__)
#define RNN4J_EACH_8(M, a, ...) M a RNN4J_EACH_7(M, __VA_ARGS__)
#define RNN4J_EACH_9(M, a, ...) M a RNN4J_EACH_8(M, __VA_ARGS__)
#define RNN4J_EACH_10(M, a, ...) M a RNN4J_EACH_9(M, __VA_ARGS__)
#define RNN4J_EACH_11(M, a, ...) M a RNN4J_EACH_10(M, __VA_ARGS__)
#define RNN4J_EACH_12(M, a, ...) M a RNN4J_EACH_11(M, __VA_ARGS__)

/* An operand as C parameters: ", float x" or ", [const] rnn4j_cuda_buffer *x, int64_t x_off". */
#define RNN4J_EW_PARAM(kind, x) RNN4J_EW_PARAM_##kind(x)
#define RNN4J_EW_PARAM_f32(x) , float x
#define RNN4J_EW_PARAM_in(x) , const rnn4j_cuda_buffer *x, int64_t x##_off
#define RNN4J_EW_PARAM_out(x) , rnn4j_cuda_buffer *x, int64_t x##_off

/* An operand as arguments of a call: ", x" or ", x, x_off". */
#define RNN4J_EW_ARG(kind, x) RNN4J_EW_ARG_##kind(x)
#define RNN4J_EW_ARG_f32(x) , x
#define RNN4J_EW_ARG_in(x) , x, x##_off
#define RNN4J_EW_ARG_out(x) , x, x##_off

/* An operand as signature letters of the binding table: "F" or "PL". */
#define RNN4J_EW_SIG(kind, x) RNN4J_EW_SIG_##kind
#define RNN4J_EW_SIG_f32 "F"
#define RNN4J_EW_SIG_in "PL"
#define RNN4J_EW_SIG_out "PL"

/* The full parameter list, argument list and signature of rnn4j_cuda_launch_<name>. */
#define RNN4J_EW_PARAMS(...) (rnn4j_cuda_device * dev, int64_t n RNN4J_EACH(RNN4J_EW_PARAM, __VA_ARGS__))
#define RNN4J_EW_ARGS(...) (dev, n RNN4J_EACH(RNN4J_EW_ARG, __VA_ARGS__))
#define RNN4J_EW_SIGNATURE(...) "PL" RNN4J_EACH(RNN4J_EW_SIG, __VA_ARGS__)

#endif
