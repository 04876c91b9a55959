/* Core of the native shim: version, ABI number and the thread-local last-error message. */
#include "rnn4j.h"
#include "rnn4j_internal.h"

#include <stdarg.h>
#include <stdio.h>

/* Bumped whenever a signature in rnn4j.h changes; NativeLib refuses a library with another ABI. */
#define RNN4J_ABI 1

static _Thread_local char last_error[1024];

int rnn4j_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int rnn4j_ok(void) {
    last_error[0] = '\0';
    return RNN4J_OK;
}

const char *rnn4j_version(void) { return RNN4J_VERSION_STRING; }

int rnn4j_abi_version(int *out) {
    if (out == NULL) return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "rnn4j_abi_version: out is NULL");
    *out = RNN4J_ABI;
    return rnn4j_ok();
}

const char *rnn4j_last_error(void) { return last_error; }
