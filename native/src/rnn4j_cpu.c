/*
 * librnn4j_cpu.so: the cpu backend's native kernels, with the instruction set picked at run time
 * (AVX-512F, AVX2 + FMA, portable C; __builtin_cpu_supports, per-function target attributes).
 *
 * The packed product C = alpha A W^T + beta C on W packed once into column panels
 * (rnn4j_cpu_pack_bt). Every output element is one fused multiply-add chain in k order started
 * from +0, then alpha * s, plus beta * c where beta != 0, each rounded on its own: the arithmetic
 * of the Java kernels (VectorGemm's tiles), so the results are theirs bit for bit on every
 * instruction set and under any split of the rows or panels. This file is compiled with
 * -ffp-contract=off: the compiler must not fuse alpha * s + beta * c (GCC's vector intrinsics are
 * plain operators, which it would otherwise contract), and nothing may reassociate.
 *
 * Also the fused LSTM and GRU steps (rnn4j_cpu_lstm_step, rnn4j_cpu_gru_step): one time step's
 * product on W_hh packed by unit blocks (rnn4j_cpu_pack_cell) and the gate math and c/h update on
 * the accumulators, over a slice of hidden units, bit for bit the cpu backend's Java step.
 *
 * The exported functions are expanded from the table of native/include/rnn4j_cpu_ops.h: boundary
 * checks first, then the cpu_<name> bodies below. Nothing here allocates, aborts or prints.
 */
#include "rnn4j_cpu_ops.h"
#include "rnn4j_internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define RNN4J_X86 1
#include <immintrin.h>
#else
#define RNN4J_X86 0
#endif

/* Bumped whenever a function of rnn4j_cpu_ops.h changes; CpuNative refuses another number. */
#define RNN4J_CPU_ABI 2
#define PANEL RNN4J_CPU_PANEL

const char *rnn4j_cpu_version(void) { return RNN4J_VERSION_STRING; }
const char *rnn4j_cpu_last_error(void) { return rnn4j_error_message(); }

/* ------------------------------------------------------------------------------ dispatch */

static int isa_runs(int32_t isa) {
    switch (isa) {
    case RNN4J_CPU_ISA_PORTABLE:
        return 1;
#if RNN4J_X86
    case RNN4J_CPU_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case RNN4J_CPU_ISA_AVX512:
        __builtin_cpu_init();   /* libgcc also checks that the OS saves the zmm state (XCR0) */
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return 0;
    }
}

static const char *const isa_names[RNN4J_CPU_ISA_COUNT] = {"portable", "avx2", "avx512"};

/* ------------------------------------------------------------------------------ kernels */

static inline float out1(float alpha, float s, float beta, float c) {
    return beta == 0.0f ? alpha * s : alpha * s + beta * c;
}

/* The same for a tile's row of w <= 32 sums in acc: C[q] = out1(alpha, acc[q], beta, C[q]). */
static inline void store_row(const float *acc, int w, float alpha, float beta, float *c) {
    for (int q = 0; q < w; q++) c[q] = out1(alpha, acc[q], beta, c[q]);
}

/* Portable: one row at a time over a whole panel, fmaf (an instruction where the CPU has one). */
static void gemm_portable(int m, int n, int k, float alpha, const float *A, int lda, const float *P, float beta,
                          float *C, int ldc) {
    float acc[PANEL];
    for (int j = 0, p = 0; j < n; j += PANEL, p++) {
        const float *B = P + (size_t) p * k * PANEL;
        int w = n - j < PANEL ? n - j : PANEL;
        for (int i = 0; i < m; i++) {
            const float *a = A + (size_t) i * lda;
            for (int q = 0; q < PANEL; q++) acc[q] = 0.0f;
            for (int l = 0; l < k; l++) {
                float x = a[l];
                const float *b = B + (size_t) l * PANEL;
                for (int q = 0; q < PANEL; q++) acc[q] = fmaf(x, b[q], acc[q]);
            }
            store_row(acc, w, alpha, beta, C + (size_t) i * ldc + j);
        }
    }
}

#if RNN4J_X86
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVX512_TARGET __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

/*
 * AVX2: ROWS rows of A x NV vectors of 8 columns of one panel (B at stride PANEL), w columns
 * stored. 6 x 2 (12 accumulators, 2 loads, 1 broadcast: 15 of the 16 ymm registers) for most
 * rows; 1 or 2 rows take the whole panel (NV 4).
 */
INLINE AVX2_TARGET void tile_avx2(const int ROWS, const int NV, int k, const float *A, int lda, const float *B,
                                  float alpha, float beta, float *C, int ldc, int w) {
    __m256 acc[6][4];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int l = 0; l < k; l++) {
        const float *b = B + (size_t) l * PANEL;
        __m256 bv[4];
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
        for (int r = 0; r < ROWS; r++) {
            __m256 x = _mm256_broadcast_ss(A + (size_t) r * lda + l);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int r = 0; r < ROWS; r++) {
        float *c = C + (size_t) r * ldc;
        for (int v = 0; v < NV; v++) {
            int valid = w - 8 * v;
            if (valid >= 8) {
                __m256 s = _mm256_mul_ps(va, acc[r][v]);
                if (beta != 0.0f) s = _mm256_add_ps(s, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8 * v)));
                _mm256_storeu_ps(c + 8 * v, s);
            } else if (valid > 0) {
                float t[8];
                _mm256_storeu_ps(t, acc[r][v]);
                store_row(t, valid, alpha, beta, c + 8 * v);
            }
        }
    }
}

/* One panel's 16 columns at a time for a tile of ROWS rows (the 6-row tile's register budget). */
INLINE AVX2_TARGET void halves_avx2(const int ROWS, int k, const float *A, int lda, const float *B, float alpha,
                                    float beta, float *C, int ldc, int w) {
    tile_avx2(ROWS, 2, k, A, lda, B, alpha, beta, C, ldc, w < 16 ? w : 16);
    if (w > 16) tile_avx2(ROWS, 2, k, A, lda, B + 16, alpha, beta, C + 16, ldc, w - 16);
}

static AVX2_TARGET void gemm_avx2(int m, int n, int k, float alpha, const float *A, int lda, const float *P,
                                  float beta, float *C, int ldc) {
    for (int j = 0, p = 0; j < n; j += PANEL, p++) {
        const float *B = P + (size_t) p * k * PANEL;
        int w = n - j < PANEL ? n - j : PANEL, i = 0;
        for (; i + 6 <= m; i += 6) halves_avx2(6, k, A + (size_t) i * lda, lda, B, alpha, beta, C + (size_t) i * ldc + j, ldc, w);
        const float *a = A + (size_t) i * lda;
        float *c = C + (size_t) i * ldc + j;
        switch (m - i) {
        case 5: halves_avx2(5, k, a, lda, B, alpha, beta, c, ldc, w); break;
        case 4: halves_avx2(4, k, a, lda, B, alpha, beta, c, ldc, w); break;
        case 3: halves_avx2(3, k, a, lda, B, alpha, beta, c, ldc, w); break;
        case 2: tile_avx2(2, 4, k, a, lda, B, alpha, beta, c, ldc, w); break;
        case 1: tile_avx2(1, 4, k, a, lda, B, alpha, beta, c, ldc, w); break;
        default: break;
        }
    }
}

/* AVX-512: ROWS (up to 12) rows x the whole panel, 2 zmm per row: 24 accumulators of 32 registers. */
INLINE AVX512_TARGET void tile_avx512(const int ROWS, int k, const float *A, int lda, const float *B, float alpha,
                                      float beta, float *C, int ldc, int w) {
    __m512 acc[12][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int l = 0; l < k; l++) {
        const float *b = B + (size_t) l * PANEL;
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        for (int r = 0; r < ROWS; r++) {
            __m512 x = _mm512_set1_ps(A[(size_t) r * lda + l]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < ROWS; r++) {
        float *c = C + (size_t) r * ldc;
        for (int v = 0; v < 2; v++) {
            int valid = w - 16 * v;
            if (valid >= 16) {
                __m512 s = _mm512_mul_ps(va, acc[r][v]);
                if (beta != 0.0f) s = _mm512_add_ps(s, _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16 * v)));
                _mm512_storeu_ps(c + 16 * v, s);
            } else if (valid > 0) {
                float t[16];
                _mm512_storeu_ps(t, acc[r][v]);
                store_row(t, valid, alpha, beta, c + 16 * v);
            }
        }
    }
}

static AVX512_TARGET void gemm_avx512(int m, int n, int k, float alpha, const float *A, int lda, const float *P,
                                      float beta, float *C, int ldc) {
    for (int j = 0, p = 0; j < n; j += PANEL, p++) {
        const float *B = P + (size_t) p * k * PANEL;
        int w = n - j < PANEL ? n - j : PANEL, i = 0;
        for (; i + 12 <= m; i += 12) tile_avx512(12, k, A + (size_t) i * lda, lda, B, alpha, beta, C + (size_t) i * ldc + j, ldc, w);
        const float *a = A + (size_t) i * lda;
        float *c = C + (size_t) i * ldc + j;
        switch (m - i) {
#define REST(R) case R: tile_avx512(R, k, a, lda, B, alpha, beta, c, ldc, w); break;
        REST(11) REST(10) REST(9) REST(8) REST(7) REST(6) REST(5) REST(4) REST(3) REST(2) REST(1)
#undef REST
        default: break;
        }
    }
}
#endif

/* ------------------------------------------------------------------------------ fused steps
 *
 * One step of an LSTM or GRU over a slice [j0, j1) of hidden units, for all rows: the product
 * h_{t-1} W_hh^T for the gates of those units (W_hh packed by rnn4j_cpu_pack_cell: a block of
 * UNIT units has its g gates side by side, so accumulator q holds gate q of the block's units
 * lane by lane), then the cell's pointwise math on the accumulators. The arithmetic is the cpu
 * backend's Java path exactly: each product element one fma chain in k order from +0 (alpha 1:
 * 1 * s is s), the LSTM's gates s + gx (beta 1), the GRU's s (beta 0) plus b_hh; the activations
 * are FastMath's rational tanh and sigmoid (the same constants, the same order of operations,
 * min/max that pass a NaN on as Math.min/max do), the c/h update as CpuBackend writes it.
 */
#define UNIT RNN4J_CPU_UNIT

/* FastMath's constants (java/dev/rnn4j/backend/cpu/FastMath.java), the same decimal literals. */
#define FM_P0 1.0f
#define FM_P1 0.1338113397359848f
#define FM_P2 0.0034957160241901875f
#define FM_P3 2.061116902041249e-05f
#define FM_P4 1.3357518646728295e-08f
#define FM_Q0 1.0f
#define FM_Q1 0.4671444892883301f
#define FM_Q2 0.025877470150589943f
#define FM_Q3 0.00032858431222848594f
#define FM_Q4 7.777734936098568e-07f
#define FM_CLAMP 9.0f

/* Math.min(c, x) and Math.max(c, x) for a constant c that is no zero: a NaN x comes out. */
static inline float minc(float c, float x) { return c < x ? c : x; }
static inline float maxc(float c, float x) { return c > x ? c : x; }

static inline float fm_tanh(float x) {
    float v = maxc(-FM_CLAMP, minc(FM_CLAMP, x));
    float s = v * v;
    float p = (((FM_P4 * s + FM_P3) * s + FM_P2) * s + FM_P1) * s + FM_P0;
    float q = (((FM_Q4 * s + FM_Q3) * s + FM_Q2) * s + FM_Q1) * s + FM_Q0;
    float y = v * p / q;
    return maxc(-1.0f, minc(1.0f, y));
}

static inline float fm_sigmoid(float x) { return 0.5f + 0.5f * fm_tanh(0.5f * x); }

/* The block's product for one row: acc[q * UNIT + u] = sum_l h[l] * W[gate q of unit u, l]. */
static inline void block_row_portable(int g, int k, const float *h, const float *B, float *acc) {
    int w = g * UNIT;
    for (int q = 0; q < w; q++) acc[q] = 0.0f;
    for (int l = 0; l < k; l++) {
        float x = h[l];
        const float *b = B + (size_t) l * w;
        for (int q = 0; q < w; q++) acc[q] = fmaf(x, b[q], acc[q]);
    }
}

/* LSTM pointwise for n units of one row from their sums (acc[q * UNIT + u]), CpuBackend's formulas. */
static inline void lstm_units(int n, int H, const float *acc, float *g, const float *cp, float *c, float *h) {
    for (int u = 0; u < n; u++) {
        float i = fm_sigmoid(acc[u] + g[u]), f = fm_sigmoid(acc[UNIT + u] + g[H + u]),
              gg = fm_tanh(acc[2 * UNIT + u] + g[2 * H + u]), o = fm_sigmoid(acc[3 * UNIT + u] + g[3 * H + u]);
        g[u] = i;
        g[H + u] = f;
        g[2 * H + u] = gg;
        g[3 * H + u] = o;
        float cv = f * cp[u] + i * gg;
        c[u] = cv;
        h[u] = fm_tanh(cv) * o;
    }
}

/* GRU pointwise for n units of one row: gh' = s (+ b_hh), r, z, n, h and the saved r, z, n, gh'_n. */
static inline void gru_units(int n, int H, const float *acc, const float *gx, const float *bh, const float *hp,
                             float *h, float *sv) {
    for (int u = 0; u < n; u++) {
        float hr = acc[u], hz = acc[UNIT + u], hn = acc[2 * UNIT + u];
        if (bh != NULL) {
            hr += bh[u];
            hz += bh[H + u];
            hn += bh[2 * H + u];
        }
        float r = fm_sigmoid(gx[u] + hr), z = fm_sigmoid(gx[H + u] + hz);
        float nv = fm_tanh(gx[2 * H + u] + r * hn);
        h[u] = (1.0f - z) * nv + z * hp[u];
        sv[u] = r;
        sv[H + u] = z;
        sv[2 * H + u] = nv;
        sv[3 * H + u] = hn;
    }
}

/* Everything one fused step reads and writes (ld: row strides, in floats). */
typedef struct step_args {
    int rows, H, j0, j1;
    const float *h; int ldh;        /* h_{t-1} */
    const float *P;                 /* the packed W_hh */
    float *g; int ldg;              /* LSTM: gx in, activated gates out; GRU: gx in */
    const float *cp; int ldcp;      /* LSTM: c_{t-1} */
    float *c; int ldc;              /* LSTM: c_t */
    const float *bh;                /* GRU: b_hh or NULL */
    float *sv; int ldsv;            /* GRU: saved */
    float *ho; int ldho;            /* h_t */
} step_args;

static void lstm_portable(const step_args *a) {
    float acc[4 * UNIT];
    for (int j = a->j0; j < a->j1; j += UNIT) {
        const float *B = a->P + (size_t) (j / UNIT) * a->H * 4 * UNIT;
        int n = a->H - j < UNIT ? a->H - j : UNIT;
        for (int r = 0; r < a->rows; r++) {
            block_row_portable(4, a->H, a->h + (size_t) r * a->ldh, B, acc);
            lstm_units(n, a->H, acc, a->g + (size_t) r * a->ldg + j, a->cp + (size_t) r * a->ldcp + j,
                       a->c + (size_t) r * a->ldc + j, a->ho + (size_t) r * a->ldho + j);
        }
    }
}

static void gru_portable(const step_args *a) {
    float acc[3 * UNIT];
    for (int j = a->j0; j < a->j1; j += UNIT) {
        const float *B = a->P + (size_t) (j / UNIT) * a->H * 3 * UNIT;
        int n = a->H - j < UNIT ? a->H - j : UNIT;
        for (int r = 0; r < a->rows; r++) {
            block_row_portable(3, a->H, a->h + (size_t) r * a->ldh, B, acc);
            gru_units(n, a->H, acc, a->g + (size_t) r * a->ldg + j, a->bh == NULL ? NULL : a->bh + j,
                      a->h + (size_t) r * a->ldh + j, a->ho + (size_t) r * a->ldho + j, a->sv + (size_t) r * a->ldsv + j);
        }
    }
}

#if RNN4J_X86
/* FastMath's tanh and sigmoid on 8 lanes: min_ps(c, x) and max_ps(c, x) return x where x is NaN. */
INLINE AVX2_TARGET __m256 tanh_avx2(__m256 x) {
    __m256 v = _mm256_max_ps(_mm256_set1_ps(-FM_CLAMP), _mm256_min_ps(_mm256_set1_ps(FM_CLAMP), x));
    __m256 s = _mm256_mul_ps(v, v);
    __m256 p = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(FM_P4), s), _mm256_set1_ps(FM_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(FM_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(FM_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, s), _mm256_set1_ps(FM_P0));
    __m256 q = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(FM_Q4), s), _mm256_set1_ps(FM_Q3));
    q = _mm256_add_ps(_mm256_mul_ps(q, s), _mm256_set1_ps(FM_Q2));
    q = _mm256_add_ps(_mm256_mul_ps(q, s), _mm256_set1_ps(FM_Q1));
    q = _mm256_add_ps(_mm256_mul_ps(q, s), _mm256_set1_ps(FM_Q0));
    __m256 y = _mm256_div_ps(_mm256_mul_ps(v, p), q);
    return _mm256_max_ps(_mm256_set1_ps(-1.0f), _mm256_min_ps(_mm256_set1_ps(1.0f), y));
}

INLINE AVX2_TARGET __m256 sigmoid_avx2(__m256 x) {
    __m256 half = _mm256_set1_ps(0.5f);
    return _mm256_add_ps(half, _mm256_mul_ps(half, tanh_avx2(_mm256_mul_ps(half, x))));
}

/* ROWS rows x one block: acc[r][q] = gate q of the block's 8 units for row r (G * ROWS <= 12 registers). */
INLINE AVX2_TARGET void block_avx2(const int G, const int ROWS, int k, const float *h, int ldh, const float *B,
                                   __m256 acc[3][4]) {
    for (int r = 0; r < ROWS; r++)
        for (int q = 0; q < G; q++) acc[r][q] = _mm256_setzero_ps();
    for (int l = 0; l < k; l++) {
        const float *b = B + (size_t) l * G * UNIT;
        __m256 x[3];
        for (int r = 0; r < ROWS; r++) x[r] = _mm256_broadcast_ss(h + (size_t) r * ldh + l);
        for (int q = 0; q < G; q++) {
            __m256 bq = _mm256_loadu_ps(b + q * UNIT);
            for (int r = 0; r < ROWS; r++) acc[r][q] = _mm256_fmadd_ps(x[r], bq, acc[r][q]);
        }
    }
}

/*
 * ROWS (up to 6) rows x gates q0 and q0 + 1 of one LSTM block: 12 accumulators, 2 loads and a
 * broadcast (the 6 x 16 tile of the products), so that each 32-float row of the block read from
 * cache feeds twice the multiply-adds that all 4 gates x 3 rows would.
 */
INLINE AVX2_TARGET void pair_avx2(const int ROWS, int k, const float *h, int ldh, const float *B, __m256 acc[6][2]) {
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int l = 0; l < k; l++) {
        const float *b = B + (size_t) l * 4 * UNIT;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + UNIT);
        for (int r = 0; r < ROWS; r++) {
            __m256 x = _mm256_broadcast_ss(h + (size_t) r * ldh + l);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
}

/*
 * One block of 8 units' LSTM update from the recurrent sums of its four gates: the same
 * formulas, in the same order, as the scalar lstm_units and the Java step (gates left activated in g).
 */
INLINE AVX2_TARGET void lstm_block_avx2(__m256 si, __m256 sf, __m256 sg, __m256 so, int H, float *g, const float *cp,
                                        float *c, float *ho) {
    __m256 i = sigmoid_avx2(_mm256_add_ps(si, _mm256_loadu_ps(g)));
    __m256 f = sigmoid_avx2(_mm256_add_ps(sf, _mm256_loadu_ps(g + H)));
    __m256 gg = tanh_avx2(_mm256_add_ps(sg, _mm256_loadu_ps(g + 2 * H)));
    __m256 o = sigmoid_avx2(_mm256_add_ps(so, _mm256_loadu_ps(g + 3 * H)));
    _mm256_storeu_ps(g, i);
    _mm256_storeu_ps(g + H, f);
    _mm256_storeu_ps(g + 2 * H, gg);
    _mm256_storeu_ps(g + 3 * H, o);
    __m256 cv = _mm256_add_ps(_mm256_mul_ps(f, _mm256_loadu_ps(cp)), _mm256_mul_ps(i, gg));
    _mm256_storeu_ps(c, cv);
    _mm256_storeu_ps(ho, _mm256_mul_ps(tanh_avx2(cv), o));
}

/* ROWS rows of one LSTM block: gates i, f summed first, then g, o, then the cell update. */
INLINE AVX2_TARGET void lstm_pairs_avx2(const int ROWS, const step_args *a, int r0, int j, const float *B, int n) {
    __m256 if_[6][2], go[6][2];
    const float *h = a->h + (size_t) r0 * a->ldh;
    pair_avx2(ROWS, a->H, h, a->ldh, B, if_);
    pair_avx2(ROWS, a->H, h, a->ldh, B + 2 * UNIT, go);
    for (int r = 0; r < ROWS; r++) {
        float *g = a->g + (size_t) (r0 + r) * a->ldg + j, *c = a->c + (size_t) (r0 + r) * a->ldc + j,
              *ho = a->ho + (size_t) (r0 + r) * a->ldho + j;
        const float *cp = a->cp + (size_t) (r0 + r) * a->ldcp + j;
        int H = a->H;
        if (n < UNIT) {   /* a last, partial block: the scalar formulas on the sums */
            float t[4 * UNIT];
            _mm256_storeu_ps(t, if_[r][0]);
            _mm256_storeu_ps(t + UNIT, if_[r][1]);
            _mm256_storeu_ps(t + 2 * UNIT, go[r][0]);
            _mm256_storeu_ps(t + 3 * UNIT, go[r][1]);
            lstm_units(n, H, t, g, cp, c, ho);
            continue;
        }
        lstm_block_avx2(if_[r][0], if_[r][1], go[r][0], go[r][1], H, g, cp, c, ho);
    }
}

/*
 * ROWS (up to 3) rows x all 4 gates of one LSTM block in one pass (12 accumulators): for the
 * last 1 to 5 rows, where a batch-1 step streams W_hh from memory once instead of twice.
 */
INLINE AVX2_TARGET void lstm_rows_avx2(const int ROWS, const step_args *a, int r0, int j, const float *B, int n) {
    __m256 acc[3][4];
    block_avx2(4, ROWS, a->H, a->h + (size_t) r0 * a->ldh, a->ldh, B, acc);
    for (int r = 0; r < ROWS; r++) {
        float *g = a->g + (size_t) (r0 + r) * a->ldg + j, *c = a->c + (size_t) (r0 + r) * a->ldc + j,
              *ho = a->ho + (size_t) (r0 + r) * a->ldho + j;
        const float *cp = a->cp + (size_t) (r0 + r) * a->ldcp + j;
        if (n < UNIT) {   /* a last, partial block: the scalar formulas on the sums */
            float t[4 * UNIT];
            for (int q = 0; q < 4; q++) _mm256_storeu_ps(t + q * UNIT, acc[r][q]);
            lstm_units(n, a->H, t, g, cp, c, ho);
            continue;
        }
        int H = a->H;
        lstm_block_avx2(acc[r][0], acc[r][1], acc[r][2], acc[r][3], H, g, cp, c, ho);
    }
}

static AVX2_TARGET void lstm_avx2(const step_args *a) {
    for (int j = a->j0; j < a->j1; j += UNIT) {
        const float *B = a->P + (size_t) (j / UNIT) * a->H * 4 * UNIT;
        int n = a->H - j < UNIT ? a->H - j : UNIT, r = 0;
        for (; r + 6 <= a->rows; r += 6) lstm_pairs_avx2(6, a, r, j, B, n);
        for (; r + 3 <= a->rows; r += 3) lstm_rows_avx2(3, a, r, j, B, n);
        if (a->rows - r == 2) lstm_rows_avx2(2, a, r, j, B, n);
        else if (a->rows - r == 1) lstm_rows_avx2(1, a, r, j, B, n);
    }
}

/* ROWS (up to 4) rows x the 3 gates of one GRU block: 12 accumulators, 3 loads and a broadcast. */
INLINE AVX2_TARGET void gru_block_avx2(const int ROWS, int k, const float *h, int ldh, const float *B, __m256 acc[4][3]) {
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm256_setzero_ps();
    for (int l = 0; l < k; l++) {
        const float *b = B + (size_t) l * 3 * UNIT;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + UNIT), b2 = _mm256_loadu_ps(b + 2 * UNIT);
        for (int r = 0; r < ROWS; r++) {
            __m256 x = _mm256_broadcast_ss(h + (size_t) r * ldh + l);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(x, b2, acc[r][2]);
        }
    }
}

INLINE AVX2_TARGET void gru_rows_avx2(const int ROWS, const step_args *a, int r0, int j, const float *B, int n) {
    __m256 acc[4][3];
    gru_block_avx2(ROWS, a->H, a->h + (size_t) r0 * a->ldh, a->ldh, B, acc);
    for (int r = 0; r < ROWS; r++) {
        const float *gx = a->g + (size_t) (r0 + r) * a->ldg + j, *hp = a->h + (size_t) (r0 + r) * a->ldh + j;
        const float *bh = a->bh == NULL ? NULL : a->bh + j;
        float *ho = a->ho + (size_t) (r0 + r) * a->ldho + j, *sv = a->sv + (size_t) (r0 + r) * a->ldsv + j;
        int H = a->H;
        if (n < UNIT) {
            float t[3 * UNIT];
            for (int q = 0; q < 3; q++) _mm256_storeu_ps(t + q * UNIT, acc[r][q]);
            gru_units(n, H, t, gx, bh, hp, ho, sv);
            continue;
        }
        __m256 hr = acc[r][0], hz = acc[r][1], hn = acc[r][2];
        if (bh != NULL) {
            hr = _mm256_add_ps(hr, _mm256_loadu_ps(bh));
            hz = _mm256_add_ps(hz, _mm256_loadu_ps(bh + H));
            hn = _mm256_add_ps(hn, _mm256_loadu_ps(bh + 2 * H));
        }
        __m256 rv = sigmoid_avx2(_mm256_add_ps(_mm256_loadu_ps(gx), hr));
        __m256 z = sigmoid_avx2(_mm256_add_ps(_mm256_loadu_ps(gx + H), hz));
        __m256 nv = tanh_avx2(_mm256_add_ps(_mm256_loadu_ps(gx + 2 * H), _mm256_mul_ps(rv, hn)));
        __m256 hv = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), z), nv),
                                  _mm256_mul_ps(z, _mm256_loadu_ps(hp)));
        _mm256_storeu_ps(ho, hv);
        _mm256_storeu_ps(sv, rv);
        _mm256_storeu_ps(sv + H, z);
        _mm256_storeu_ps(sv + 2 * H, nv);
        _mm256_storeu_ps(sv + 3 * H, hn);
    }
}

static AVX2_TARGET void gru_avx2(const step_args *a) {
    for (int j = a->j0; j < a->j1; j += UNIT) {
        const float *B = a->P + (size_t) (j / UNIT) * a->H * 3 * UNIT;
        int n = a->H - j < UNIT ? a->H - j : UNIT, r = 0;
        for (; r + 4 <= a->rows; r += 4) gru_rows_avx2(4, a, r, j, B, n);
        switch (a->rows - r) {
        case 3: gru_rows_avx2(3, a, r, j, B, n); break;
        case 2: gru_rows_avx2(2, a, r, j, B, n); break;
        case 1: gru_rows_avx2(1, a, r, j, B, n); break;
        default: break;
        }
    }
}
#endif

typedef void (*step_fn)(const step_args *);

/* The fused steps use 8-lane vectors: AVX2 code where the CPU runs it (AVX-512F CPUs do), else C. */
static step_fn step_for(int32_t isa, int lstm) {
#if RNN4J_X86
    if (isa != RNN4J_CPU_ISA_PORTABLE && isa_runs(RNN4J_CPU_ISA_AVX2)) return lstm ? lstm_avx2 : gru_avx2;
#else
    (void) isa;
#endif
    return lstm ? lstm_portable : gru_portable;
}

typedef void (*gemm_fn)(int, int, int, float, const float *, int, const float *, float, float *, int);

static gemm_fn gemm_for(int32_t isa) {
    switch (isa) {
#if RNN4J_X86
    case RNN4J_CPU_ISA_AVX2: return gemm_avx2;
    case RNN4J_CPU_ISA_AVX512: return gemm_avx512;
#endif
    default: return gemm_portable;
    }
}

/* ------------------------------------------------------------------------------ bodies */

static int cpu_abi_version(int32_t *abi, char *err, int64_t err_cap) {
    (void) err, (void) err_cap;
    *abi = RNN4J_CPU_ABI;
    return rnn4j_ok();
}

static int cpu_isa_best(int32_t *isa, char *err, int64_t err_cap) {
    (void) err, (void) err_cap;
    int32_t best = RNN4J_CPU_ISA_PORTABLE;
    for (int32_t i = 0; i < RNN4J_CPU_ISA_COUNT; i++)
        if (isa_runs(i)) best = i;
    *isa = best;
    return rnn4j_ok();
}

static int cpu_isa_supported(int32_t isa, int32_t *supported, char *err, int64_t err_cap) {
    (void) err, (void) err_cap;
    *supported = isa_runs(isa);
    return rnn4j_ok();
}

static int cpu_isa_name(int32_t isa, char *name, int64_t name_cap, char *err, int64_t err_cap) {
    (void) err, (void) err_cap;
    const char *s = isa_names[isa];
    size_t len = strlen(s);
    if ((uint64_t) len >= (uint64_t) name_cap) len = (size_t) name_cap - 1;
    memcpy(name, s, len);
    name[len] = '\0';
    return rnn4j_ok();
}

static int cpu_panel_width(int32_t *width, char *err, int64_t err_cap) {
    (void) err, (void) err_cap;
    *width = PANEL;
    return rnn4j_ok();
}

static int cpu_pack_bt(int32_t n, int32_t k, const float *w, int64_t w_len, int64_t w_off, int32_t w_ld, float *p,
                       int64_t p_len, int64_t p_off, char *err, int64_t err_cap) {
    (void) w_len, (void) p_len, (void) err, (void) err_cap;
    if (n == 0 || k == 0) return rnn4j_ok();
    const float *W = w + w_off;
    float *P = p + p_off;
    for (int32_t j0 = 0, pn = 0; j0 < n; j0 += PANEL, pn++) {
        float *d = P + (size_t) pn * k * PANEL;
        int cols = n - j0 < PANEL ? n - j0 : PANEL;
        if (cols < PANEL) memset(d, 0, sizeof(float) * (size_t) k * PANEL);
        /* blocks of 16 of W's columns x the panel's rows: their cache lines stay in L1 */
        for (int32_t l0 = 0; l0 < k; l0 += 16) {
            int32_t l1 = k - l0 < 16 ? k : l0 + 16;
            for (int q = 0; q < cols; q++) {
                const float *src = W + (size_t) (j0 + q) * w_ld;
                for (int32_t l = l0; l < l1; l++) d[(size_t) l * PANEL + q] = src[l];
            }
        }
    }
    return rnn4j_ok();
}

static int cpu_gemm_packed(int32_t isa, int32_t m, int32_t n, int32_t k, float alpha, const float *a, int64_t a_len,
                           int64_t a_off, int32_t a_ld, const float *p, int64_t p_len, int64_t p_off, float beta,
                           float *c, int64_t c_len, int64_t c_off, int32_t c_ld, char *err, int64_t err_cap) {
    (void) a_len, (void) p_len, (void) c_len, (void) err, (void) err_cap;
    if (m == 0 || n == 0) return rnn4j_ok();
    float *C = c + c_off;
    if (k == 0) {   /* an empty sum: beta C, as the Java kernels' scaleOnly */
        for (int32_t i = 0; i < m; i++)
            for (int32_t j = 0; j < n; j++) {
                float *x = C + (size_t) i * c_ld + j;
                *x = beta == 0.0f ? 0.0f : beta * *x;
            }
        return rnn4j_ok();
    }
    gemm_for(isa)(m, n, k, alpha, a + a_off, a_ld, p + p_off, beta, C, c_ld);
    return rnn4j_ok();
}

/* A slice [j0, j1) of units: inside [0, hidden], starting on a block (ending on one or at hidden). */
static int check_slice(const char *fn, int32_t hidden, int32_t j0, int32_t j1) {
    if (j0 > j1 || j1 > hidden)
        return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "%s: units [%d, %d) are not inside [0, hidden = %d)", fn, (int) j0,
                          (int) j1, (int) hidden);
    if (j0 % UNIT != 0 || (j1 % UNIT != 0 && j1 != hidden))
        return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "%s: units [%d, %d) do not start and end on blocks of %d (or at hidden)",
                          fn, (int) j0, (int) j1, UNIT);
    return RNN4J_OK;
}

static int cpu_pack_cell(int32_t gates, int32_t hidden, const float *w, int64_t w_len, int64_t w_off, int32_t w_ld,
                         float *p, int64_t p_len, int64_t p_off, char *err, int64_t err_cap) {
    (void) w_len, (void) p_len, (void) err, (void) err_cap;
    const float *W = w + w_off;
    float *P = p + p_off;
    for (int32_t j = 0; j < hidden; j += UNIT) {
        float *d = P + (size_t) (j / UNIT) * hidden * gates * UNIT;
        int n = hidden - j < UNIT ? hidden - j : UNIT;
        if (n < UNIT) memset(d, 0, sizeof(float) * (size_t) hidden * gates * UNIT);
        for (int q = 0; q < gates; q++)
            for (int u = 0; u < n; u++) {
                const float *src = W + (size_t) ((int64_t) q * hidden + j + u) * w_ld;
                for (int32_t l = 0; l < hidden; l++) d[((size_t) l * gates + q) * UNIT + u] = src[l];
            }
    }
    return rnn4j_ok();
}

static int cpu_lstm_step(int32_t isa, int32_t rows, int32_t hidden, int32_t j0, int32_t j1, const float *h,
                         int64_t h_len, int64_t h_off, int32_t h_ld, const float *w, int64_t w_len, int64_t w_off,
                         float *g, int64_t g_len, int64_t g_off, int32_t g_ld, const float *cprev, int64_t cprev_len,
                         int64_t cprev_off, int32_t cprev_ld, float *c, int64_t c_len, int64_t c_off, int32_t c_ld,
                         float *hout, int64_t hout_len, int64_t hout_off, int32_t hout_ld, char *err, int64_t err_cap) {
    (void) h_len, (void) w_len, (void) g_len, (void) cprev_len, (void) c_len, (void) hout_len, (void) err, (void) err_cap;
    int st = check_slice("rnn4j_cpu_lstm_step", hidden, j0, j1);
    if (st != RNN4J_OK) return st;
    if (rows == 0 || j0 == j1) return rnn4j_ok();
    step_args a = {rows, hidden, j0, j1, h + h_off, h_ld, w + w_off, g + g_off, g_ld, cprev + cprev_off, cprev_ld,
                   c + c_off, c_ld, NULL, NULL, 0, hout + hout_off, hout_ld};
    step_for(isa, 1)(&a);
    return rnn4j_ok();
}

static int cpu_gru_step(int32_t isa, int32_t rows, int32_t hidden, int32_t j0, int32_t j1, const float *h,
                        int64_t h_len, int64_t h_off, int32_t h_ld, const float *w, int64_t w_len, int64_t w_off,
                        const float *gx, int64_t gx_len, int64_t gx_off, int32_t gx_ld, int32_t nbias, const float *bh,
                        int64_t bh_len, int64_t bh_off, int32_t bh_ld, float *saved, int64_t saved_len,
                        int64_t saved_off, int32_t saved_ld, float *hout, int64_t hout_len, int64_t hout_off,
                        int32_t hout_ld, char *err, int64_t err_cap) {
    (void) h_len, (void) w_len, (void) gx_len, (void) bh_len, (void) bh_ld, (void) saved_len, (void) hout_len, (void) err,
        (void) err_cap;
    int st = check_slice("rnn4j_cpu_gru_step", hidden, j0, j1);
    if (st != RNN4J_OK) return st;
    if (nbias > 1) return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "rnn4j_cpu_gru_step: nbias = %d is neither 0 nor 1", (int) nbias);
    if (rows == 0 || j0 == j1) return rnn4j_ok();
    step_args a = {rows, hidden, j0, j1, h + h_off, h_ld, w + w_off, (float *) (gx + gx_off), gx_ld, NULL, 0, NULL, 0,
                   nbias ? bh + bh_off : NULL, saved + saved_off, saved_ld, hout + hout_off, hout_ld};
    step_for(isa, 0)(&a);
    return rnn4j_ok();
}

/* ------------------------------------------------------------------------------ boundary */

#define FAIL(...) rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, __VA_ARGS__)

/* Whether a row-major rows x cols matrix at x[off] with row stride ld lies inside [0, len). */
static int check_matrix(const char *fn, const char *name, const void *x, int64_t len, int64_t off, int32_t ld,
                        int32_t rows, int32_t cols) {
    if (len < 0) return FAIL("%s: %s_len = %lld is negative", fn, name, (long long) len);
    if (off < 0) return FAIL("%s: %s_off = %lld is negative", fn, name, (long long) off);
    if (ld < (cols > 1 ? cols : 1))
        return FAIL("%s: %s_ld = %d is below the row length %d (and 1)", fn, name, (int) ld, (int) cols);
    if (rows == 0 || cols == 0) return 0;
    if (x == NULL) return FAIL("%s: %s is NULL", fn, name);
    int64_t span = (int64_t) (rows - 1) * ld + cols;   /* < 2^62: no overflow */
    if (off > len || span > len - off)
        return FAIL("%s: %s (%d x %d, ld %d) at offset %lld needs %lld floats but has %lld", fn, name, (int) rows,
                    (int) cols, (int) ld, (long long) off, (long long) span, (long long) len);
    return 0;
}

static int check_panels(const char *fn, const char *name, const void *x, int64_t len, int64_t off, int32_t n,
                        int32_t k) {
    if (len < 0) return FAIL("%s: %s_len = %lld is negative", fn, name, (long long) len);
    if (off < 0) return FAIL("%s: %s_off = %lld is negative", fn, name, (long long) off);
    int64_t need = RNN4J_CPU_PANEL_FLOATS(n, k);
    if (need == 0) return 0;
    if (x == NULL) return FAIL("%s: %s is NULL", fn, name);
    if (off > len || need > len - off)
        return FAIL("%s: %s (panels of %d x %d) at offset %lld needs %lld floats but has %lld", fn, name, (int) n,
                    (int) k, (long long) off, (long long) need, (long long) len);
    return 0;
}

static int check_cell(const char *fn, const char *name, const void *x, int64_t len, int64_t off, int32_t g, int32_t h) {
    if (len < 0) return FAIL("%s: %s_len = %lld is negative", fn, name, (long long) len);
    if (off < 0) return FAIL("%s: %s_off = %lld is negative", fn, name, (long long) off);
    int64_t need = RNN4J_CPU_CELL_FLOATS(g, h);
    if (need == 0) return 0;
    if (x == NULL) return FAIL("%s: %s is NULL", fn, name);
    if (off > len || need > len - off)
        return FAIL("%s: %s (a cell of %d gates x %d units) at offset %lld needs %lld floats but has %lld", fn, name,
                    (int) g, (int) h, (long long) off, (long long) need, (long long) len);
    return 0;
}

#define RET(st)                        \
    do {                               \
        int rnn4j_st_ = (st);          \
        if (rnn4j_st_) return rnn4j_st_; \
    } while (0)

#define RNN4J_CPU_CHECK(kind, ...) RNN4J_CPU_CHECK_##kind(__VA_ARGS__)
#define RNN4J_CPU_CHECK_dim(x) \
    if (x < 0) return FAIL("%s: " #x " = %d is negative", fn, (int) x);
#define RNN4J_CPU_CHECK_f32(x) (void) x;
#define RNN4J_CPU_CHECK_isa_id(x)                 \
    if (x < 0 || x >= RNN4J_CPU_ISA_COUNT)        \
        return FAIL("%s: " #x " = %d is no instruction set (0 to %d)", fn, (int) x, RNN4J_CPU_ISA_COUNT - 1);
#define RNN4J_CPU_CHECK_isa(x)   \
    RNN4J_CPU_CHECK_isa_id(x)    \
    if (!isa_runs(x)) return FAIL("%s: this CPU does not run the %s kernels", fn, isa_names[x]);
#define RNN4J_CPU_CHECK_i32_out(x) \
    if (x == NULL) return FAIL("%s: " #x " is NULL", fn);
#define RNN4J_CPU_CHECK_text_out(x)   \
    if (x == NULL) return FAIL("%s: " #x " is NULL", fn); \
    if (x##_cap < 1) return FAIL("%s: " #x "_cap = %lld leaves no room for the terminating NUL", fn, (long long) x##_cap);
#define RNN4J_CPU_CHECK_mat_in(x, r, c) RET(check_matrix(fn, #x, x, x##_len, x##_off, x##_ld, r, c));
#define RNN4J_CPU_CHECK_mat_out(x, r, c) RET(check_matrix(fn, #x, x, x##_len, x##_off, x##_ld, r, c));
#define RNN4J_CPU_CHECK_panels_in(x, n, k) RET(check_panels(fn, #x, x, x##_len, x##_off, n, k));
#define RNN4J_CPU_CHECK_panels_out(x, n, k) RET(check_panels(fn, #x, x, x##_len, x##_off, n, k));
#define RNN4J_CPU_CHECK_gates(x) \
    if (x < 1 || x > 4) return FAIL("%s: " #x " = %d is not 1 to 4", fn, (int) x);
#define RNN4J_CPU_CHECK_units(x) \
    if (x < 0 || x > RNN4J_CPU_MAX_UNITS) return FAIL("%s: " #x " = %d is outside 0 to %d", fn, (int) x, RNN4J_CPU_MAX_UNITS);
#define RNN4J_CPU_CHECK_cell_in(x, g, h) RET(check_cell(fn, #x, x, x##_len, x##_off, g, h));
#define RNN4J_CPU_CHECK_cell_out(x, g, h) RET(check_cell(fn, #x, x, x##_len, x##_off, g, h));

/* A failure's message into the caller's buffer (the JVM's: see CpuNative). */
static int finish(int status, char *err, int64_t err_cap) {
    if (status != RNN4J_OK && err != NULL && err_cap > 0) {
        const char *msg = rnn4j_error_message();
        size_t len = strlen(msg);
        if ((uint64_t) len >= (uint64_t) err_cap) len = (size_t) err_cap - 1;
        memcpy(err, msg, len);
        err[len] = '\0';
    }
    return status;
}

/* check_<name>: every operand's boundary check, in the table's order (the dims before the matrices). */
#define RNN4J_CPU_DEFINE_CHECK(ctx, name, ...)                              \
    static int check_##name RNN4J_CPU_PARAMS(__VA_ARGS__) {                 \
        static const char fn[] = "rnn4j_cpu_" #name;                        \
        (void) err;                                                         \
        if (err_cap < 0) return FAIL("%s: err_cap = %lld is negative", fn, (long long) err_cap); \
        RNN4J_CPU_EACH(RNN4J_CPU_CHECK, __VA_ARGS__)                         \
        return RNN4J_OK;                                                    \
    }
RNN4J_CPU_OPS(RNN4J_CPU_DEFINE_CHECK, ~)

/* rnn4j_cpu_<name>: the checks, then the body; a failure's message also into err. */
#define RNN4J_CPU_DEFINE(ctx, name, ...)                                    \
    RNN4J_API int rnn4j_cpu_##name RNN4J_CPU_PARAMS(__VA_ARGS__) {          \
        int status = check_##name RNN4J_CPU_ARGS(__VA_ARGS__);              \
        if (status == RNN4J_OK) status = cpu_##name RNN4J_CPU_ARGS(__VA_ARGS__); \
        return finish(status, err, err_cap);                                \
    }
RNN4J_CPU_OPS(RNN4J_CPU_DEFINE, ~)

/* The binding table that CpuNative reads. */
#define RNN4J_CPU_ENTRY(ctx, name, ...) \
    {"rnn4j_cpu_" #name, RNN4J_CPU_SIGNATURE(__VA_ARGS__), RNN4J_CPU_EACH(RNN4J_CPU_SPEC, __VA_ARGS__)},
static const rnn4j_cpu_api_entry table[] = {RNN4J_CPU_OPS(RNN4J_CPU_ENTRY, ~)};

int rnn4j_cpu_api(const rnn4j_cpu_api_entry **entries, int *count) {
    if (entries == NULL || count == NULL)
        return rnn4j_fail(RNN4J_ERR_INVALID_ARGUMENT, "rnn4j_cpu_api: entries or count is NULL");
    *entries = table;
    *count = (int) (sizeof table / sizeof table[0]);
    return rnn4j_ok();
}
