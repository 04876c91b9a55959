/*
 * rnn4j native API: a flat C interface called from Java through the FFM API.
 *
 * Conventions: every function returns an int status (RNN4J_OK = 0); on failure the message
 * is available from rnn4j_last_error() on the same thread. Nothing here aborts or prints.
 */
#ifndef RNN4J_H
#define RNN4J_H

#ifdef __cplusplus
extern "C" {
#endif

#define RNN4J_OK 0
#define RNN4J_ERR_INVALID_ARGUMENT 1
#define RNN4J_ERR_UNAVAILABLE 2
#define RNN4J_ERR_INTERNAL 3

/* Version of the native library as "MAJOR.MINOR.PATCH"; never NULL, static storage. */
const char *rnn4j_version(void);

/* Writes the library's ABI number into *out. Returns RNN4J_ERR_INVALID_ARGUMENT for NULL. */
int rnn4j_abi_version(int *out);

/* Message of the last failed call on this thread ("" if none); valid until the next call. */
const char *rnn4j_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
