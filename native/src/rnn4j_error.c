/*
 * The thread-local last-error message behind rnn4j_last_error() and rnn4j_cuda_last_error().
 * Compiled into each rnn4j library (librnn4j.so, librnn4j_cuda.so): each library keeps its own
 * message, read through its own exported getter. Nothing here is exported.
 */
#include "rnn4j_internal.h"

#include <stdarg.h>
#include <stdio.h>

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
    return 0;
}

const char *rnn4j_error_message(void) { return last_error; }
