/*
 * rnn4j_compat.h: the portability layer that lets every .cl file in kernels/ compile both as
 * OpenCL C (built at run time by the OpenCL backend) and as CUDA C++ (built by nvcc for the
 * CUDA backend, e.g. `nvcc -x cu -c gemm.cl`, or a .cu that #includes the .cl files).
 *
 * Kernel sources use only the names defined here for anything the two languages spell
 * differently:
 *   KERNEL               kernel entry point returning void (extern "C" under CUDA, so the
 *                        host finds it by its plain name)
 *   DEVICE_FN            helper function callable from kernels
 *   GLOBAL               qualifier of pointers into device (global) memory
 *   SHARED               qualifier of an on-chip array shared by a work-group / thread block
 *   GLOBAL_ID(d) ...     work-item / thread indices, d = 0, 1, 2 (always a literal)
 *   SYNC_THREADS()       work-group barrier over local/shared memory
 *   RNN4J_LAUNCH_BOUNDS(t, b)  after KERNEL: CUDA's register cap for t threads per block and
 *                        b blocks per multiprocessor; nothing under OpenCL
 *   EXPF, LOGF, TANHF    single-precision math; RNN4J_INF is +infinity
 *   u32, i32, i64        fixed-width integers (OpenCL `long` and CUDA `long long` are 64-bit)
 *   RESTRICT             no-alias qualifier of a pointer parameter (restrict / __restrict__)
 * plus a few numeric helpers shared by several ops (sigmoid, the activations).
 *
 * The OpenCL host prepends this file to the sources (the #include line in each .cl is
 * dropped there); nvcc resolves the #include itself. The include guard makes both work.
 */
#ifndef RNN4J_COMPAT_H
#define RNN4J_COMPAT_H

#if defined(__OPENCL_VERSION__) || defined(__OPENCL_C_VERSION__)

#define RNN4J_OPENCL 1
#define KERNEL __kernel void
#define DEVICE_FN static inline
#define GLOBAL __global
#define SHARED __local
#define RESTRICT restrict

typedef uint u32;
typedef int i32;
typedef long i64;

#define GLOBAL_ID(d)   ((i64) get_global_id(d))
#define LOCAL_ID(d)    ((i32) get_local_id(d))
#define GROUP_ID(d)    ((i64) get_group_id(d))
#define LOCAL_SIZE(d)  ((i32) get_local_size(d))
#define NUM_GROUPS(d)  ((i64) get_num_groups(d))
#define SYNC_THREADS() barrier(CLK_LOCAL_MEM_FENCE)
#define RNN4J_LAUNCH_BOUNDS(threads, blocks) /* CUDA only */

#define EXPF(x)  exp(x)
#define LOGF(x)  log(x)
#define TANHF(x) tanh(x)
#define SQRTF(x) sqrt(x)
#define RNN4J_INF INFINITY

#elif defined(__CUDACC__)

#define RNN4J_CUDA 1
#define KERNEL extern "C" __global__ void
#define DEVICE_FN static __device__ __forceinline__
#define GLOBAL
#define SHARED __shared__
#define RESTRICT __restrict__

typedef unsigned int u32;
typedef int i32;
typedef long long i64;

DEVICE_FN i64 rnn4j_dim3_get(dim3 v, int d) { return d == 0 ? v.x : (d == 1 ? v.y : v.z); }
DEVICE_FN i64 rnn4j_uint3_get(uint3 v, int d) { return d == 0 ? v.x : (d == 1 ? v.y : v.z); }

#define GLOBAL_ID(d)   (rnn4j_uint3_get(blockIdx, d) * rnn4j_dim3_get(blockDim, d) + rnn4j_uint3_get(threadIdx, d))
#define LOCAL_ID(d)    ((i32) rnn4j_uint3_get(threadIdx, d))
#define GROUP_ID(d)    rnn4j_uint3_get(blockIdx, d)
#define LOCAL_SIZE(d)  ((i32) rnn4j_dim3_get(blockDim, d))
#define NUM_GROUPS(d)  rnn4j_dim3_get(gridDim, d)
#define SYNC_THREADS() __syncthreads()
/* Between KERNEL and the name: at most `threads` per block, registers capped so that `blocks`
 * blocks fit on a multiprocessor. */
#define RNN4J_LAUNCH_BOUNDS(threads, blocks) __launch_bounds__(threads, blocks)

#define EXPF(x)  expf(x)
#define LOGF(x)  logf(x)
#define TANHF(x) tanhf(x)
#define SQRTF(x) sqrtf(x)
#define RNN4J_INF __int_as_float(0x7f800000)

#else
#error "rnn4j kernels compile as OpenCL C or as CUDA C++ only"
#endif

/* Side of the square work-group tiles (GEMM, column sums, 2-D copies). The host lowers it
 * with -DRNN4J_TILE=... on devices whose work-groups cannot hold TILE*TILE items. Must be a
 * power of two. */
#ifndef RNN4J_TILE
#define RNN4J_TILE 16
#endif

/* Activation codes, as dev.rnn4j.backend.Activation.code. */
#define RNN4J_ACT_IDENTITY 0
#define RNN4J_ACT_TANH 1
#define RNN4J_ACT_RELU 2

DEVICE_FN float rnn4j_sigmoid(float x) { return 1.0f / (1.0f + EXPF(-x)); }

/* act(x) for an activation code. */
DEVICE_FN float rnn4j_activate(i32 act, float x) {
    if (act == RNN4J_ACT_TANH) return TANHF(x);
    if (act == RNN4J_ACT_RELU) return x > 0.0f ? x : 0.0f;
    return x;
}

/* act'(x) at the pre-activation x. */
DEVICE_FN float rnn4j_activate_grad(i32 act, float x) {
    if (act == RNN4J_ACT_TANH) { float t = TANHF(x); return 1.0f - t * t; }
    if (act == RNN4J_ACT_RELU) return x > 0.0f ? 1.0f : 0.0f;
    return 1.0f;
}

#endif /* RNN4J_COMPAT_H */
