/*
 * rnn4j native API: a flat C interface called from Java through the FFM API
 * (see java/dev/rnn4j/natives/NativeLib.java, which binds every function declared here).
 *
 * Conventions: functions that can fail return an int status (RNN4J_OK = 0); on failure the
 * message is available from rnn4j_last_error() on the same thread. Nothing here aborts or
 * prints: the caller is a JVM, and a crash or stray output there is worse than an error code.
 */
#ifndef RNN4J_H
#define RNN4J_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; only what is marked RNN4J_API is exported. */
#if defined(__GNUC__)
#define RNN4J_API __attribute__((visibility("default")))
#else
#define RNN4J_API
#endif

#define RNN4J_OK 0
#define RNN4J_ERR_INVALID_ARGUMENT 1
#define RNN4J_ERR_UNAVAILABLE 2
#define RNN4J_ERR_INTERNAL 3

/* Version of the native library (the project version, e.g. "0.1.0"); never NULL, static storage. */
RNN4J_API const char *rnn4j_version(void);

/* Writes the library's ABI number into *out. Returns RNN4J_ERR_INVALID_ARGUMENT for NULL. */
RNN4J_API int rnn4j_abi_version(int *out);

/*
 * Message of the last failed call on this thread; "" if no call has failed yet or the last
 * status-returning call succeeded. Never NULL; valid until the next rnn4j call on this thread.
 */
RNN4J_API const char *rnn4j_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
