/* Core of the native shim: version, ABI number and the thread-local last-error message. */
#include "rnn4j.h"
#include "rnn4j_internal.h"

#include <stddef.h>

/* Bumped whenever a signature in rnn4j.h changes; NativeLib refuses a library with another ABI. */
#define RNN4J_ABI 1

const char *rnn4j_version(void) { return RNN4J_VERSION_STRING; }

int rnn4j_abi_version(int *out) {
    if (out == NULL) return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "rnn4j_abi_version: out is NULL");
    *out = RNN4J_ABI;
    return rnn4j_ok();
}

const char *rnn4j_last_error(void) { return rnn4j_error_message(); }
