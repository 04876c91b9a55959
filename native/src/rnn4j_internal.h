/* Helpers shared by the native sources; not part of the public API (hidden symbols). */
#ifndef RNN4J_INTERNAL_H
#define RNN4J_INTERNAL_H

/* Records a formatted message as this thread's last error and returns status. */
int rnn4j_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears this thread's last error and returns RNN4J_OK; every successful call ends with it. */
int rnn4j_ok(void);

/* This library's thread-local message (what rnn4j_last_error / rnn4j_cuda_last_error return). */
const char *rnn4j_error_message(void);

#endif
