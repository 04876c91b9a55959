/*
 * Tests of the native API as a C caller sees it: version, ABI number, NULL arguments turned
 * into a status plus message, the thread-local error, and that only the API is exported.
 * Registered with ctest; CI also runs it under AddressSanitizer and UBSan (RNN4J_SANITIZE).
 */
#define _GNU_SOURCE
#include "rnn4j.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

static void test_version(void) {
    const char *v = rnn4j_version();
    CHECK(v != NULL);
    if (v != NULL) {
        CHECK(strcmp(v, RNN4J_EXPECTED_VERSION) == 0);
        if (strcmp(v, RNN4J_EXPECTED_VERSION) != 0)
            fprintf(stderr, "  version: got \"%s\", expected \"%s\"\n", v, RNN4J_EXPECTED_VERSION);
    }
}

static void test_abi_version(void) {
    int abi = -1;
    CHECK(rnn4j_abi_version(&abi) == RNN4J_OK);
    CHECK(abi == 1);
    CHECK(rnn4j_last_error() != NULL);
    CHECK(strcmp(rnn4j_last_error(), "") == 0);
}

static void test_null_argument(void) {
    CHECK(rnn4j_abi_version(NULL) == RNN4J_ERR_INVALID_ARGUMENT);
    const char *msg = rnn4j_last_error();
    CHECK(msg != NULL);
    if (msg != NULL) {
        /* The message names the call and the argument, so the Java exception is self-explanatory. */
        CHECK(strstr(msg, "rnn4j_abi_version") != NULL);
        CHECK(strstr(msg, "NULL") != NULL);
    }
    /* A later successful call clears the message. */
    int abi = 0;
    CHECK(rnn4j_abi_version(&abi) == RNN4J_OK);
    CHECK(strcmp(rnn4j_last_error(), "") == 0);
}

static void *fail_in_thread(void *arg) {
    int *status = arg;
    *status = rnn4j_abi_version(NULL);
    return NULL;
}

static void test_error_is_thread_local(void) {
    int abi = 0;
    CHECK(rnn4j_abi_version(&abi) == RNN4J_OK);
    int status = -1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fail_in_thread, &status) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(status == RNN4J_ERR_INVALID_ARGUMENT);
    /* The other thread's failure does not show up here. */
    CHECK(strcmp(rnn4j_last_error(), "") == 0);
}

static void test_only_api_exported(void) {
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_version") != NULL);
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_abi_version") != NULL);
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_last_error") != NULL);
    /* Internal helpers stay hidden. */
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_fail") == NULL);
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_ok") == NULL);
}

int main(void) {
    test_version();
    test_abi_version();
    test_null_argument();
    test_error_is_thread_local();
    test_only_api_exported();
    if (failures != 0) {
        fprintf(stderr, "test_core: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_core: all checks passed\n");
    return 0;
}
