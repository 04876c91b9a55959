/*
 * Every kernel of kernels/ in one CUDA translation unit (one nvcc run compiles them all for
 * every target architecture: much faster than one run per file). The sources are the same files
 * the OpenCL backend builds at run time; rnn4j_compat.h maps them to CUDA C++.
 * CMakeLists.txt warns when a .cl file of kernels/ is missing from this list.
 */
#include "copy.cl"
#include "elementwise.cl"
#include "reduce.cl"
#include "dropout_mask.cl"
#include "gemm.cl"
#include "rnn_pointwise.cl"
#include "lstm_pointwise.cl"
#include "gru_pointwise.cl"
#include "sru_fwd.cl"
#include "sru_bwd.cl"
#include "layer_norm.cl"
#include "embedding.cl"
#include "log_softmax_nll.cl"
#include "adam_step.cl"

/* Last: redeclares every kernel with the parameter types the host launches it with. */
#include "rnn4j_cuda_kernels.h"
