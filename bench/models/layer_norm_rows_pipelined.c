// A model of LayerNorm over the last dim on rows read from memory (S4: 8192 x 768 floats, 25 MB a tensor), one thread,
// AVX2 + FMA (runs on every x86 machine the library targets), to see what running a row's apply side by side with the
// next row's sums is worth against the library's order, row after row (each row's sums from memory, then its apply from
// L1 with streaming stores). Sixty-sixth session (README, "Measured and left"): on the Zen 3 guest a C# model of the same
// loops put the pipelined backward at 0.71-0.89 of the two-pass time and the forward at 0.85-0.91; on the Zen 5 guest the
// library's own pipelined forward over gamma rows had run at twice its time (Runs.Rows' remarks).
//
// Variants, each timed as the bench times a kernel (the mean call of a window of calls), windows alternating:
//   flim  the forward's limit: x read, y written with streaming stores
//   f2    forward, row after row: sums (x - x[0], its square; lines hinted 4 KB ahead), then y = ((x - mean) * rstd) * g + b
//   fp    forward pipelined: row 0's sums, then each row's apply in the loop that makes the next row's sums
//   blim  the backward's limit: x and dy read, dx written with streaming stores
//   b2    backward, row after row: sums of g*dy and g*dy*xhat (hinted), then dx streamed and dgamma, dbeta accumulated
//   bp    backward pipelined: each row's apply in the loop that makes the next row's sums
// Build and run: gcc -O3 -mavx2 -mfma -o lnp layer_norm_rows_pipelined.c -lm && ./lnp [rounds] [rows] [width]
// (defaults 15, 8192, 768; the bench's S6 is 1536 x 4096). Prints each variant's median window and its ratio to its limit.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

static long R = 8192, C = 768;
static float *x, *dy, *y, *g, *b, *dg, *db, *mean, *rstd;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec * 1e-3; }
static float *alloc(long n) { float *p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64 + 64); memset(p, 0, n * 4); return p; }
static float hsum(__m256 v) { __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); s = _mm_hadd_ps(s, s); s = _mm_hadd_ps(s, s); return _mm_cvtss_f32(s); }
#define AHEAD 4096

static void flim(void) { for (long i = 0; i < R * C; i += 8) _mm256_stream_ps(y + i, _mm256_loadu_ps(x + i)); _mm_sfence(); }
static void blim(void) { for (long i = 0; i < R * C; i += 8) _mm256_stream_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(dy + i))); _mm_sfence(); }

static inline void fsums(const float *xr, float *m, float *r)
{
    __m256 k = _mm256_set1_ps(xr[0]), s0 = _mm256_setzero_ps(), s1 = s0, q0 = s0, q1 = s0;
    for (long j = 0; j < C; j += 16) {
        _mm_prefetch((const char *)(xr + j) + AHEAD, _MM_HINT_T0);
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xr + j), k), d1 = _mm256_sub_ps(_mm256_loadu_ps(xr + j + 8), k);
        s0 = _mm256_add_ps(s0, d0); s1 = _mm256_add_ps(s1, d1); q0 = _mm256_fmadd_ps(d0, d0, q0); q1 = _mm256_fmadd_ps(d1, d1, q1);
    }
    float s = hsum(_mm256_add_ps(s0, s1)) / C, q = hsum(_mm256_add_ps(q0, q1)) / C;
    *m = xr[0] + s; *r = 1.0f / sqrtf(fmaxf(q - s * s, 0) + 1e-5f);
}
static inline void fapply(const float *xr, float *yr, long j, __m256 vr, __m256 vm)
{
    __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(xr + j), vr, vm);
    _mm256_stream_ps(yr + j, _mm256_fmadd_ps(v, _mm256_load_ps(g + j), _mm256_load_ps(b + j)));
}
static void f2(void)
{
    for (long r = 0; r < R; r++) {
        const float *xr = x + r * C; float *yr = y + r * C, m, s;
        fsums(xr, &m, &s);
        __m256 vr = _mm256_set1_ps(s), vm = _mm256_set1_ps(-m * s);
        for (long j = 0; j < C; j += 8) fapply(xr, yr, j, vr, vm);
    }
    _mm_sfence();
}
static void fp(void)
{
    float m, s; fsums(x, &m, &s);
    for (long r = 0; r < R; r++) {
        const float *xr = x + r * C, *xn = xr + C; float *yr = y + r * C;
        __m256 vr = _mm256_set1_ps(s), vm = _mm256_set1_ps(-m * s);
        if (r == R - 1) { for (long j = 0; j < C; j += 8) fapply(xr, yr, j, vr, vm); break; }
        __m256 k = _mm256_set1_ps(xn[0]), s0 = _mm256_setzero_ps(), s1 = s0, q0 = s0, q1 = s0;
        for (long j = 0; j < C; j += 16) {
            _mm_prefetch((const char *)(xn + j) + AHEAD, _MM_HINT_T0);
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xn + j), k), d1 = _mm256_sub_ps(_mm256_loadu_ps(xn + j + 8), k);
            s0 = _mm256_add_ps(s0, d0); s1 = _mm256_add_ps(s1, d1); q0 = _mm256_fmadd_ps(d0, d0, q0); q1 = _mm256_fmadd_ps(d1, d1, q1);
            fapply(xr, yr, j, vr, vm); fapply(xr, yr, j + 8, vr, vm);
        }
        float ss = hsum(_mm256_add_ps(s0, s1)) / C, q = hsum(_mm256_add_ps(q0, q1)) / C;
        m = xn[0] + ss; s = 1.0f / sqrtf(fmaxf(q - ss * ss, 0) + 1e-5f);
    }
    _mm_sfence();
}

static inline void bsums(const float *xr, const float *dyr, __m256 vm, __m256 vr, float *A, float *B)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    for (long j = 0; j < C; j += 16) {
        _mm_prefetch((const char *)(xr + j) + AHEAD, _MM_HINT_T0); _mm_prefetch((const char *)(dyr + j) + AHEAD, _MM_HINT_T0);
        __m256 gd0 = _mm256_mul_ps(_mm256_load_ps(g + j), _mm256_loadu_ps(dyr + j)), gd1 = _mm256_mul_ps(_mm256_load_ps(g + j + 8), _mm256_loadu_ps(dyr + j + 8));
        __m256 h0 = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), vr), h1 = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 8), vm), vr);
        a0 = _mm256_add_ps(a0, gd0); a1 = _mm256_add_ps(a1, gd1); b0 = _mm256_fmadd_ps(gd0, h0, b0); b1 = _mm256_fmadd_ps(gd1, h1, b1);
    }
    *A = hsum(_mm256_add_ps(a0, a1)); *B = hsum(_mm256_add_ps(b0, b1));
}
static inline void bapply(const float *xr, const float *dyr, float *dxr, long j, __m256 vm, __m256 vr, __m256 ca, __m256 cb)
{
    __m256 d = _mm256_loadu_ps(dyr + j), h = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), vr);
    __m256 gd = _mm256_mul_ps(_mm256_load_ps(g + j), d);
    _mm256_stream_ps(dxr + j, _mm256_fmadd_ps(gd, vr, _mm256_fmadd_ps(h, cb, ca)));
    _mm256_store_ps(dg + j, _mm256_fmadd_ps(d, h, _mm256_load_ps(dg + j)));
    _mm256_store_ps(db + j, _mm256_add_ps(d, _mm256_load_ps(db + j)));
}
static void b2(void)
{
    memset(dg, 0, C * 4); memset(db, 0, C * 4);
    for (long r = 0; r < R; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C; float *dxr = y + r * C, A, B;
        __m256 vm = _mm256_set1_ps(mean[r]), vr = _mm256_set1_ps(rstd[r]);
        bsums(xr, dyr, vm, vr, &A, &B);
        __m256 ca = _mm256_set1_ps(-A / C * rstd[r]), cb = _mm256_set1_ps(-B / C * rstd[r]);
        for (long j = 0; j < C; j += 8) bapply(xr, dyr, dxr, j, vm, vr, ca, cb);
    }
    _mm_sfence();
}
static void bp(void)
{
    memset(dg, 0, C * 4); memset(db, 0, C * 4);
    float A, B; bsums(x, dy, _mm256_set1_ps(mean[0]), _mm256_set1_ps(rstd[0]), &A, &B);
    for (long r = 0; r < R; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C; float *dxr = y + r * C;
        __m256 vm = _mm256_set1_ps(mean[r]), vr = _mm256_set1_ps(rstd[r]);
        __m256 ca = _mm256_set1_ps(-A / C * rstd[r]), cb = _mm256_set1_ps(-B / C * rstd[r]);
        if (r == R - 1) { for (long j = 0; j < C; j += 8) bapply(xr, dyr, dxr, j, vm, vr, ca, cb); break; }
        const float *xn = xr + C, *dyn = dyr + C;
        __m256 nm = _mm256_set1_ps(mean[r + 1]), nr = _mm256_set1_ps(rstd[r + 1]);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
        for (long j = 0; j < C; j += 16) {
            _mm_prefetch((const char *)(xn + j) + AHEAD, _MM_HINT_T0); _mm_prefetch((const char *)(dyn + j) + AHEAD, _MM_HINT_T0);
            __m256 gd0 = _mm256_mul_ps(_mm256_load_ps(g + j), _mm256_loadu_ps(dyn + j)), gd1 = _mm256_mul_ps(_mm256_load_ps(g + j + 8), _mm256_loadu_ps(dyn + j + 8));
            __m256 h0 = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xn + j), nm), nr), h1 = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xn + j + 8), nm), nr);
            a0 = _mm256_add_ps(a0, gd0); a1 = _mm256_add_ps(a1, gd1); b0 = _mm256_fmadd_ps(gd0, h0, b0); b1 = _mm256_fmadd_ps(gd1, h1, b1);
            bapply(xr, dyr, dxr, j, vm, vr, ca, cb); bapply(xr, dyr, dxr, j + 8, vm, vr, ca, cb);
        }
        A = hsum(_mm256_add_ps(a0, a1)); B = hsum(_mm256_add_ps(b0, b1));
    }
    _mm_sfence();
}

static int cmp(const void *a, const void *b) { double d = *(const double *)a - *(const double *)b; return d < 0 ? -1 : d > 0; }

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    if (argc > 2) R = atol(argv[2]);
    if (argc > 3) C = atol(argv[3]);
    if (C % 16 != 0) { fprintf(stderr, "width must be a multiple of 16\n"); return 1; }
    x = alloc(R * C); dy = alloc(R * C); y = alloc(R * C); g = alloc(C); b = alloc(C); dg = alloc(C); db = alloc(C); mean = alloc(R); rstd = alloc(R);
    srand(1);
    for (long i = 0; i < R * C; i++) { x[i] = rand() / (float)RAND_MAX * 2 - 1; dy[i] = rand() / (float)RAND_MAX * 2 - 1; }
    for (long i = 0; i < C; i++) { g[i] = 1 + i * 1e-3f; b[i] = i * 1e-3f; }
    for (long r = 0; r < R; r++) { float m, s; fsums(x + r * C, &m, &s); mean[r] = m; rstd[r] = s; }
    void (*fn[])(void) = { flim, f2, fp, blim, b2, bp };
    const char *name[] = { "flim", "f2", "fp", "blim", "b2", "bp" };
    enum { V = 6 };
    double *t[V];
    for (int v = 0; v < V; v++) t[v] = malloc(sizeof(double) * rounds);
    for (int w = 0; w < 3; w++) for (int v = 0; v < V; v++) fn[v]();
    for (int k = 0; k < rounds; k++)
        for (int i = 0; i < V; i++) {
            int v = (i + k) % V, calls = 0; double t0 = now(), t1;
            do { fn[v](); calls++; t1 = now(); } while (t1 - t0 < 8000);
            t[v][k] = (t1 - t0) / calls;
        }
    double med[V];
    for (int v = 0; v < V; v++) { qsort(t[v], rounds, sizeof(double), cmp); med[v] = t[v][rounds / 2]; }
    printf("rows %ld x %ld, %d rounds of 8 ms windows, medians (us) and ratios to the limit\n", R, C, rounds);
    for (int v = 0; v < V; v++) printf("%-5s %9.1f  %.2f\n", name[v], med[v], med[v] / med[v < 3 ? 0 : 3]);
    printf("pipelined / row after row: forward %.2f, backward %.2f\n", med[2] / med[1], med[5] / med[4]);
    return 0;
}
