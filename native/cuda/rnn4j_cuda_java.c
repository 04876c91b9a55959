/*
 * The binding side of librnn4j_cuda.so, expanded from the table in rnn4j_cuda_api.h:
 *   - compile-time checks that every table entry has exactly the type of its prototype in
 *     rnn4j.h and one signature letter per parameter;
 *   - for every function f, f_e(..., char *err, int64_t err_cap): f, and on failure f's message
 *     copied into err. The JVM calls these: a virtual thread may move to another OS thread
 *     between two downcalls, so reading the thread-local rnn4j_cuda_last_error() in a second
 *     downcall could return another call's message (or none);
 *   - rnn4j_cuda_api(): the table as data ({name, signature} pairs), from which
 *     dev.rnn4j.natives.CudaNative builds its FFM descriptors, so Java restates no C signature.
 */
#include "rnn4j.h"
#include "rnn4j_cuda_api.h"
#include "rnn4j_internal.h"

#include <stdint.h>
#include <string.h>

/* Number of arguments, 1 to 40 (the widest entry, rnn4j_cuda_launch_sru_bwd, has 33). */
#define RNN4J_NARGS(...) RNN4J_NARGS_(__VA_ARGS__, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, \
                                      24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define RNN4J_NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, \
                     a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35, a36, a37, a38, a39, a40, n,  \
                     ...)                                                                                          \
    n

#define RNN4J_CHECK_ENTRY(name, sig, params, args)                                                      \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&name), int(*) params),                      \
                   #name ": the entry in rnn4j_cuda_api.h differs from the prototype in rnn4j.h");      \
    _Static_assert(sizeof(sig) - 1 == RNN4J_NARGS args, #name ": one signature letter per parameter");
RNN4J_CUDA_API_TABLE(RNN4J_CHECK_ENTRY)

static int copy_error(int status, char *err, int64_t cap) {
    if (status != RNN4J_OK && err != NULL && cap > 0) {
        const char *m = rnn4j_error_message();
        size_t n = strlen(m);
        if ((uint64_t) n >= (uint64_t) cap) n = (size_t) cap - 1;
        memcpy(err, m, n);
        err[n] = '\0';
    }
    return status;
}

/* (a, b) -> (a, b, char *rnn4j_err, int64_t rnn4j_err_cap) */
#define RNN4J_WITH_ERR(...) (__VA_ARGS__, char *rnn4j_err, int64_t rnn4j_err_cap)
#define RNN4J_DEFINE_E(name, sig, params, args) \
    RNN4J_API int name##_e RNN4J_WITH_ERR params; \
    RNN4J_API int name##_e RNN4J_WITH_ERR params { return copy_error(name args, rnn4j_err, rnn4j_err_cap); }
RNN4J_CUDA_API_TABLE(RNN4J_DEFINE_E)

#define RNN4J_ENTRY(name, sig, params, args) {#name, sig},
static const rnn4j_cuda_api_entry table[] = {RNN4J_CUDA_API_TABLE(RNN4J_ENTRY)};

int rnn4j_cuda_api(const rnn4j_cuda_api_entry **entries, int *count) {
    if (entries == NULL || count == NULL)
        return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "rnn4j_cuda_api: entries or count is NULL");
    *entries = table;
    *count = (int) (sizeof table / sizeof table[0]);
    return rnn4j_ok();
}
