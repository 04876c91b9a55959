/*
 * Tests of librnn4j_cpu.so as a C caller sees it: the packed layout of rnn4j_cpu_pack_bt, the
 * packed product on every instruction set this CPU runs against a scalar fmaf chain in k order
 * (bit for bit, edge rows and columns, offsets, ld above the row length, alpha and beta), and the
 * boundary checks of the table (every refusal a status plus message, nothing written); the fused
 * LSTM and GRU steps over unit slices against a plain C step (fmaf chains, FastMath's
 * formulas), bit for bit, on every instruction set, and their refusals. Registered
 * with ctest; ./test runs it under AddressSanitizer and UBSan.
 */
#include "rnn4j_cpu_ops.h"

#include <math.h>
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

static uint64_t seed = 12345;
static float rnd(void) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float) ((double) (seed >> 40) / (double) (1ULL << 24) * 2.0 - 1.0);
}

static float *randoms(int64_t n) {
    float *a = malloc(sizeof(float) * (size_t) (n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) a[i] = rnd();
    return a;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static void test_table(void) {
    const rnn4j_cpu_api_entry *e = NULL;
    int n = 0;
    CHECK(rnn4j_cpu_api(&e, &n) == RNN4J_OK);
    CHECK(n == 10);
    CHECK(rnn4j_cpu_api(NULL, &n) == RNN4J_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < n; i++) {
        CHECK(strncmp(e[i].name, "rnn4j_cpu_", 10) == 0);
        CHECK(strlen(e[i].signature) >= 2);
        CHECK(strcmp(e[i].signature + strlen(e[i].signature) - 2, "PL") == 0);
    }
    CHECK(strcmp(e[6].name, "rnn4j_cpu_gemm_packed") == 0);
    CHECK(strcmp(e[6].signature, "IIIIFPLLIPLLFPLLIPL") == 0);
    CHECK(strcmp(e[6].operands, "isa isa;dim m;dim n;dim k;f32 alpha;mat_in a, m, k;panels_in p, n, k;f32 beta;mat_out c, m, n;") == 0);
    int32_t abi = 0, w = 0;
    CHECK(rnn4j_cpu_abi_version(&abi, NULL, 0) == RNN4J_OK && abi == 2);
    CHECK(rnn4j_cpu_panel_width(&w, NULL, 0) == RNN4J_OK && w == RNN4J_CPU_PANEL);
    CHECK(strcmp(rnn4j_cpu_version(), RNN4J_EXPECTED_VERSION) == 0);
}

static void test_isa(void) {
    int32_t best = -1, yes = -1;
    char name[16];
    CHECK(rnn4j_cpu_isa_best(&best, NULL, 0) == RNN4J_OK);
    CHECK(best >= 0 && best < RNN4J_CPU_ISA_COUNT);
    CHECK(rnn4j_cpu_isa_supported(RNN4J_CPU_ISA_PORTABLE, &yes, NULL, 0) == RNN4J_OK && yes == 1);
    CHECK(rnn4j_cpu_isa_supported(best, &yes, NULL, 0) == RNN4J_OK && yes == 1);
    for (int32_t i = best + 1; i < RNN4J_CPU_ISA_COUNT; i++)
        CHECK(rnn4j_cpu_isa_supported(i, &yes, NULL, 0) == RNN4J_OK && yes == 0);
    CHECK(rnn4j_cpu_isa_name(RNN4J_CPU_ISA_AVX2, name, sizeof name, NULL, 0) == RNN4J_OK && strcmp(name, "avx2") == 0);
    CHECK(rnn4j_cpu_isa_name(RNN4J_CPU_ISA_PORTABLE, name, 4, NULL, 0) == RNN4J_OK && strcmp(name, "por") == 0);
    CHECK(rnn4j_cpu_isa_name(RNN4J_CPU_ISA_COUNT, name, sizeof name, NULL, 0) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(rnn4j_cpu_isa_name(0, name, 0, NULL, 0) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(rnn4j_cpu_isa_supported(-1, &yes, NULL, 0) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(rnn4j_cpu_isa_best(NULL, NULL, 0) == RNN4J_ERR_INVALID_ARGUMENT);
}

static void test_pack_layout(void) {
    int n = 70, k = 19, ld = 23, off = 5;
    float *w = randoms(off + (int64_t) n * ld);
    int64_t len = RNN4J_CPU_PANEL_FLOATS(n, k) + 3;
    float *p = malloc(sizeof(float) * (size_t) len);
    for (int64_t i = 0; i < len; i++) p[i] = NAN;   /* an earlier call's data: padding is rewritten */
    CHECK(rnn4j_cpu_pack_bt(n, k, w, off + (int64_t) n * ld, off, ld, p, len, 2, NULL, 0) == RNN4J_OK);
    int ok = 1;
    for (int pn = 0; pn < (n + 31) / 32; pn++)
        for (int l = 0; l < k; l++)
            for (int q = 0; q < 32; q++) {
                int j = pn * 32 + q;
                float want = j < n ? w[off + j * ld + l] : 0.0f;
                if (!same_bits(p[2 + ((int64_t) pn * k + l) * 32 + q], want)) ok = 0;
            }
    CHECK(ok);
    CHECK(isnan(p[0]) && isnan(p[1]) && isnan(p[len - 1]));
    free(w);
    free(p);
}

/* The Java kernels' arithmetic, written out plainly: one fmaf chain in k order from +0. */
static float reference(const float *a, const float *w, int ldw, int j, int k, float alpha, float beta, float c) {
    float s = 0.0f;
    for (int l = 0; l < k; l++) s = fmaf(a[l], w[(int64_t) j * ldw + l], s);
    return beta == 0.0f ? alpha * s : alpha * s + beta * c;
}

static void check_product(int32_t isa, int m, int n, int k, float alpha, float beta) {
    int lda = k + 3, ldw = k + 1, ldc = n + 2, ao = 7, co = 3;
    int64_t alen = ao + (int64_t) m * lda, wlen = (int64_t) n * ldw, clen = co + (int64_t) m * ldc;
    int64_t plen = RNN4J_CPU_PANEL_FLOATS(n, k);
    float *a = randoms(alen), *w = randoms(wlen), *c = randoms(clen), *c0 = malloc(sizeof(float) * (size_t) clen);
    float *p = malloc(sizeof(float) * (size_t) (plen > 0 ? plen : 1));
    if (beta == 0.0f)
        for (int64_t i = 0; i < clen; i++) c[i] = NAN;   /* beta 0: C is not read */
    memcpy(c0, c, sizeof(float) * (size_t) clen);
    CHECK(rnn4j_cpu_pack_bt(n, k, w, wlen, 0, ldw, p, plen, 0, NULL, 0) == RNN4J_OK);
    CHECK(rnn4j_cpu_gemm_packed(isa, m, n, k, alpha, a, alen, ao, lda, p, plen, 0, beta, c, clen, co, ldc, NULL, 0) == RNN4J_OK);
    int bad = 0;
    for (int64_t x = 0; x < clen; x++) {
        int64_t r = x - co, i = r / ldc, j = r % ldc;
        float want = (r >= 0 && j < n) ? reference(a + ao + i * lda, w, ldw, (int) j, k, alpha, beta, c0[x]) : c0[x];
        if (!same_bits(c[x], want) && !(isnan(c[x]) && isnan(want))) {
            if (bad++ < 3)
                fprintf(stderr, "  isa %d, %d x %d x %d, alpha %g, beta %g: C[%lld] = %.9g, want %.9g\n", (int) isa, m, n,
                        k, alpha, beta, (long long) x, c[x], want);
        }
    }
    CHECK(bad == 0);
    free(a), free(w), free(c), free(c0), free(p);
}

static void test_products(void) {
    static const int ms[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 17, 25, 31};
    static const int ns[] = {1, 5, 8, 16, 17, 31, 32, 33, 64, 70};
    static const int ks[] = {1, 3, 16, 37};
    /* 0.7 and 0.3 round in alpha * s and beta * c: a fused alpha * s + beta * c would differ */
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 0.5f}, {0.5f, 1.0f}, {-2.0f, -0.25f}, {0.7f, 0.3f}, {0.7f, 0.0f}};
    for (int32_t isa = 0; isa < RNN4J_CPU_ISA_COUNT; isa++) {
        int32_t runs = 0;
        rnn4j_cpu_isa_supported(isa, &runs, NULL, 0);
        if (!runs) {
            fprintf(stderr, "  (this CPU does not run instruction set %d: not tested here)\n", (int) isa);
            continue;
        }
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
                for (size_t l = 0; l < sizeof ks / sizeof ks[0]; l++)
                    for (size_t t = 0; t < sizeof ab / sizeof ab[0]; t++) check_product(isa, ms[i], ns[j], ks[l], ab[t][0], ab[t][1]);
        check_product(isa, 16, 130, 910, 1.0f, 0.0f);   /* a layer's k */
    }
}

static void test_empty_sum(void) {
    float c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {0}, p[1] = {0};
    CHECK(rnn4j_cpu_gemm_packed(0, 2, 3, 0, 1.0f, a, 1, 0, 1, p, 1, 0, 0.5f, c, 6, 0, 3, NULL, 0) == RNN4J_OK);
    CHECK(c[0] == 0.5f && c[5] == 3.0f);
    CHECK(rnn4j_cpu_gemm_packed(0, 2, 3, 0, 1.0f, a, 1, 0, 1, p, 1, 0, 0.0f, c, 6, 0, 3, NULL, 0) == RNN4J_OK);
    CHECK(c[0] == 0.0f && c[5] == 0.0f);
    /* nothing read or written: NULL operands are fine */
    CHECK(rnn4j_cpu_gemm_packed(0, 0, 3, 4, 1.0f, NULL, 0, 0, 4, NULL, 0, 0, 0.0f, NULL, 0, 0, 3, NULL, 0) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(rnn4j_cpu_gemm_packed(0, 0, 0, 4, 1.0f, NULL, 0, 0, 4, NULL, 0, 0, 0.0f, NULL, 0, 0, 1, NULL, 0) == RNN4J_OK);
}

/* A refused call: the status, the message naming the function and a word of the reason, C untouched. */
static void refused(int status, const char *err, const char *word, const float *c, int64_t clen) {
    CHECK(status == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err, "rnn4j_cpu_gemm_packed") != NULL);
    CHECK(strstr(err, word) != NULL);
    if (strstr(err, word) == NULL) fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, word);
    CHECK(strcmp(rnn4j_cpu_last_error(), err) == 0);
    for (int64_t i = 0; i < clen; i++) CHECK(c[i] == 7.0f);
}

static void test_boundary(void) {
    enum { M = 3, N = 40, K = 5 };
    float a[M * K], p[64 * K], c[M * N];
    char msg[256];
    for (int i = 0; i < M * K; i++) a[i] = 1.0f;
    for (int i = 0; i < 64 * K; i++) p[i] = 1.0f;
    for (int i = 0; i < M * N; i++) c[i] = 7.0f;
    int64_t al = M * K, pl = 64 * K, cl = M * N;
#define CALL(isa, m, n, k, A, AL, AO, LDA, P, PL_, PO, C, CL, CO, LDC) \
    rnn4j_cpu_gemm_packed(isa, m, n, k, 1.0f, A, AL, AO, LDA, P, PL_, PO, 0.0f, C, CL, CO, LDC, msg, sizeof msg)
    refused(CALL(0, -1, N, K, a, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "m = -1", c, cl);
    refused(CALL(0, M, -2, K, a, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "n = -2", c, cl);
    refused(CALL(0, M, N, -3, a, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "k = -3", c, cl);
    refused(CALL(-1, M, N, K, a, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "instruction set", c, cl);
    refused(CALL(RNN4J_CPU_ISA_COUNT, M, N, K, a, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "instruction set", c, cl);
    refused(CALL(0, M, N, K, NULL, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "a is NULL", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, NULL, pl, 0, c, cl, 0, N), msg, "p is NULL", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl, 0, NULL, cl, 0, N), msg, "c is NULL", c, cl);
    refused(CALL(0, M, N, K, a, al - 1, 0, K, p, pl, 0, c, cl, 0, N), msg, "needs 15 floats but has 14", c, cl);
    refused(CALL(0, M, N, K, a, al, 1, K, p, pl, 0, c, cl, 0, N), msg, "at offset 1", c, cl);
    refused(CALL(0, M, N, K, a, al, -1, K, p, pl, 0, c, cl, 0, N), msg, "a_off = -1", c, cl);
    refused(CALL(0, M, N, K, a, -1, 0, K, p, pl, 0, c, cl, 0, N), msg, "a_len = -1", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K - 1, p, pl, 0, c, cl, 0, N), msg, "a_ld = 4", c, cl);
    refused(CALL(0, M, N, K, a, al, INT64_MAX, K, p, pl, 0, c, cl, 0, N), msg, "at offset", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl - 1, 0, c, cl, 0, N), msg, "needs 320 floats but has 319", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl, 1, c, cl, 0, N), msg, "p (panels", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl, -5, c, cl, 0, N), msg, "p_off = -5", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl, 0, c, cl - 1, 0, N), msg, "c (3 x 40", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl, 0, c, cl, 0, N - 1), msg, "c_ld = 39", c, cl);
    refused(CALL(0, M, N, K, a, al, 0, K, p, pl, 0, c, cl, INT64_MAX - 1, N), msg, "c (3 x 40", c, cl);
    int32_t best = 0;
    rnn4j_cpu_isa_best(&best, NULL, 0);
    if (best + 1 < RNN4J_CPU_ISA_COUNT)
        refused(CALL(best + 1, M, N, K, a, al, 0, K, p, pl, 0, c, cl, 0, N), msg, "does not run", c, cl);
#undef CALL
    /* a short error buffer gets the message cut, NUL-terminated; a NULL one is allowed */
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(rnn4j_cpu_gemm_packed(0, -1, N, K, 1.0f, a, al, 0, K, p, pl, 0, 0.0f, c, cl, 0, N, small, sizeof small) != RNN4J_OK);
    CHECK(memcmp(small, "rnn4j_c", 7) == 0 && small[7] == '\0');
    CHECK(rnn4j_cpu_gemm_packed(0, -1, N, K, 1.0f, a, al, 0, K, p, pl, 0, 0.0f, c, cl, 0, N, NULL, 0) != RNN4J_OK);
    CHECK(strstr(rnn4j_cpu_last_error(), "m = -1") != NULL);
    CHECK(rnn4j_cpu_gemm_packed(0, M, N, K, 1.0f, a, al, 0, K, p, pl, 0, 0.0f, c, cl, 0, N, msg, -1) != RNN4J_OK);
    /* the pack's checks come from the same table */
    CHECK(rnn4j_cpu_pack_bt(N, K, a, al, 0, K, p, pl, 0, msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "rnn4j_cpu_pack_bt: w (40 x 5") != NULL);
    /* a success clears the last error */
    CHECK(rnn4j_cpu_gemm_packed(0, M, N, K, 1.0f, a, al, 0, K, p, pl, 0, 0.0f, c, cl, 0, N, msg, sizeof msg) == RNN4J_OK);
    CHECK(strcmp(rnn4j_cpu_last_error(), "") == 0);
    CHECK(c[0] == 5.0f && c[M * N - 1] == 5.0f);
}

/* FastMath's tanh and sigmoid written out (java/dev/rnn4j/backend/cpu/FastMath.java). */
static float mn(float a, float b) { return isnan(a) || isnan(b) ? NAN : (a < b ? a : b); }
static float mx(float a, float b) { return isnan(a) || isnan(b) ? NAN : (a > b ? a : b); }
static float ftanh(float x) {
    float v = mx(-9.0f, mn(9.0f, x)), s = v * v;
    float p = (((1.3357518646728295e-08f * s + 2.061116902041249e-05f) * s + 0.0034957160241901875f) * s + 0.1338113397359848f) * s + 1.0f;
    float q = (((7.777734936098568e-07f * s + 0.00032858431222848594f) * s + 0.025877470150589943f) * s + 0.4671444892883301f) * s + 1.0f;
    return mx(-1.0f, mn(1.0f, v * p / q));
}
static float fsigmoid(float x) { return 0.5f + 0.5f * ftanh(0.5f * x); }

/* h W_hh^T for row r and gate row j: one fmaf chain in k order from +0. */
static float dot(const float *h, const float *w, int k) {
    float s = 0.0f;
    for (int l = 0; l < k; l++) s = fmaf(h[l], w[(int64_t) l], s);
    return s;
}

static int bits_differ(const float *a, const float *b, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!same_bits(a[i], b[i]) && !(isnan(a[i]) && isnan(b[i]))) bad++;
    return bad;
}

/* Both fused steps at rows x H on instruction set isa, the units in two slices split at a block. */
static void check_steps(int32_t isa, int rows, int H) {
    int G4 = 4 * H, G3 = 3 * H;
    float *w4 = randoms((int64_t) G4 * H), *w3 = randoms((int64_t) G3 * H), *h = randoms((int64_t) 2 * rows * H);
    float *g = randoms((int64_t) rows * G4), *gref = malloc(sizeof(float) * (size_t) rows * G4);
    float *c = randoms((int64_t) 2 * rows * H), *cref = malloc(sizeof(float) * (size_t) 2 * rows * H);
    float *gx = randoms((int64_t) rows * G3), *bh = randoms(G3);
    float *sv = calloc((size_t) rows * 4 * H, sizeof(float)), *svref = calloc((size_t) rows * 4 * H, sizeof(float));
    float *href = malloc(sizeof(float) * (size_t) 2 * rows * H);
    int64_t l4 = RNN4J_CPU_CELL_FLOATS(4, H), l3 = RNN4J_CPU_CELL_FLOATS(3, H);
    float *p4 = malloc(sizeof(float) * (size_t) l4), *p3 = malloc(sizeof(float) * (size_t) l3);
    for (int i = 0; i < rows * H; i++) h[rows * H + i] = NAN;   /* h_t's slot, all written */
    if (H > 3) g[1] = 40.0f, g[H] = -40.0f, c[0] = NAN;         /* the clamps and a NaN */
    memcpy(gref, g, sizeof(float) * (size_t) rows * G4);
    memcpy(cref, c, sizeof(float) * (size_t) 2 * rows * H);
    memcpy(href, h, sizeof(float) * (size_t) 2 * rows * H);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < H; j++) {
            const float *hp = h + (int64_t) r * H;
            float *gr = gref + (int64_t) r * G4;
            float i = fsigmoid(dot(hp, w4 + (int64_t) j * H, H) + gr[j]);
            float f = fsigmoid(dot(hp, w4 + (int64_t) (H + j) * H, H) + gr[H + j]);
            float gg = ftanh(dot(hp, w4 + (int64_t) (2 * H + j) * H, H) + gr[2 * H + j]);
            float o = fsigmoid(dot(hp, w4 + (int64_t) (3 * H + j) * H, H) + gr[3 * H + j]);
            gr[j] = i, gr[H + j] = f, gr[2 * H + j] = gg, gr[3 * H + j] = o;
            float cv = f * cref[(int64_t) r * H + j] + i * gg;
            cref[(int64_t) (rows + r) * H + j] = cv;
            href[(int64_t) (rows + r) * H + j] = ftanh(cv) * o;
        }
    CHECK(rnn4j_cpu_pack_cell(4, H, w4, (int64_t) G4 * H, 0, H, p4, l4, 0, NULL, 0) == RNN4J_OK);
    int split = H > 8 ? (H / 2) / 8 * 8 : 0;
    for (int part = 0; part < 2; part++) {
        int j0 = part == 0 ? 0 : split, j1 = part == 0 ? split : H;
        CHECK(rnn4j_cpu_lstm_step(isa, rows, H, j0, j1, h, (int64_t) 2 * rows * H, 0, H, p4, l4, 0, g, (int64_t) rows * G4,
                                  0, G4, c, (int64_t) 2 * rows * H, 0, H, c, (int64_t) 2 * rows * H, (int64_t) rows * H, H,
                                  h, (int64_t) 2 * rows * H, (int64_t) rows * H, H, NULL, 0) == RNN4J_OK);
    }
    int bad = bits_differ(g, gref, (int64_t) rows * G4) + bits_differ(c, cref, (int64_t) 2 * rows * H)
              + bits_differ(h, href, (int64_t) 2 * rows * H);
    if (bad) fprintf(stderr, "  lstm step, isa %d, %d x %d: %d values differ\n", (int) isa, rows, H, bad);
    CHECK(bad == 0);

    /* GRU, with b_hh and without; h_{t-1} at slot 0, h_t at slot 1 */
    for (int nb = 0; nb < 2; nb++) {
        for (int i = 0; i < rows * H; i++) h[rows * H + i] = href[rows * H + i] = NAN;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < H; j++) {
                const float *hp = h + (int64_t) r * H, *x = gx + (int64_t) r * G3;
                float hr = dot(hp, w3 + (int64_t) j * H, H), hz = dot(hp, w3 + (int64_t) (H + j) * H, H),
                      hn = dot(hp, w3 + (int64_t) (2 * H + j) * H, H);
                if (nb) hr += bh[j], hz += bh[H + j], hn += bh[2 * H + j];
                float rv = fsigmoid(x[j] + hr), z = fsigmoid(x[H + j] + hz), n = ftanh(x[2 * H + j] + rv * hn);
                href[(int64_t) (rows + r) * H + j] = (1.0f - z) * n + z * hp[j];
                float *s = svref + (int64_t) r * 4 * H;
                s[j] = rv, s[H + j] = z, s[2 * H + j] = n, s[3 * H + j] = hn;
            }
        CHECK(rnn4j_cpu_pack_cell(3, H, w3, (int64_t) G3 * H, 0, H, p3, l3, 0, NULL, 0) == RNN4J_OK);
        for (int part = 0; part < 2; part++) {
            int j0 = part == 0 ? 0 : split, j1 = part == 0 ? split : H;
            CHECK(rnn4j_cpu_gru_step(isa, rows, H, j0, j1, h, (int64_t) 2 * rows * H, 0, H, p3, l3, 0, gx,
                                     (int64_t) rows * G3, 0, G3, nb, nb ? bh : NULL, nb ? G3 : 0, 0, G3, sv,
                                     (int64_t) rows * 4 * H, 0, 4 * H, h, (int64_t) 2 * rows * H, (int64_t) rows * H, H,
                                     NULL, 0) == RNN4J_OK);
        }
        bad = bits_differ(h, href, (int64_t) 2 * rows * H) + bits_differ(sv, svref, (int64_t) rows * 4 * H);
        if (bad) fprintf(stderr, "  gru step, isa %d, %d x %d, bias %d: %d values differ\n", (int) isa, rows, H, nb, bad);
        CHECK(bad == 0);
    }
    free(w4), free(w3), free(h), free(g), free(gref), free(c), free(cref), free(gx), free(bh), free(sv), free(svref);
    free(href), free(p4), free(p3);
}

static void test_steps(void) {
    static const int rs[] = {1, 2, 3, 4, 5, 6, 7, 13};
    static const int hs[] = {1, 7, 8, 13, 37, 64};
    for (int32_t isa = 0; isa < RNN4J_CPU_ISA_COUNT; isa++) {
        int32_t runs = 0;
        rnn4j_cpu_isa_supported(isa, &runs, NULL, 0);
        if (!runs) continue;
        for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
            for (size_t j = 0; j < sizeof hs / sizeof hs[0]; j++) check_steps(isa, rs[i], hs[j]);
    }
    /* the refusals: a slice off the blocks or past hidden, a bias count, a short packed weight */
    float a[64 * 64] = {0};
    char msg[256];
    int64_t L = 64 * 64;
    CHECK(rnn4j_cpu_lstm_step(0, 1, 20, 4, 20, a, L, 0, 20, a, L, 0, a, L, 0, 80, a, L, 0, 20, a, L, 0, 20, a, L, 0, 20,
                              msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "blocks of 8") != NULL);
    CHECK(rnn4j_cpu_lstm_step(0, 1, 20, 8, 24, a, L, 0, 20, a, L, 0, a, L, 0, 80, a, L, 0, 20, a, L, 0, 20, a, L, 0, 20,
                              msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "not inside") != NULL);
    CHECK(rnn4j_cpu_lstm_step(0, 1, 20, 0, 20, a, L, 0, 20, a, 100, 0, a, L, 0, 80, a, L, 0, 20, a, L, 0, 20, a, L, 0, 20,
                              msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "w (a cell of 4 gates x 20 units)") != NULL);
    CHECK(rnn4j_cpu_gru_step(0, 1, 20, 0, 20, a, L, 0, 20, a, L, 0, a, L, 0, 60, 2, a, L, 0, 60, a, L, 0, 80, a, L, 0, 20,
                             msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "nbias = 2") != NULL);
    CHECK(rnn4j_cpu_pack_cell(5, 4, a, L, 0, 4, a, L, 0, msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "gates = 5") != NULL);
    CHECK(rnn4j_cpu_pack_cell(4, -1, a, L, 0, 4, a, L, 0, msg, sizeof msg) == RNN4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "hidden = -1") != NULL);
}

int main(void) {
    test_table();
    test_isa();
    test_pack_layout();
    test_products();
    test_empty_sum();
    test_boundary();
    test_steps();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("cpu: all checks passed\n");
    return 0;
}
