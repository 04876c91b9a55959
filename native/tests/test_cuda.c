/*
 * Tests of librnn4j_cuda.so as a C caller sees it. Registered with ctest; ./test runs it under
 * AddressSanitizer and UBSan.
 *
 * Without a GPU (the usual case in CI) it checks what needs none: the probe answers "no
 * driver" (35) or "no device" (100) and nothing else; every entry point refuses bad arguments
 * (NULL handles, negative sizes, ranges beyond a buffer's recorded size, bad enum values) with
 * RNN4J_ERR_INVALID_ARGUMENT and a message naming the call, before anything reaches CUDA; CUDA
 * errors come back as a status with the error's name and code; only rnn4j_cuda_* is exported.
 * For the argument checks it builds device and buffer handles by hand (rnn4j_cuda_internal.h):
 * validation must reject the call before those fake handles are used.
 *
 * With a GPU it also runs a short smoke test of memory, kernels and GEMM; with
 * RNN4J_REQUIRE_CUDA=1 in the environment the absence of a GPU is a failure.
 */
#define _GNU_SOURCE
#include "rnn4j.h"
#include "rnn4j_cuda_internal.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* The call must fail with RNN4J_ERR_INVALID_ARGUMENT and a message containing `fn` and `part`. */
#define CHECK_INVALID(call, fn, part) check_invalid((call), (fn), (part), __LINE__, #call)

static void check_invalid(int status, const char *fn, const char *part, int line, const char *text) {
    const char *msg = rnn4j_cuda_last_error();
    if (status != RNN4J_ERR_INVALID_ARGUMENT || msg == NULL || strstr(msg, fn) == NULL || strstr(msg, part) == NULL) {
        fprintf(stderr, "%s:%d: expected RNN4J_ERR_INVALID_ARGUMENT mentioning \"%s\" and \"%s\" from\n  %s\n"
                        "  got status %d, message \"%s\"\n",
                __FILE__, line, fn, part, text, status, msg != NULL ? msg : "(null)");
        failures++;
    }
}

static int device_count;
static int cuda_error;
static char reason[512];

static void test_version(void) {
    CHECK(strcmp(rnn4j_cuda_version(), RNN4J_EXPECTED_VERSION) == 0);
    int abi = 0;
    CHECK(rnn4j_cuda_abi_version(&abi) == RNN4J_OK);
    CHECK(abi == 2);
    CHECK(strcmp(rnn4j_cuda_last_error(), "") == 0);
    CHECK_INVALID(rnn4j_cuda_abi_version(NULL), "rnn4j_cuda_abi_version", "NULL");
}

/* The probe never fails for lack of a GPU, and says exactly why there is none. */
static void test_probe(void) {
    CHECK(rnn4j_cuda_probe(&device_count, &cuda_error, reason, sizeof reason) == RNN4J_OK);
    CHECK(strcmp(rnn4j_cuda_last_error(), "") == 0);
    if (device_count > 0) {
        CHECK(cuda_error == 0);
        CHECK(strcmp(reason, "") == 0);
        printf("test_cuda: %d CUDA device(s)\n", device_count);
    } else {
        printf("test_cuda: no CUDA device: %s\n", reason);
        CHECK(cuda_error == 35 || cuda_error == 100);
        if (cuda_error == 35) CHECK(strncmp(reason, "cudaErrorInsufficientDriver (35): ", 34) == 0);
        if (cuda_error == 100) CHECK(strncmp(reason, "cudaErrorNoDevice (100): ", 25) == 0);
        int n = -1;
        CHECK(rnn4j_cuda_device_count(&n) == RNN4J_ERR_UNAVAILABLE);
        CHECK(strstr(rnn4j_cuda_last_error(), "rnn4j_cuda_device_count: cudaGetDeviceCount failed: ") != NULL);
        CHECK(strstr(rnn4j_cuda_last_error(), reason) != NULL);
        rnn4j_cuda_device *dev = (rnn4j_cuda_device *) 1;
        CHECK(rnn4j_cuda_device_create(0, 0, &dev) == RNN4J_ERR_UNAVAILABLE);
        CHECK(dev == NULL);
        CHECK(strstr(rnn4j_cuda_last_error(), reason) != NULL);
    }
    /* a truncated reason is still NUL-terminated */
    char tiny[4] = {'x', 'x', 'x', 'x'};
    int n, e;
    CHECK(rnn4j_cuda_probe(&n, &e, tiny, sizeof tiny) == RNN4J_OK);
    CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);

    CHECK_INVALID(rnn4j_cuda_probe(NULL, &e, reason, sizeof reason), "rnn4j_cuda_probe", "device_count is NULL");
    CHECK_INVALID(rnn4j_cuda_probe(&n, NULL, reason, sizeof reason), "rnn4j_cuda_probe", "cuda_error is NULL");
    CHECK_INVALID(rnn4j_cuda_probe(&n, &e, NULL, sizeof reason), "rnn4j_cuda_probe", "reason is NULL");
    CHECK_INVALID(rnn4j_cuda_probe(&n, &e, reason, 0), "rnn4j_cuda_probe", "reason_cap");
    CHECK_INVALID(rnn4j_cuda_device_count(NULL), "rnn4j_cuda_device_count", "NULL");

    int runtime = 0, driver = -1;
    CHECK(rnn4j_cuda_versions(&runtime, &driver) == RNN4J_OK);
    CHECK(runtime >= 12000);
    CHECK(driver >= 0);
    CHECK_INVALID(rnn4j_cuda_versions(NULL, &driver), "rnn4j_cuda_versions", "runtime is NULL");
}

static void test_cublas_probe(void) {
    int found = -1;
    char desc[600];
    CHECK(rnn4j_cuda_cublas_probe(&found, desc, sizeof desc) == RNN4J_OK);
    CHECK(found == 0 || found == 1);
    if (found) {
        CHECK(strncmp(desc, "libcublas.so.1", 14) == 0);
    } else {
        /* both names were tried, each with its reason */
        CHECK(strstr(desc, "libcublas.so.13") != NULL);
        CHECK(strstr(desc, "libcublas.so.12") != NULL);
    }
    printf("test_cuda: cuBLAS %s: %s\n", found ? "found" : "not found", desc);
    CHECK_INVALID(rnn4j_cuda_cublas_probe(NULL, desc, sizeof desc), "rnn4j_cuda_cublas_probe", "found is NULL");
    CHECK_INVALID(rnn4j_cuda_cublas_probe(&found, desc, 0), "rnn4j_cuda_cublas_probe", "description_cap");
}

/* Candidates are tried in order, each failure named; an empty list is refused. */
static void test_cublas_load(void) {
    int found = -1;
    char desc[1024];
    CHECK_INVALID(rnn4j_cuda_cublas_load("", &found, desc, sizeof desc), "rnn4j_cuda_cublas_load", "candidates is empty");
    CHECK_INVALID(rnn4j_cuda_cublas_load(NULL, NULL, desc, sizeof desc), "rnn4j_cuda_cublas_load", "found is NULL");
    CHECK(rnn4j_cuda_cublas_load("/nonexistent/libcublas.so.13\nlibcublas.so.12", &found, desc, sizeof desc) == RNN4J_OK);
    if (found) {
        /* already loaded by the probe (a machine with cuBLAS): the list is not tried again */
        CHECK(strstr(desc, "/nonexistent") == NULL);
    } else {
        CHECK(strncmp(desc, "/nonexistent/libcublas.so.13: ", 30) == 0);
        CHECK(strstr(desc, "; libcublas.so.12: ") != NULL);
    }
}

static void test_device_arguments(void) {
    rnn4j_cuda_device *dev = NULL;
    CHECK_INVALID(rnn4j_cuda_device_create(0, 0, NULL), "rnn4j_cuda_device_create", "out is NULL");
    CHECK_INVALID(rnn4j_cuda_device_create(-1, 0, &dev), "rnn4j_cuda_device_create", "negative");
    CHECK_INVALID(rnn4j_cuda_device_create(0, 8, &dev), "rnn4j_cuda_device_create", "unknown flags");
    CHECK(dev == NULL);
    CHECK_INVALID(rnn4j_cuda_device_destroy(NULL), "rnn4j_cuda_device_destroy", "NULL");
    CHECK_INVALID(rnn4j_cuda_device_synchronize(NULL), "rnn4j_cuda_device_synchronize", "NULL");
    int64_t live;
    CHECK_INVALID(rnn4j_cuda_device_live_buffers(NULL, &live), "rnn4j_cuda_device_live_buffers", "NULL");
    int uses;
    char desc[64];
    CHECK_INVALID(rnn4j_cuda_device_gemm_info(NULL, &uses, desc, sizeof desc), "rnn4j_cuda_device_gemm_info", "NULL");
    char name[64];
    int ma, mi, sm;
    int64_t mem;
    CHECK_INVALID(rnn4j_cuda_device_properties(-1, name, sizeof name, &ma, &mi, &mem, &sm),
                  "rnn4j_cuda_device_properties", "negative");
    CHECK_INVALID(rnn4j_cuda_device_properties(0, NULL, sizeof name, &ma, &mi, &mem, &sm),
                  "rnn4j_cuda_device_properties", "name is NULL");
    CHECK_INVALID(rnn4j_cuda_device_properties(0, name, 0, &ma, &mi, &mem, &sm), "rnn4j_cuda_device_properties",
                  "name_cap");
    /* memory calls on NULL or foreign handles */
    rnn4j_cuda_buffer *buf = (rnn4j_cuda_buffer *) 1;
    CHECK_INVALID(rnn4j_cuda_malloc(NULL, 16, &buf), "rnn4j_cuda_malloc", "device handle is NULL");
    CHECK(buf == NULL);
    CHECK_INVALID(rnn4j_cuda_free(NULL), "rnn4j_cuda_free", "NULL");
    int64_t size;
    CHECK_INVALID(rnn4j_cuda_buffer_size(NULL, &size), "rnn4j_cuda_buffer_size", "NULL");
    float host[4];
    CHECK_INVALID(rnn4j_cuda_upload(NULL, 0, host, 4), "rnn4j_cuda_upload", "NULL");
    CHECK_INVALID(rnn4j_cuda_download(NULL, 0, host, 4), "rnn4j_cuda_download", "NULL");
    CHECK_INVALID(rnn4j_cuda_memset(NULL, 0, 0, 4), "rnn4j_cuda_memset", "NULL");
    CHECK_INVALID(rnn4j_cuda_memcpy(NULL, 0, NULL, 0, 4), "rnn4j_cuda_memcpy", "NULL");
}

/*
 * Hand-built handles: a device that was never opened and buffers whose device pointers are
 * fake. Every call below must be refused by validation before it would touch them.
 */
static rnn4j_cuda_device fake_dev, other_dev;
static rnn4j_cuda_buffer b16, b100, b_other, b_dead;

static void make_fakes(void) {
    fake_dev.magic = RNN4J_CUDA_DEVICE_MAGIC;
    fake_dev.ordinal = 0;
    other_dev.magic = RNN4J_CUDA_DEVICE_MAGIC;
    other_dev.ordinal = 0;
    rnn4j_cuda_buffer proto = {RNN4J_CUDA_BUFFER_MAGIC, &fake_dev, (void *) 0x1000, 16 * 4};
    b16 = proto;
    b100 = proto;
    b100.bytes = 100 * 4;
    b_other = proto;
    b_other.dev = &other_dev;
    b_dead = proto;
    b_dead.magic = 0; /* as after rnn4j_cuda_free */
}

/* The staged transfers refuse bad slots, sizes over a slot and ranges outside the buffer. */
static void test_staged_transfer_validation(void) {
    void *host = NULL;
    int64_t slot_bytes = 0;
    int slots = 0;
    CHECK_INVALID(rnn4j_cuda_staging(NULL, &host, &slot_bytes, &slots), "rnn4j_cuda_staging", "device handle is NULL");
    CHECK_INVALID(rnn4j_cuda_staging(&fake_dev, NULL, &slot_bytes, &slots), "rnn4j_cuda_staging", "host is NULL");
    CHECK_INVALID(rnn4j_cuda_staging_wait(&fake_dev, -1), "rnn4j_cuda_staging_wait", "staging slot -1 outside [0, 2)");
    CHECK_INVALID(rnn4j_cuda_staging_wait(&fake_dev, 2), "rnn4j_cuda_staging_wait", "staging slot 2 outside [0, 2)");
    CHECK_INVALID(rnn4j_cuda_upload_staged(NULL, 0, 0, 4), "rnn4j_cuda_upload_staged", "buffer dst is NULL");
    CHECK_INVALID(rnn4j_cuda_upload_staged(&b_dead, 0, 0, 4), "rnn4j_cuda_upload_staged", "not a live");
    CHECK_INVALID(rnn4j_cuda_upload_staged(&b16, 60, 0, 8), "rnn4j_cuda_upload_staged", "bytes [60, +8) outside");
    CHECK_INVALID(rnn4j_cuda_upload_staged(&b16, 0, 2, 4), "rnn4j_cuda_upload_staged", "staging slot 2");
    CHECK_INVALID(rnn4j_cuda_download_staged(&b16, 0, -1, 4), "rnn4j_cuda_download_staged", "staging slot -1");
    rnn4j_cuda_buffer big = b16;
    big.bytes = (int64_t) 1 << 30;
    CHECK_INVALID(rnn4j_cuda_download_staged(&big, 0, 0, RNN4J_CUDA_STAGING_BYTES + 4), "rnn4j_cuda_download_staged",
                  "do not fit a staging slot");
    /* nothing to copy: nothing reaches CUDA */
    CHECK(rnn4j_cuda_upload_staged(&b16, 64, 1, 0) == RNN4J_OK);
}

static void test_memory_validation(void) {
    rnn4j_cuda_device *d = &fake_dev;
    rnn4j_cuda_buffer *out = NULL;
    float host[32] = {0};
    CHECK_INVALID(rnn4j_cuda_malloc(d, -4, &out), "rnn4j_cuda_malloc", "negative");
    CHECK_INVALID(rnn4j_cuda_malloc(d, 4, NULL), "rnn4j_cuda_malloc", "out is NULL");
    CHECK_INVALID(rnn4j_cuda_malloc((rnn4j_cuda_device *) &b16, 4, &out), "rnn4j_cuda_malloc", "not a live");
    CHECK_INVALID(rnn4j_cuda_free(&b_dead), "rnn4j_cuda_free", "not a live");
    CHECK_INVALID(rnn4j_cuda_free((rnn4j_cuda_buffer *) &fake_dev), "rnn4j_cuda_free", "not a live");
    int64_t size = 0;
    CHECK(rnn4j_cuda_buffer_size(&b16, &size) == RNN4J_OK);
    CHECK(size == 64);
    CHECK_INVALID(rnn4j_cuda_buffer_size(&b16, NULL), "rnn4j_cuda_buffer_size", "NULL");
    /* byte ranges */
    CHECK_INVALID(rnn4j_cuda_upload(&b16, 0, host, 65), "rnn4j_cuda_upload", "outside a buffer of 64 bytes");
    CHECK_INVALID(rnn4j_cuda_upload(&b16, 61, host, 4), "rnn4j_cuda_upload", "outside");
    CHECK_INVALID(rnn4j_cuda_upload(&b16, -1, host, 4), "rnn4j_cuda_upload", "outside");
    CHECK_INVALID(rnn4j_cuda_upload(&b16, 0, host, -4), "rnn4j_cuda_upload", "outside");
    CHECK_INVALID(rnn4j_cuda_upload(&b16, 0, NULL, 4), "rnn4j_cuda_upload", "src is NULL");
    CHECK_INVALID(rnn4j_cuda_upload(&b_dead, 0, host, 4), "rnn4j_cuda_upload", "not a live");
    CHECK_INVALID(rnn4j_cuda_download(&b16, 60, host, 8), "rnn4j_cuda_download", "outside");
    CHECK_INVALID(rnn4j_cuda_download(&b16, 0, NULL, 8), "rnn4j_cuda_download", "dst is NULL");
    CHECK_INVALID(rnn4j_cuda_memset(&b16, 0, 256, 4), "rnn4j_cuda_memset", "byte");
    CHECK_INVALID(rnn4j_cuda_memset(&b16, 0, -1, 4), "rnn4j_cuda_memset", "byte");
    CHECK_INVALID(rnn4j_cuda_memset(&b16, 8, 0, 57), "rnn4j_cuda_memset", "outside");
    CHECK_INVALID(rnn4j_cuda_memcpy(&b16, 0, &b100, 0, 65), "rnn4j_cuda_memcpy", "src");
    CHECK_INVALID(rnn4j_cuda_memcpy(&b16, 0, &b100, 399, 2), "rnn4j_cuda_memcpy", "dst");
    CHECK_INVALID(rnn4j_cuda_memcpy(&b16, 0, &b_other, 0, 4), "rnn4j_cuda_memcpy", "another device");
    CHECK_INVALID(rnn4j_cuda_memcpy(&b100, 0, &b100, 8, 16), "rnn4j_cuda_memcpy", "overlap");
    /* a device still owning buffers is not destroyed */
    atomic_store(&fake_dev.live_buffers, 2);
    CHECK_INVALID(rnn4j_cuda_device_destroy(&fake_dev), "rnn4j_cuda_device_destroy", "2 buffer(s)");
    CHECK(fake_dev.magic == RNN4J_CUDA_DEVICE_MAGIC);
    atomic_store(&fake_dev.live_buffers, 0);
    int64_t live = -1;
    CHECK(rnn4j_cuda_device_live_buffers(&fake_dev, &live) == RNN4J_OK);
    CHECK(live == 0);
}

static void test_kernel_validation(void) {
    rnn4j_cuda_device *d = &fake_dev;
    rnn4j_cuda_buffer *x = &b16, *y = &b100; /* 16 and 100 floats */
    double sum;

    /* device handle */
    CHECK_INVALID(rnn4j_cuda_launch_fill(NULL, 4, 1.0f, x, 0), "rnn4j_cuda_launch_fill", "device handle is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_fill((rnn4j_cuda_device *) x, 4, 1.0f, x, 0), "rnn4j_cuda_launch_fill",
                  "not a live rnn4j_cuda_device");
    /* buffers: NULL, dead, of another device */
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 4, 1.0f, NULL, 0), "rnn4j_cuda_launch_fill", "buffer x is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 4, 1.0f, &b_dead, 0), "rnn4j_cuda_launch_fill", "not a live");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 4, 1.0f, &b_other, 0), "rnn4j_cuda_launch_fill", "another device");
    /* sizes and ranges (elements) */
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, -1, 1.0f, x, 0), "rnn4j_cuda_launch_fill", "n is negative");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 17, 1.0f, x, 0), "rnn4j_cuda_launch_fill",
                  "elements [0, 17) outside a buffer of 16 floats");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 4, 1.0f, x, 13), "rnn4j_cuda_launch_fill", "[13, 17)");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 0, 1.0f, x, 17), "rnn4j_cuda_launch_fill", "outside");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 1, 1.0f, x, -1), "rnn4j_cuda_launch_fill", "outside");
    CHECK_INVALID(rnn4j_cuda_launch_fill(d, 1, 1.0f, x, INT64_MAX), "rnn4j_cuda_launch_fill", "outside");
    CHECK_INVALID(rnn4j_cuda_launch_copy(d, 10, x, 8, y, 0), "rnn4j_cuda_launch_copy", "src");
    CHECK_INVALID(rnn4j_cuda_launch_copy(d, 10, x, 0, y, 95), "rnn4j_cuda_launch_copy", "dst");
    CHECK_INVALID(rnn4j_cuda_launch_copy(d, 4, x, 0, &b_other, 0), "rnn4j_cuda_launch_copy", "another device");
    CHECK_INVALID(rnn4j_cuda_launch_axpy(d, 16, 2.0f, x, 1, y, 0), "rnn4j_cuda_launch_axpy", "x: elements [1, 17)");
    CHECK_INVALID(rnn4j_cuda_launch_axpy(d, 16, 2.0f, x, 0, NULL, 0), "rnn4j_cuda_launch_axpy", "y is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_scale(d, 101, 2.0f, y, 0), "rnn4j_cuda_launch_scale", "x");
    CHECK_INVALID(rnn4j_cuda_launch_mul(d, 16, x, 0, y, 0, y, 90), "rnn4j_cuda_launch_mul", "out");
    CHECK_INVALID(rnn4j_cuda_launch_adam_step(d, 16, 0.9f, 0.999f, 1e-3f, 1.0f, 1e-8f, x, 0, y, 0, y, 16, NULL, 0),
                  "rnn4j_cuda_launch_adam_step", "buffer p is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_adam_step(d, 16, 0.9f, 0.999f, 1e-3f, 1.0f, 1e-8f, x, 0, y, 0, y, 90, y, 0),
                  "rnn4j_cuda_launch_adam_step", "v: elements [90, 106)");
    CHECK_INVALID(rnn4j_cuda_launch_mul_rows(d, -1, 4, x, 0, x, 0, x, 0), "rnn4j_cuda_launch_mul_rows", "negative");
    CHECK_INVALID(rnn4j_cuda_launch_mul_rows(d, 4, 4, x, 0, x, 13, x, 0), "rnn4j_cuda_launch_mul_rows", "m");
    /* matrices: rows, cols, leading dimension */
    CHECK_INVALID(rnn4j_cuda_launch_copy2d(d, 4, 5, x, 0, 5, y, 0, 5), "rnn4j_cuda_launch_copy2d",
                  "4 x 5 (ld 5, batch 1, stride 0) at offset 0 reaches element 19 of a buffer of 16 floats");
    CHECK_INVALID(rnn4j_cuda_launch_copy2d(d, 2, 2, x, 0, -3, y, 0, 2), "rnn4j_cuda_launch_copy2d",
                  "negative leading dimension");
    CHECK_INVALID(rnn4j_cuda_launch_copy2d(d, -2, 2, x, 0, 2, y, 0, 2), "rnn4j_cuda_launch_copy2d", "negative size");
    CHECK_INVALID(rnn4j_cuda_launch_copy2d(d, 2, 2, x, 0, 2, y, 0, INT32_MAX), "rnn4j_cuda_launch_copy2d", "dst");
    CHECK_INVALID(rnn4j_cuda_launch_add_row_vector(d, 3, 6, x, 11, y, 0, 6), "rnn4j_cuda_launch_add_row_vector",
                  "bias");
    CHECK_INVALID(rnn4j_cuda_launch_add_row_vector(d, 3, 6, x, 0, y, 0, 50), "rnn4j_cuda_launch_add_row_vector", "c");
    CHECK_INVALID(rnn4j_cuda_launch_sum_rows(d, 3, 6, x, 0, 6, 0.0f, y, 0), "rnn4j_cuda_launch_sum_rows", "a: 3 x 6");
    CHECK_INVALID(rnn4j_cuda_launch_sum_rows(d, 1, 17, y, 0, 17, 0.0f, x, 0), "rnn4j_cuda_launch_sum_rows", "out: elements [0, 17)");
    CHECK_INVALID(rnn4j_cuda_sum_squares(d, 17, x, 0, &sum), "rnn4j_cuda_sum_squares", "x");
    CHECK_INVALID(rnn4j_cuda_sum_squares(d, 4, x, 0, NULL), "rnn4j_cuda_sum_squares", "out is NULL");
    CHECK_INVALID(rnn4j_cuda_sum_squares(d, -4, x, 0, &sum), "rnn4j_cuda_sum_squares", "negative");
    /* dropout */
    CHECK_INVALID(rnn4j_cuda_launch_dropout_mask(d, 4, 1.0f, 7, x, 0), "rnn4j_cuda_launch_dropout_mask", "[0, 1)");
    CHECK_INVALID(rnn4j_cuda_launch_dropout_mask(d, 4, -0.5f, 7, x, 0), "rnn4j_cuda_launch_dropout_mask", "[0, 1)");
    CHECK_INVALID(rnn4j_cuda_launch_dropout_mask(d, 4, NAN, 7, x, 0), "rnn4j_cuda_launch_dropout_mask", "[0, 1)");
    CHECK_INVALID(rnn4j_cuda_launch_dropout_mask(d, ((int64_t) 1 << 32) + 1, 0.5f, 7, x, 0),
                  "rnn4j_cuda_launch_dropout_mask", "2^32");
    CHECK_INVALID(rnn4j_cuda_launch_dropout_mask(d, 17, 0.5f, 7, x, 0), "rnn4j_cuda_launch_dropout_mask", "out");
    /* GEMM: C (3x3) does not fit 16 floats at offset 8; A batches beyond the buffer; flags; sizes */
    CHECK_INVALID(rnn4j_cuda_gemm(d, 0, 0, 3, 3, 3, 1.0f, x, 0, 3, x, 0, 3, 0.0f, x, 8, 3, 1, 0, 0, 0),
                  "rnn4j_cuda_gemm", "c:");
    CHECK_INVALID(rnn4j_cuda_gemm(d, 1, 0, 2, 2, 2, 1.0f, x, 0, 2, x, 0, 2, 0.0f, y, 0, 2, 3, 8, 0, 4),
                  "rnn4j_cuda_gemm", "a:");
    CHECK_INVALID(rnn4j_cuda_gemm(d, 0, 1, 2, 2, 9, 1.0f, y, 0, 9, x, 0, 9, 0.0f, y, 0, 2, 1, 0, 0, 0),
                  "rnn4j_cuda_gemm", "b:");
    CHECK_INVALID(rnn4j_cuda_gemm(d, 2, 0, 2, 2, 2, 1.0f, x, 0, 2, x, 0, 2, 0.0f, x, 0, 2, 1, 0, 0, 0),
                  "rnn4j_cuda_gemm", "0 or 1");
    CHECK_INVALID(rnn4j_cuda_gemm(d, 0, 0, -2, 2, 2, 1.0f, x, 0, 2, x, 0, 2, 0.0f, x, 0, 2, 1, 0, 0, 0),
                  "rnn4j_cuda_gemm", "negative size");
    CHECK_INVALID(rnn4j_cuda_gemm(d, 0, 0, 2, 2, 2, 1.0f, x, 0, 2, x, 0, 2, 0.0f, x, 0, 2, 2, 0, 0, -4),
                  "rnn4j_cuda_gemm", "stride");
    CHECK_INVALID(rnn4j_cuda_gemm(d, 0, 0, 2, 2, 2, 1.0f, x, 0, 2, x, 0, 2, 0.0f, x, 0, 2, 2, 0, 0, INT64_MAX),
                  "rnn4j_cuda_gemm", "overflows");
    CHECK_INVALID(rnn4j_cuda_launch_gemm(d, 0, 0, 2, 2, 2, 1.0f, NULL, 0, 2, x, 0, 2, 0.0f, x, 0, 2, 1, 0, 0, 0),
                  "rnn4j_cuda_launch_gemm", "buffer a is NULL");
    /* recurrent pointwise */
    CHECK_INVALID(rnn4j_cuda_launch_rnn_pointwise_fwd(d, 3, 4, x, 0, x, 0), "rnn4j_cuda_launch_rnn_pointwise_fwd",
                  "activation");
    CHECK_INVALID(rnn4j_cuda_launch_rnn_pointwise_fwd(d, 1, 17, x, 0, y, 0), "rnn4j_cuda_launch_rnn_pointwise_fwd",
                  "pre");
    CHECK_INVALID(rnn4j_cuda_launch_rnn_pointwise_bwd(d, 2, 16, x, 0, x, 0, y, 85),
                  "rnn4j_cuda_launch_rnn_pointwise_bwd", "dpre");
    CHECK_INVALID(rnn4j_cuda_launch_lstm_pointwise_fwd(d, 2, 2, x, 1, x, 0, x, 0, x, 0),
                  "rnn4j_cuda_launch_lstm_pointwise_fwd", "gates");
    CHECK_INVALID(rnn4j_cuda_launch_lstm_pointwise_fwd(d, -2, 2, x, 0, x, 0, x, 0, x, 0),
                  "rnn4j_cuda_launch_lstm_pointwise_fwd", "negative size");
    CHECK_INVALID(rnn4j_cuda_launch_lstm_pointwise_fwd(d, INT32_MAX, INT32_MAX, x, 0, x, 0, x, 0, x, 0),
                  "rnn4j_cuda_launch_lstm_pointwise_fwd", "overflow");
    CHECK_INVALID(rnn4j_cuda_launch_lstm_pointwise_bwd(d, 2, 2, x, 0, x, 0, x, 0, x, 0, x, 13, y, 0, y, 0),
                  "rnn4j_cuda_launch_lstm_pointwise_bwd", "dc_next");
    CHECK_INVALID(rnn4j_cuda_launch_lstm_pointwise_bwd(d, 2, 2, x, 0, x, 0, x, 0, x, 0, NULL, 0, y, 90, y, 0),
                  "rnn4j_cuda_launch_lstm_pointwise_bwd", "d_gates");
    CHECK_INVALID(rnn4j_cuda_launch_gru_pointwise_fwd(d, 2, 3, x, 0, y, 0, NULL, 0, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_gru_pointwise_fwd", "gx");
    /* bias_hh is 3 * hidden = 9 floats: offset 8 of 16 runs past the end */
    CHECK_INVALID(rnn4j_cuda_launch_gru_pointwise_fwd(d, 2, 3, y, 0, y, 0, x, 8, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_gru_pointwise_fwd", "bias_hh");
    CHECK_INVALID(rnn4j_cuda_launch_gru_pointwise_fwd(d, 2, 3, y, 0, y, 0, x, 7, y, 0, y, 0, x, 0),
                  "rnn4j_cuda_launch_gru_pointwise_fwd", "saved");
    CHECK_INVALID(rnn4j_cuda_launch_gru_pointwise_bwd(d, 2, 3, y, 0, y, 0, y, 0, y, 0, y, 0, y, 95),
                  "rnn4j_cuda_launch_gru_pointwise_bwd", "dh_prev_partial");
    /* SRU: k, dirs, activation, ranges of required and optional arguments */
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 1, 1, 1, 1, 5, 1, y, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "k must be 3 or 4");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 1, 1, 1, 3, 3, 1, y, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "dirs must be 1 or 2");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 1, 1, 1, 1, 3, 7, y, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "activation");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, -1, 1, 1, 1, 3, 1, y, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "negative size");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 6, 1, 1, 1, 3, 1, x, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "u:");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 2, 1, 1, 1, 3, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "buffer x is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 2, 1, 1, 1, 4, 1, y, 0, NULL, 0, y, 0, x, 16, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "c0");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 2, 1, 1, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, &b_other, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "another device");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, INT32_MAX, INT32_MAX, INT32_MAX, 2, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "overflow");
    CHECK_INVALID(rnn4j_cuda_launch_sru_bwd(d, 2, 2, 2, 2, 3, 1, y, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, NULL, 0, x, 0, y, 0, y, 0, NULL, 0, y, 0),
                  "rnn4j_cuda_launch_sru_bwd", "du: elements [0, 48)");
    CHECK_INVALID(rnn4j_cuda_launch_sru_bwd(d, 2, 1, 2, 1, 3, 1, y, 0, y, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, NULL, 0, y, 0, NULL, 0, y, 0, NULL, 0, y, 0),
                  "rnn4j_cuda_launch_sru_bwd", "buffer dx is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_sru_bwd(d, 2, 1, 2, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, x, 15, y, 0, NULL, 0, y, 0, NULL, 0, y, 0),
                  "rnn4j_cuda_launch_sru_bwd", "dc_last");
    CHECK_INVALID(rnn4j_cuda_launch_sru_bwd(d, 2, 1, 2, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0, NULL, y, 0, y, 0, NULL, 0, y, 0, NULL, 0, x, 13, NULL, 0, y, 0),
                  "rnn4j_cuda_launch_sru_bwd", "d_bias");
    /* sru 2.x options: lengths inside 1..seq_len, no skip term only with k == 3, weight_c and its gradient */
    int32_t bad_len[1] = {3};
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 2, 1, 1, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 1, 0,
                                            bad_len, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "lengths[0] = 3");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 2, 1, 1, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, NULL, 0, 1.0f, 0, 0,
                                            NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "without the skip term");
    CHECK_INVALID(rnn4j_cuda_launch_sru_fwd(d, 2, 1, 1, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, x, 15, 1.0f, 1, 1,
                                            NULL, y, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_sru_fwd", "weight_c");
    CHECK_INVALID(rnn4j_cuda_launch_sru_bwd(d, 2, 1, 2, 1, 4, 1, y, 0, NULL, 0, y, 0, NULL, 0, NULL, 0, y, 0, 1.0f, 1, 1,
                                            NULL, y, 0, y, 0, NULL, 0, y, 0, NULL, 0, y, 0, NULL, 0, y, 0),
                  "rnn4j_cuda_launch_sru_bwd", "buffer d_weight_c is NULL");
    CHECK_INVALID(rnn4j_cuda_launch_layer_norm_fwd(d, 2, 3, 1e-5f, x, 13, NULL, 0, NULL, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_layer_norm_fwd", "x");
    CHECK_INVALID(rnn4j_cuda_launch_layer_norm_fwd(d, 2, 3, 0.0f, y, 0, NULL, 0, NULL, 0, y, 0, y, 0),
                  "rnn4j_cuda_launch_layer_norm_fwd", "eps");
    CHECK_INVALID(rnn4j_cuda_launch_layer_norm_bwd(d, 2, 3, y, 0, NULL, 0, y, 0, y, 0, y, 0, x, 15, NULL, 0),
                  "rnn4j_cuda_launch_layer_norm_bwd", "d_gamma");

    /* language-model primitives: sizes, tables, and every host id checked against the table */
    int32_t ids[3] = {0, 4, 1}, bad_ids[2] = {0, 8}, neg_ids[1] = {-1};
    CHECK_INVALID(rnn4j_cuda_embedding_forward(d, ids, -1, 2, x, 0, y, 0), "rnn4j_cuda_embedding_forward",
                  "negative size");
    CHECK_INVALID(rnn4j_cuda_embedding_forward(d, ids, 3, 2, y, 0, x, 11), "rnn4j_cuda_embedding_forward", "out");
    CHECK_INVALID(rnn4j_cuda_embedding_forward(d, NULL, 3, 2, y, 0, x, 0), "rnn4j_cuda_embedding_forward",
                  "ids is NULL");
    /* a table of 16 floats from offset 0 with dim 2 has rows [0, 8) */
    CHECK_INVALID(rnn4j_cuda_embedding_forward(d, bad_ids, 2, 2, x, 0, y, 0), "rnn4j_cuda_embedding_forward",
                  "id 8 at position 1 outside [0, 8)");
    CHECK_INVALID(rnn4j_cuda_embedding_forward(d, ids, 3, 2, x, 10, y, 0), "rnn4j_cuda_embedding_forward",
                  "id 4 at position 1 outside [0, 3)");
    CHECK_INVALID(rnn4j_cuda_embedding_forward(d, ids, 3, 2, x, 17, y, 0), "rnn4j_cuda_embedding_forward", "weight");
    CHECK_INVALID(rnn4j_cuda_embedding_backward(d, neg_ids, 1, 2, y, 0, x, 0), "rnn4j_cuda_embedding_backward",
                  "id -1 at position 0");
    CHECK_INVALID(rnn4j_cuda_embedding_backward(d, ids, 3, 6, x, 0, y, 0), "rnn4j_cuda_embedding_backward", "d_out");
    CHECK_INVALID(rnn4j_cuda_embedding_backward(d, ids, 3, 2, y, 0, &b_other, 0), "rnn4j_cuda_embedding_backward",
                  "another device");
    int32_t targets[2] = {1, 5};
    CHECK_INVALID(rnn4j_cuda_log_softmax_nll(d, 2, 5, x, 0, targets, 1.0f, NULL, 0, &sum), "rnn4j_cuda_log_softmax_nll",
                  "id 5 at position 1 outside [0, 5)");
    CHECK_INVALID(rnn4j_cuda_log_softmax_nll(d, 2, 9, x, 0, targets, 1.0f, NULL, 0, &sum), "rnn4j_cuda_log_softmax_nll",
                  "logits");
    CHECK_INVALID(rnn4j_cuda_log_softmax_nll(d, 2, 6, x, 0, targets, 1.0f, x, 5, &sum), "rnn4j_cuda_log_softmax_nll",
                  "d_logits");
    CHECK_INVALID(rnn4j_cuda_log_softmax_nll(d, 2, 6, x, 0, NULL, 1.0f, NULL, 0, &sum), "rnn4j_cuda_log_softmax_nll",
                  "targets is NULL");
    CHECK_INVALID(rnn4j_cuda_log_softmax_nll(d, 2, 6, x, 0, targets, 1.0f, NULL, 0, NULL), "rnn4j_cuda_log_softmax_nll",
                  "loss is NULL");
    CHECK_INVALID(rnn4j_cuda_log_softmax_nll(d, -2, 6, x, 0, targets, 1.0f, NULL, 0, &sum),
                  "rnn4j_cuda_log_softmax_nll", "negative size");

    /* Calls that are valid do nothing when they are empty... */
    CHECK(rnn4j_cuda_launch_fill(d, 0, 1.0f, x, 16) == RNN4J_OK);
    CHECK(rnn4j_cuda_gemm(d, 0, 0, 0, 3, 3, 1.0f, x, 0, 3, x, 0, 3, 0.0f, x, 0, 3, 1, 0, 0, 0) == RNN4J_OK);
    CHECK(rnn4j_cuda_sum_squares(d, 0, x, 0, &sum) == RNN4J_OK && sum == 0.0);
    CHECK(rnn4j_cuda_embedding_forward(d, NULL, 0, 4, x, 0, y, 0) == RNN4J_OK);
    CHECK(rnn4j_cuda_embedding_backward(d, bad_ids, 2, 0, y, 0, x, 0) == RNN4J_OK); /* dim 0: nothing is read */
    CHECK(rnn4j_cuda_log_softmax_nll(d, 0, 5, x, 0, NULL, 1.0f, NULL, 0, &sum) == RNN4J_OK && sum == 0.0);
    CHECK(strcmp(rnn4j_cuda_last_error(), "") == 0);
    /* ...and otherwise reach CUDA, whose error (here: no GPU) comes back with its name and code. */
    if (device_count == 0) {
        int st = rnn4j_cuda_launch_fill(d, 4, 1.0f, x, 0);
        CHECK(st == RNN4J_ERR_UNAVAILABLE);
        CHECK(strstr(rnn4j_cuda_last_error(), "rnn4j_cuda_launch_fill: cudaSetDevice failed: ") != NULL);
        CHECK(strstr(rnn4j_cuda_last_error(), reason) != NULL);
    }
}

static void *fail_in_thread(void *arg) {
    *(int *) arg = rnn4j_cuda_abi_version(NULL);
    return NULL;
}

static void test_error_is_thread_local(void) {
    int abi = 0;
    CHECK(rnn4j_cuda_abi_version(&abi) == RNN4J_OK);
    int status = -1;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fail_in_thread, &status) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(status == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(rnn4j_cuda_last_error(), "") == 0);
}

/* The binding table lists every function once; each f_e copies f's message into the caller's buffer. */
int rnn4j_cuda_launch_fill_e(rnn4j_cuda_device *dev, int64_t n, float value, rnn4j_cuda_buffer *x, int64_t off,
                             char *err, int64_t err_cap);
static void test_binding_table(void) {
    const rnn4j_cuda_api_entry *t = NULL;
    int count = 0;
    CHECK(rnn4j_cuda_api(&t, &count) == RNN4J_OK);
    CHECK(count >= 40);
    int fill = 0;
    for (int i = 0; i < count; i++) {
        CHECK(strncmp(t[i].name, "rnn4j_cuda_", 11) == 0);
        CHECK(strspn(t[i].signature, "PILFD") == strlen(t[i].signature));
        char e_name[128];
        snprintf(e_name, sizeof e_name, "%s_e", t[i].name);
        CHECK(dlsym(RTLD_DEFAULT, t[i].name) != NULL);
        CHECK(dlsym(RTLD_DEFAULT, e_name) != NULL);
        if (strcmp(t[i].name, "rnn4j_cuda_launch_fill") == 0) fill = strcmp(t[i].signature, "PLFPL") == 0;
    }
    CHECK(fill);
    CHECK(rnn4j_cuda_api(NULL, &count) == RNN4J_ERR_INVALID_ARGUMENT);

    char err[64];
    memset(err, 'x', sizeof err);
    CHECK(rnn4j_cuda_launch_fill_e(NULL, 1, 0.0f, NULL, 0, err, sizeof err) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(err, "rnn4j_cuda_launch_fill: device handle is NULL") == 0);
    CHECK(strcmp(err, rnn4j_cuda_last_error()) == 0);
    /* truncated to the capacity, NUL-terminated; a NULL buffer is allowed */
    CHECK(rnn4j_cuda_launch_fill_e(NULL, 1, 0.0f, NULL, 0, err, 6) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(err, "rnn4j") == 0);
    CHECK(rnn4j_cuda_launch_fill_e(NULL, 1, 0.0f, NULL, 0, NULL, 0) == RNN4J_ERR_INVALID_ARGUMENT);
}

static void test_only_api_exported(void) {
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_cuda_probe") != NULL);
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_cuda_launch_sru_bwd") != NULL);
    CHECK(dlsym(RTLD_DEFAULT, "rnn4j_cuda_last_error") != NULL);
    /* internals, kernel host stubs and the statically linked CUDA runtime stay hidden */
    const char *hidden[] = {"rnn4j_fail", "rnn4j_ok", "rnn4j_error_message", "rnn4j_cublas_load", "rnn4j_gemm",
                            "rnn4j_sru_fwd", "cudaMalloc", "cudaLaunchKernel", "cudaGetDeviceCount",
                            "__cudaRegisterFatBinary", "rnn4j_version", "rnn4j_last_error"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        if (dlsym(RTLD_DEFAULT, hidden[i]) != NULL) {
            fprintf(stderr, "test_cuda: %s is exported\n", hidden[i]);
            failures++;
        }
    }
}

/* ---------------------------------------------------------------- with a GPU */

static void smoke_test_gpu(void) {
    rnn4j_cuda_device *dev = NULL;
    if (rnn4j_cuda_device_create(0, 0, &dev) != RNN4J_OK) {
        fprintf(stderr, "test_cuda: device_create: %s\n", rnn4j_cuda_last_error());
        failures++;
        return;
    }
    int uses = -1;
    char desc[256];
    CHECK(rnn4j_cuda_device_gemm_info(dev, &uses, desc, sizeof desc) == RNN4J_OK);
    printf("test_cuda: GEMM: %s\n", desc);
    enum { N = 1000 };
    rnn4j_cuda_buffer *a = NULL, *b = NULL;
    CHECK(rnn4j_cuda_malloc(dev, N * 4, &a) == RNN4J_OK);
    CHECK(rnn4j_cuda_malloc(dev, N * 4, &b) == RNN4J_OK);
    if (a == NULL || b == NULL) goto done;
    int64_t live = 0;
    CHECK(rnn4j_cuda_device_live_buffers(dev, &live) == RNN4J_OK && live == 2);
    CHECK_INVALID(rnn4j_cuda_device_destroy(dev), "rnn4j_cuda_device_destroy", "still allocated");
    static float h[N], back[N];
    for (int i = 0; i < N; i++) h[i] = (float) (i % 17) - 8.0f;
    CHECK(rnn4j_cuda_memset(b, 0, 0, N * 4) == RNN4J_OK);
    CHECK(rnn4j_cuda_upload(a, 0, h, N * 4) == RNN4J_OK);
    CHECK(rnn4j_cuda_launch_axpy(dev, N, 2.0f, a, 0, b, 0) == RNN4J_OK); /* b = 2a */
    CHECK(rnn4j_cuda_download(b, 0, back, N * 4) == RNN4J_OK);
    for (int i = 0; i < N; i++) CHECK(back[i] == 2.0f * h[i]);
    double s = 0, expect = 0;
    for (int i = 0; i < N; i++) expect += 4.0 * h[i] * h[i];
    CHECK(rnn4j_cuda_sum_squares(dev, N, b, 0, &s) == RNN4J_OK && s == expect);
    /* staged: up through slot 0, a kernel on the compute stream, down through slot 1 */
    void *host = NULL;
    int64_t slot_bytes = 0;
    int slots = 0;
    CHECK(rnn4j_cuda_staging(dev, &host, &slot_bytes, &slots) == RNN4J_OK && host != NULL && slots == 2);
    if (host != NULL) {
        float *s0 = host, *s1 = (float *) ((char *) host + slot_bytes);
        CHECK(rnn4j_cuda_staging_wait(dev, 0) == RNN4J_OK);
        memcpy(s0, h, N * 4);
        CHECK(rnn4j_cuda_upload_staged(a, 0, 0, N * 4) == RNN4J_OK);
        CHECK(rnn4j_cuda_launch_scale(dev, N, 3.0f, a, 0) == RNN4J_OK); /* must see the upload */
        CHECK(rnn4j_cuda_download_staged(a, 0, 1, N * 4) == RNN4J_OK); /* must see the kernel */
        CHECK(rnn4j_cuda_staging_wait(dev, 1) == RNN4J_OK);
        for (int i = 0; i < N; i++) CHECK(s1[i] == 3.0f * h[i]);
    }
    CHECK(rnn4j_cuda_launch_fill(dev, N - 2, 0.5f, a, 1) == RNN4J_OK);
    CHECK(rnn4j_cuda_memcpy(a, 4, b, 0, 8) == RNN4J_OK);
    CHECK(rnn4j_cuda_download(b, 0, back, 12) == RNN4J_OK);
    CHECK(back[0] == 0.5f && back[1] == 0.5f && back[2] == 2.0f * h[2]);
    /* 2x3 times 3x2, row-major, through rnn4j_cuda_gemm and the kernel */
    float ab[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, cc[4];
    CHECK(rnn4j_cuda_upload(a, 0, ab, sizeof ab) == RNN4J_OK);
    for (int path = 0; path < 2; path++) {
        int st = path == 0 ? rnn4j_cuda_gemm(dev, 0, 0, 2, 2, 3, 1.0f, a, 0, 3, a, 6, 2, 0.0f, b, 0, 2, 1, 0, 0, 0)
                           : rnn4j_cuda_launch_gemm(dev, 0, 0, 2, 2, 3, 1.0f, a, 0, 3, a, 6, 2, 0.0f, b, 0, 2, 1, 0, 0, 0);
        CHECK(st == RNN4J_OK);
        CHECK(rnn4j_cuda_download(b, 0, cc, sizeof cc) == RNN4J_OK);
        CHECK(cc[0] == 58 && cc[1] == 64 && cc[2] == 139 && cc[3] == 154);
    }
    /* embedding rows 2, 0, 2 of a 3 x 2 table; backward adds the rows back in position order */
    float table[6] = {1, 2, 3, 4, 5, 6}, rows3[6];
    int32_t eids[3] = {2, 0, 2};
    CHECK(rnn4j_cuda_upload(a, 0, table, sizeof table) == RNN4J_OK);
    CHECK(rnn4j_cuda_embedding_forward(dev, eids, 3, 2, a, 0, b, 0) == RNN4J_OK);
    CHECK(rnn4j_cuda_download(b, 0, rows3, sizeof rows3) == RNN4J_OK);
    CHECK(rows3[0] == 5 && rows3[1] == 6 && rows3[2] == 1 && rows3[3] == 2 && rows3[4] == 5 && rows3[5] == 6);
    CHECK(rnn4j_cuda_embedding_backward(dev, eids, 3, 2, b, 0, a, 0) == RNN4J_OK);
    CHECK(rnn4j_cuda_download(a, 0, rows3, sizeof rows3) == RNN4J_OK);
    CHECK(rows3[0] == 2 && rows3[1] == 4 && rows3[2] == 3 && rows3[3] == 4 && rows3[4] == 15 && rows3[5] == 18);
    /* two rows of 3 equal logits: loss 2 log 3 */
    float logits[6] = {0, 0, 0, 1, 1, 1};
    int32_t tg[2] = {1, 2};
    double nll = 0;
    CHECK(rnn4j_cuda_upload(a, 0, logits, sizeof logits) == RNN4J_OK);
    CHECK(rnn4j_cuda_log_softmax_nll(dev, 2, 3, a, 0, tg, 1.0f, b, 0, &nll) == RNN4J_OK);
    CHECK(fabs(nll - 2 * log(3.0)) < 1e-5);
    CHECK(rnn4j_cuda_download(b, 0, rows3, sizeof rows3) == RNN4J_OK);
    CHECK(fabsf(rows3[1] + 2.0f / 3) < 1e-6f && fabsf(rows3[0] - 1.0f / 3) < 1e-6f);
    CHECK(rnn4j_cuda_device_synchronize(dev) == RNN4J_OK);
done:
    if (a != NULL) CHECK(rnn4j_cuda_free(a) == RNN4J_OK);
    if (b != NULL) CHECK(rnn4j_cuda_free(b) == RNN4J_OK);
    CHECK(rnn4j_cuda_device_destroy(dev) == RNN4J_OK);
}

int main(void) {
    test_version();
    test_probe();
    test_cublas_probe();
    test_cublas_load();
    test_binding_table();
    test_device_arguments();
    make_fakes();
    test_memory_validation();
    test_staged_transfer_validation();
    test_kernel_validation();
    test_error_is_thread_local();
    test_only_api_exported();
    if (device_count > 0) {
        smoke_test_gpu();
    } else {
        /* the GPU bundle's run.sh sets this: on a GPU machine, no device is a failure, not a pass */
        const char *require = getenv("RNN4J_REQUIRE_CUDA");
        if (require != NULL && strcmp(require, "1") == 0) {
            fprintf(stderr, "test_cuda: RNN4J_REQUIRE_CUDA=1 but there is no CUDA device: %s\n", reason);
            failures++;
        }
    }
    if (failures != 0) {
        fprintf(stderr, "test_cuda: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_cuda: all checks passed%s\n", device_count > 0 ? " (GPU smoke test included)" : " (no GPU: argument checks only)");
    return 0;
}
