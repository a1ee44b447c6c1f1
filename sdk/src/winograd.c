/* Winograd convolution F(m x m, 3 x 3), m = 2 or 4, for 3x3 stride-1 pad-1
 * layers (Lavin & Gray 2016), NCHW in and out.
 *
 * Each output is cut into m x m tiles; tile t of channel c reads an a x a
 * input patch d (a = m + 2, zero outside the image). With the transforms
 *     U = G g G^T  (weights, a x a per (k, c)),  V = B^T d B  (inputs),
 *     Y = A^T M A  with  M[xi](k, t) = sum_c U[xi](k, c) V[xi](c, t)
 * the a^2 "xi" products are plain matrix products over channels, which run
 * on a 6x16 AVX2/FMA register-blocked kernel (mk_kernel_6x16) over operands
 * the transforms write directly in its packed layout, so nothing else is
 * copied. The backward pass is
 *   din:     the same forward with the weights rotated 180 degrees and
 *            in/out channels swapped (a full correlation of dout);
 *   dweight: the exact gradient of the tile computation,
 *            dU[xi](k, c) = sum_t dM[xi](k, t) V[xi](c, t), dM = A dY A^T,
 *            dweight += G^T dU G.
 * F(4x4) does 4x fewer multiplications than a direct 3x3 conv, F(2x2) 2.25x.
 *
 * Work split (moco_pool, deterministic): forward/din by blocks of tiles,
 * each part with its own transform buffers; dweight by xi inside each block
 * of tiles, blocks in order, so every dU element sees the same sums in the
 * same order for a given thread count. */
#include "winograd.h"

#include <stdlib.h>
#include <string.h>

#include "parallel.h"

/* Lanes of the vectorised transforms (two AVX registers). */
#define WL 16
/* Forward: floats of a part's V + M buffers per block (~768 KiB: the
 * block's operands stay in L2 / the local L3 slice). */
#define WG_FWD_BUDGET (192 * 1024)
/* Forward, wide schedule: floats of V + M for one group of tiles (16 MiB). */
#define WG_WIDE_BUDGET (4 * 1024 * 1024)
/* dweight: floats of V + dM per block of tiles (~8 MiB). Larger blocks
 * touch the dU accumulators fewer times. */
#define WG_DW_BUDGET (2 * 1024 * 1024)

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Floats between the a^2 "xi" slices of a transform buffer holding n floats
 * each. The transforms write the a^2 slices of one tile group at once; with
 * slices a multiple of 1 KiB apart (n = ntp * channels * 16 usually is)
 * those 16 or 36 streams fall into one or a few sets of the L1 cache, more
 * than it has ways, and evict each other. One cache line of padding
 * spreads them over consecutive sets. */
#define WG_XI_PAD 16
static int64_t wg_xi_stride(int64_t n) { return n % 256 ? n : n + WG_XI_PAD; }

int32_t moco_wg_choose(const moco_conv_shape *s) {
    if (s->kh != 3 || s->kw != 3 || s->stride != 1 || s->pad != 1) return 0;
    if (moco_fast_off("winograd")) return 0;
    /* 2x2 and 1x1 maps: most taps read padding, the direct conv is cheaper. */
    if (s->h < 4 || s->w < 4) return 0;
    /* The forward pass in F(2x2): F(4x4) does 1.8x fewer multiplications
     * but its transforms (entries up to 8, 1/24) cost ~10x the rounding
     * error of a direct conv, which the forward's activations carry through
     * every later layer and BN: beyond the PyTorch reference tests'
     * tolerances (ref_moco_step q/k 97-110%, docs/reference-tests.md);
     * MOCO_WINOGRAD_TILE=4 selects it for every pass. */
    const char *t = getenv("MOCO_WINOGRAD_TILE");
    return t && !strcmp(t, "4") ? 4 : 2;
}

/* The gradients' tile: F(4x4) on maps from 8x8 unless MOCO_WINOGRAD_TILE
 * says otherwise (see the two callers for why each pays). */
static int32_t wg_choose_gradient(const moco_conv_shape *s) {
    const int32_t m = moco_wg_choose(s);
    if (m != 2) return m;
    const char *t = getenv("MOCO_WINOGRAD_TILE");
    if (t && !strcmp(t, "2")) return 2;
    return s->h >= 8 && s->w >= 8 ? 4 : 2;
}

/* The weight gradient sums over every tile of the batch and lands in SGD's
 * update, where F(4x4)'s rounding error stays within the PyTorch reference
 * tests' tolerances (docs/reference-tests.md). Its 1.8x fewer
 * multiplications pay from 8x8 maps up; on 4x4 maps (one F(4x4) tile, whose
 * dU sums only 32 tiles) they do not. */
int32_t moco_wg_choose_dweight(const moco_conv_shape *s) { return wg_choose_gradient(s); }

/* The input gradient in F(4x4) on maps from 8x8 up, as the weight gradient:
 * 1.8x fewer multiplications, 19-24% less time per layer on the CIFAR
 * stem's 32x32 to 8x8 maps (bench/RESULTS.md). On 4x4 maps (one tile per
 * image, 32 tiles a batch) it is slower with 2 threads. Its rounding error
 * reaches the earlier layers' weight gradients but stays within the PyTorch
 * reference tests' tolerances (ref_moco_step: query parameters 61% of
 * theirs, q/k 23%; docs/reference-tests.md). MOCO_WINOGRAD_TILE=2 keeps
 * F(2x2). */
int32_t moco_wg_choose_din(const moco_conv_shape *s) { return wg_choose_gradient(s); }

/* Geometry of one Winograd conv direction: o outputs from r reduction
 * channels on h x w maps (forward: o = c_out, r = c_in; din: swapped). */
typedef struct wg_geo {
    int32_t m, a, a2;
    int32_t n, h, w;
    int32_t o, r;          /* output / reduction channels */
    int32_t op;            /* ceil(o / 6): 6-row panels of outputs */
    int32_t th, tw;        /* tiles per image row / column */
    int64_t p, t;          /* tiles per image, tiles in the batch */
    int32_t tb;            /* tiles per forward block (multiple of WL) */
    int64_t tw_max;        /* wide schedule: tiles per group at most (multiple of WL) */
} wg_geo;

static void wg_geo_init(wg_geo *g, const moco_conv_shape *s, int32_t m, int32_t o, int32_t r) {
    g->m = m;
    g->a = m + 2;
    g->a2 = g->a * g->a;
    g->n = s->n;
    g->h = s->h;
    g->w = s->w;
    g->o = o;
    g->r = r;
    g->op = (int32_t)ceil_div(o, 6);
    g->th = (int32_t)ceil_div(s->h, m);
    g->tw = (int32_t)ceil_div(s->w, m);
    g->p = (int64_t)g->th * g->tw;
    g->t = g->p * s->n;
    int64_t per16 = (int64_t)g->a2 * WL * (r + 6 * g->op);
    int64_t groups = WG_FWD_BUDGET / per16;
    if (groups < 1) groups = 1;
    if (groups > 32) groups = 32;
    g->tb = (int32_t)(groups * WL);
    int64_t wide = WG_WIDE_BUDGET / ((int64_t)g->a2 * (r + 6 * g->op)) / WL * WL;
    g->tw_max = wide < WL ? WL : wide;
}

/* One forward part's V (padded slices) and M buffers. */
static size_t wg_fwd_part_floats(const wg_geo *g) {
    return (size_t)g->a2 * ((size_t)g->tb * g->r + WG_XI_PAD + (size_t)g->tb * 6 * g->op);
}

/* The wide schedule's V (padded slices) and M for tw_max tiles. */
static size_t wg_wide_floats(const wg_geo *g) {
    return (size_t)g->a2 * ((size_t)g->tw_max * (g->r + 6 * g->op) + WG_XI_PAD);
}

static size_t wg_fwd_ws(const wg_geo *g, int32_t parts) {
    size_t ua = (size_t)g->a2 * g->op * 6 * g->r;
    size_t blocks = (size_t)parts * wg_fwd_part_floats(g), wide = wg_wide_floats(g);
    return ua + (blocks > wide ? blocks : wide);
}

/* dweight: tiles per block (a multiple of WL) so that the block's V and dM
 * fit WG_DW_BUDGET floats. */
static int64_t wg_dw_tiles(const wg_geo *g) {
    int64_t per_tile = (int64_t)g->a2 * ((int64_t)g->r + g->o);
    int64_t tbw = WG_DW_BUDGET / per_tile / WL * WL;
    return tbw < WL ? WL : tbw;
}

/* dweight: one product part's scratch, V[xi] in 16-channel panels and 6
 * zero-padded rows of dM. */
static size_t wg_dw_pack_floats(const wg_geo *g) {
    return (size_t)(ceil_div(g->r, 16) * 16 + 6) * (size_t)wg_dw_tiles(g);
}

static size_t wg_dw_ws(const wg_geo *g) {
    size_t du = (size_t)g->a2 * g->o * g->r;
    return du + (size_t)g->a2 * (wg_dw_tiles(g) * ((size_t)g->r + g->o) + 2 * WG_XI_PAD) +
           (size_t)MOCO_POOL_MAX_THREADS * MOCO_POOL_PARTS_PER_THREAD * wg_dw_pack_floats(g);
}

size_t moco_wg_workspace(const moco_conv_shape *s0, int32_t m) {
    moco_conv_shape s = *s0;
    wg_geo f, b;
    wg_geo_init(&f, &s, m, s.c_out, s.c_in);
    wg_geo_init(&b, &s, m, s.c_in, s.c_out);
    size_t a = wg_fwd_ws(&f, MOCO_POOL_MAX_THREADS), x = wg_fwd_ws(&b, MOCO_POOL_MAX_THREADS);
    size_t w = wg_dw_ws(&f);
    if (x > a) a = x;
    return w > a ? w : a;
}

#if defined(MOCO_HAVE_AVX2_KERNELS)
#include <immintrin.h>

#include "mkernel.h"

/* ---- 1-D transforms on WL lanes ---------------------------------------- */
/* y[i * ys] (i < rows of the matrix) = sum_j M[i][j] x[j * xs], lane-wise.
 * Named after the matrix: BT (input), AT (output), G (weights), GT
 * (dweight back from dU), A (dY into dM). */
#define LANES for (int l = 0; l < WL; l++)

static inline void bt2(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float d0 = x[l], d1 = x[xs + l], d2 = x[2 * xs + l], d3 = x[3 * xs + l];
        y[l] = d0 - d2;
        y[ys + l] = d1 + d2;
        y[2 * ys + l] = d2 - d1;
        y[3 * ys + l] = d1 - d3;
    }
}
static inline void at2(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float m0 = x[l], m1 = x[xs + l], m2 = x[2 * xs + l], m3 = x[3 * xs + l];
        y[l] = m0 + m1 + m2;
        y[ys + l] = m1 - m2 - m3;
    }
}
static inline void g2(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float g0 = x[l], g1 = x[xs + l], g2v = x[2 * xs + l];
        y[l] = g0;
        y[ys + l] = 0.5f * (g0 + g1 + g2v);
        y[2 * ys + l] = 0.5f * (g0 - g1 + g2v);
        y[3 * ys + l] = g2v;
    }
}
static inline void gt2(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float u0 = x[l], u1 = x[xs + l], u2 = x[2 * xs + l], u3 = x[3 * xs + l];
        y[l] = u0 + 0.5f * (u1 + u2);
        y[ys + l] = 0.5f * (u1 - u2);
        y[2 * ys + l] = 0.5f * (u1 + u2) + u3;
    }
}
static inline void a2t(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float y0 = x[l], y1 = x[xs + l];
        y[l] = y0;
        y[ys + l] = y0 + y1;
        y[2 * ys + l] = y0 - y1;
        y[3 * ys + l] = -y1;
    }
}

static inline void bt4(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float d0 = x[l], d1 = x[xs + l], d2 = x[2 * xs + l], d3 = x[3 * xs + l],
              d4 = x[4 * xs + l], d5 = x[5 * xs + l];
        float p = d4 - 4.0f * d2, q = d3 - 4.0f * d1;   /* rows 1, 2 */
        float r = d4 - d2, s = 2.0f * (d3 - d1);         /* rows 3, 4 */
        y[l] = 4.0f * d0 - 5.0f * d2 + d4;
        y[ys + l] = p + q;
        y[2 * ys + l] = p - q;
        y[3 * ys + l] = r + s;
        y[4 * ys + l] = r - s;
        y[5 * ys + l] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}
static inline void at4(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float m0 = x[l], m1 = x[xs + l], m2 = x[2 * xs + l], m3 = x[3 * xs + l],
              m4 = x[4 * xs + l], m5 = x[5 * xs + l];
        float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        y[l] = m0 + s12 + s34;
        y[ys + l] = d12 + 2.0f * d34;
        y[2 * ys + l] = s12 + 4.0f * s34;
        y[3 * ys + l] = d12 + 8.0f * d34 + m5;
    }
}
static inline void g4(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float g0 = x[l], g1 = x[xs + l], g2v = x[2 * xs + l];
        y[l] = 0.25f * g0;
        y[ys + l] = (-1.0f / 6.0f) * (g0 + g1 + g2v);
        y[2 * ys + l] = (-1.0f / 6.0f) * (g0 - g1 + g2v);
        y[3 * ys + l] = (1.0f / 24.0f) * g0 + (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2v;
        y[4 * ys + l] = (1.0f / 24.0f) * g0 - (1.0f / 12.0f) * g1 + (1.0f / 6.0f) * g2v;
        y[5 * ys + l] = g2v;
    }
}
static inline void gt4(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float u0 = x[l], u1 = x[xs + l], u2 = x[2 * xs + l], u3 = x[3 * xs + l],
              u4 = x[4 * xs + l], u5 = x[5 * xs + l];
        y[l] = 0.25f * u0 - (1.0f / 6.0f) * (u1 + u2) + (1.0f / 24.0f) * (u3 + u4);
        y[ys + l] = (1.0f / 6.0f) * (u2 - u1) + (1.0f / 12.0f) * (u3 - u4);
        y[2 * ys + l] = (1.0f / 6.0f) * (u3 + u4 - u1 - u2) + u5;
    }
}
static inline void a4t(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs) {
    LANES {
        float y0 = x[l], y1 = x[xs + l], y2 = x[2 * xs + l], y3 = x[3 * xs + l];
        float e = y0 + y2, o = y1 + y3, e4 = y0 + 4.0f * y2, o8 = 2.0f * y1 + 8.0f * y3;
        y[l] = y0;
        y[ys + l] = e + o;
        y[2 * ys + l] = e - o;
        y[3 * ys + l] = e4 + o8;
        y[4 * ys + l] = e4 - o8;
        y[5 * ys + l] = y3;
    }
}

/* 2-D: out (no x no lanes) = T in T^T for in (ni x ni lanes), row-major
 * [row][col][lane]; tmp holds no x ni lanes. */
#define WG_2D(name, fn, ni, no)                                                    \
    static inline void name(float *restrict out, const float *restrict in) {       \
        float tmp[(no) * (ni) * WL];                                               \
        for (int j = 0; j < (ni); j++)                                             \
            fn(tmp + j * WL, (ni) * WL, in + j * WL, (ni) * WL);                   \
        for (int i = 0; i < (no); i++)                                             \
            fn(out + i * (no) * WL, WL, tmp + i * (ni) * WL, WL);                  \
    }
WG_2D(in2d_2, bt2, 4, 4)
WG_2D(out2d_2, at2, 4, 2)
WG_2D(w2d_2, g2, 3, 4)
WG_2D(dw2d_2, gt2, 4, 3)
WG_2D(dm2d_2, a2t, 2, 4)
WG_2D(in2d_4, bt4, 6, 6)
WG_2D(out2d_4, at4, 6, 4)
WG_2D(w2d_4, g4, 3, 6)
WG_2D(dw2d_4, gt4, 6, 3)
WG_2D(dm2d_4, a4t, 4, 6)

/* ---- gathers ------------------------------------------------------------ */
/* Lane l of a group of WL tiles: where its patch starts in an (h, w) plane
 * of image n (n = -1 past the last tile), and which rows / columns of the
 * a x a patch lie inside the image. */
typedef struct wg_lanes {
    int32_t n[WL], y0[WL], x0[WL];
    int8_t ilo[WL], ihi[WL], jlo[WL], jhi[WL];
    int8_t inside[WL];     /* the whole patch is inside */
} wg_lanes;

static void wg_lanes_init(wg_lanes *ln, const wg_geo *g, int64_t t0, int64_t t_end, int32_t ext) {
    for (int l = 0; l < WL; l++) {
        int64_t t = t0 + l;
        if (t >= t_end) {
            ln->n[l] = -1;
            ln->inside[l] = 0;
            continue;
        }
        int64_t r = t % g->p;
        int32_t y0 = (int32_t)(r / g->tw) * g->m - 1, x0 = (int32_t)(r % g->tw) * g->m - 1;
        ln->n[l] = (int32_t)(t / g->p);
        ln->y0[l] = y0;
        ln->x0[l] = x0;
        ln->ilo[l] = (int8_t)(y0 < 0 ? -y0 : 0);
        ln->jlo[l] = (int8_t)(x0 < 0 ? -x0 : 0);
        ln->ihi[l] = (int8_t)(y0 + ext > g->h ? g->h - y0 : ext);
        ln->jhi[l] = (int8_t)(x0 + ext > g->w ? g->w - x0 : ext);
        ln->inside[l] = ln->ilo[l] == 0 && ln->jlo[l] == 0 && ln->ihi[l] == ext &&
                        ln->jhi[l] == ext;
    }
}

/* d (a x a lanes) <- patches of channel c for the WL tiles of ln: per lane
 * and patch row, one masked load of the columns inside the image (never
 * touching memory outside them; a left-edge patch, jlo = 1, is shifted
 * into place), then 8 x 8 transposes put tiles into lanes. */
__attribute__((noinline)) static void wg_gather_tiles(float *restrict d,
                                                      const float *restrict src, int32_t c,
                                                      int32_t channels, const wg_geo *g,
                                                      const wg_lanes *ln) {
    const int32_t a = g->a, w = g->w;
    const size_t plane = (size_t)g->h * w;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i right1 = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
    for (int h8 = 0; h8 < WL; h8 += 8) {
        const float *row0[8];
        __m256i mask[8];
        ptrdiff_t plain_end[8];   /* row offsets up to this: a plain load */
        for (int q = 0; q < 8; q++) {
            const int l = h8 + q;
            if (ln->n[l] < 0) {
                row0[q] = NULL;
                continue;
            }
            /* the first inside column of the patch's first row (which may
             * lie above the image: only rows ilo .. ihi are read) */
            row0[q] = src + ((size_t)ln->n[l] * channels + c) * plane +
                      (ptrdiff_t)(ln->x0[l] + ln->jlo[l]);
            mask[q] = _mm256_cmpgt_epi32(_mm256_set1_epi32(ln->jhi[l] - ln->jlo[l]), iota);
            /* no padding on the right: the 8 floats from the first inside
             * column may be loaded whole (those past the patch are never
             * used) where they end inside the plane */
            plain_end[q] = ln->jhi[l] == a
                               ? (ptrdiff_t)plane - (ln->x0[l] + ln->jlo[l] + 8)
                               : PTRDIFF_MIN;
        }
        for (int i = 0; i < a; i++) {
            __m256 r[8];
            for (int q = 0; q < 8; q++) {
                const int l = h8 + q;
                if (!row0[q] || i < ln->ilo[l] || i >= ln->ihi[l]) {
                    r[q] = _mm256_setzero_ps();
                    continue;
                }
                const ptrdiff_t ro = (ptrdiff_t)(ln->y0[l] + i) * w;
                __m256 v = ro <= plain_end[q] ? _mm256_loadu_ps(row0[q] + ro)
                                              : _mm256_maskload_ps(row0[q] + ro, mask[q]);
                if (ln->jlo[l])
                    v = _mm256_blend_ps(_mm256_permutevar8x32_ps(v, right1), _mm256_setzero_ps(),
                                        0x01);
                r[q] = v;
            }
            mk_transpose8(r);
            for (int j = 0; j < a; j++) _mm256_storeu_ps(d + (i * a + j) * WL + h8, r[j]);
        }
    }
}

/* ---- weight transform into the packed A operand ------------------------ */
/* ua[((xi * op + o / 6) * r + rr) * 6 + o % 6] = (G g(o, rr) G^T)[xi], where
 * g(o, rr)[p][q] = w[base + o * so + rr * sr + p * sp + q * sq] with
 * sq = +-1, sp = 3 sq (a kernel's 9 taps contiguous, in order or reversed).
 * Rows o >= O (panel padding) are zero. */
typedef struct wg_wctx {
    const wg_geo *g;
    float *ua;
    const float *w;
    ptrdiff_t base, so, sr, sp, sq;
} wg_wctx;

/* gin[pq][l] = tap pq of lane l < lanes (0 past them), the 9 taps of lane l
 * being contiguous from t = t0 + l * sr: t[pq] (forward), or t[-pq] (rev,
 * din's rotated kernel). 8 taps per lane in one load, lanes into place by
 * transposes; tap 8 assembled in registers. */
static inline void wg_load_taps(float *restrict gin, const float *t0, ptrdiff_t sr, int lanes,
                                int rev) {
    const __m256i reverse = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    for (int h8 = 0; h8 < WL; h8 += 8) {
        __m256 r[8];
        float t8[8];
        for (int q = 0; q < 8; q++) {
            const int l = h8 + q;
            if (l >= lanes) {
                r[q] = _mm256_setzero_ps();
                t8[q] = 0.0f;
                continue;
            }
            const float *t = t0 + l * sr;
            if (rev) {
                r[q] = _mm256_permutevar8x32_ps(_mm256_loadu_ps(t - 7), reverse);
                t8[q] = t[-8];
            } else {
                r[q] = _mm256_loadu_ps(t);
                t8[q] = t[8];
            }
        }
        mk_transpose8(r);
        for (int pq = 0; pq < 8; pq++) _mm256_storeu_ps(gin + pq * WL + h8, r[pq]);
        _mm256_storeu_ps(gin + 8 * WL + h8, _mm256_setr_ps(t8[0], t8[1], t8[2], t8[3], t8[4],
                                                          t8[5], t8[6], t8[7]));
    }
}

__attribute__((noinline)) static void wg_weights_part(void *vctx, int32_t part, int32_t nparts) {
    const wg_wctx *c = vctx;
    const wg_geo *g = c->g;
    const int32_t a2 = g->a2, R = g->r;
    int64_t lo, hi;
    moco_part_range((int64_t)g->op * 6, part, nparts, 6, &lo, &hi);
    float gin[9 * WL], u[6][36 * WL];
    /* A panel's 6 rows at a time: each xi's 16 x 6 block of ua is then
     * written contiguously, and din's strided reads of the same weights
     * (one line per lane) are shared by the panel's rows. */
    for (int64_t o0 = lo; o0 < hi; o0 += 6) {
        for (int32_t r0 = 0; r0 < R; r0 += WL) {
            const int lanes = R - r0 < WL ? R - r0 : WL;
            for (int q6 = 0; q6 < 6; q6++) {
                const int64_t o = o0 + q6;
                if (o >= g->o) {
                    for (int i = 0; i < a2 * WL; i++) u[q6][i] = 0.0f;
                    continue;
                }
                wg_load_taps(gin, c->w + c->base + o * c->so + (ptrdiff_t)r0 * c->sr, c->sr,
                             lanes, c->sq < 0);
                if (g->m == 2)
                    w2d_2(u[q6], gin);
                else
                    w2d_4(u[q6], gin);
            }
            /* ua's 16 x 6 block of each xi: the 6 rows' lanes, transposed */
            for (int xi = 0; xi < a2; xi++)
                for (int h8 = 0; h8 < lanes; h8 += 8)
                    mk_pack6(c->ua + (((size_t)xi * g->op + o0 / 6) * R + r0 + h8) * 6,
                             u[0] + xi * WL + h8, 36 * WL, lanes - h8 < 8 ? lanes - h8 : 8,
                             _mm256_set1_ps(1.0f));
        }
    }
}

static void wg_weights(float *ua, const float *w, const wg_geo *g, ptrdiff_t base,
                       ptrdiff_t so, ptrdiff_t sr, ptrdiff_t sp, ptrdiff_t sq, int32_t nparts) {
    wg_wctx c = {g, ua, w, base, so, sr, sp, sq};
    /* small layers: a wake-up costs more than the work */
    moco_pool_run(wg_weights_part, &c, nparts, (int64_t)g->o * g->r < 4096);
}

/* ---- forward (also din) ------------------------------------------------ */
typedef struct wg_fctx {
    const wg_geo *g;
    float *out;             /* (n, o, h, w) */
    const float *in;        /* (n, r, h, w) */
    const float *ua;        /* packed U */
    float *ws;              /* per-part buffers */
    size_t part_stride;
    int32_t accumulate;     /* out += instead of = */
    int32_t nparts;
} wg_fctx;

/* F(2x2) fast paths for maps whose tile rows hold a multiple of 8 tiles and
 * whose sides are even (every CIFAR ResNet stage but the 4x4 one): the 8
 * tiles of a half group share an image and a tile row, so their patches are
 * the even / odd columns of 4 input rows (two shuffles per 8 lanes), and
 * their outputs interleave into 16 contiguous floats per output row. */
static int wg_rows_ok(const wg_geo *g) {
    return g->m == 2 && g->tw % 8 == 0 && g->w % 2 == 0 && g->h % 2 == 0;
}

/* even / odd elements of the 16 floats x, y (x first). */
static inline void wg_split(__m256 x, __m256 y, __m256 *even, __m256 *odd) {
    __m256 e = _mm256_shuffle_ps(x, y, 0x88), o = _mm256_shuffle_ps(x, y, 0xDD);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
}

static inline void wg_deinterleave(const float *p, __m256 *even, __m256 *odd) {
    wg_split(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), even, odd);
}

/* [0, p[0 .. 6]] and [p[1 .. 7], 0]: a row's first 8 patch values at its left
 * edge and its last 8 at its right edge, from loads inside the row.
 * (Masked loads that reach past the row were slower: they took 40% of the
 * gather's time.) */
static inline __m256 wg_shift_in_left(const float *p) {
    __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p),
                                        _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
    return _mm256_blend_ps(v, _mm256_setzero_ps(), 0x01);
}
static inline __m256 wg_shift_in_right(const float *p) {
    __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(p),
                                        _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
    return _mm256_blend_ps(v, _mm256_setzero_ps(), 0x80);
}

/* d (4 x 4 x WL) lanes [8 h, 8 h + 8) <- the patches of 8 tiles starting at
 * tile t (tx a multiple of 8) in channel c. */
static void wg_gather_row8(float *restrict d, const float *restrict src, int32_t c,
                           int32_t channels, const wg_geo *g, int64_t t, int h8) {
    const int32_t w = g->w;
    int64_t r = t % g->p;
    const int32_t n = (int32_t)(t / g->p);
    const int32_t y0 = (int32_t)(r / g->tw) * 2 - 1, x0 = (int32_t)(r % g->tw) * 2 - 1;
    const float *plane = src + ((size_t)n * channels + c) * (size_t)g->h * w;
    const int edge = x0 < 0 || x0 + 18 > w;
    for (int i = 0; i < 4; i++) {
        int32_t y = y0 + i;
        float *di = d + (size_t)i * 4 * WL + h8;
        if (y < 0 || y >= g->h) {
            for (int j = 0; j < 4; j++) _mm256_storeu_ps(di + j * WL, _mm256_setzero_ps());
            continue;
        }
        const float *row = plane + (size_t)y * w;
        __m256 e0, o0, e2, o2;
        if (!edge) {
            wg_deinterleave(row + x0, &e0, &o0);
            wg_deinterleave(row + x0 + 2, &e2, &o2);
        } else {
            /* The patch row p[0 .. 18) = row[x0 ..] crosses the left edge
             * (x0 = -1) or the right one (x0 + 17 = w), never further: x0
             * is 2 tx - 1 with tx + 8 <= tw, and w = 2 tw >= 16. */
            __m256 l0 = x0 < 0 ? wg_shift_in_left(row) : _mm256_loadu_ps(row + x0);
            __m256 l3 = x0 + 17 < w ? _mm256_loadu_ps(row + (x0 + 10))
                                    : wg_shift_in_right(row + (x0 + 9));
            wg_split(l0, _mm256_loadu_ps(row + (x0 + 8)), &e0, &o0);
            wg_split(_mm256_loadu_ps(row + (x0 + 2)), l3, &e2, &o2);
        }
        _mm256_storeu_ps(di, e0);
        _mm256_storeu_ps(di + WL, o0);
        _mm256_storeu_ps(di + 2 * WL, e2);
        _mm256_storeu_ps(di + 3 * WL, o2);
    }
}

/* Prefetches the input rows wg_gather_row8 reads for tile t, channel c:
 * each patch row touches each plane once per channel, so without it every
 * group starts on cache misses (the gather's loads were most of its time). */
static inline void wg_prefetch_row8(const float *src, int32_t c, int32_t channels,
                                    const wg_geo *g, int64_t t) {
    const int32_t w = g->w;
    int64_t r = t % g->p;
    const int32_t n = (int32_t)(t / g->p);
    const int32_t y0 = (int32_t)(r / g->tw) * 2 - 1, x0 = (int32_t)(r % g->tw) * 2;
    const float *plane = src + ((size_t)n * channels + c) * (size_t)g->h * w;
    for (int i = 0; i < 4; i++) {
        int32_t y = y0 + i;
        if (y < 0 || y >= g->h) continue;
        const char *row = (const char *)(plane + (size_t)y * w + x0);
        _mm_prefetch(row, _MM_HINT_T0);
        _mm_prefetch(row + 64, _MM_HINT_T0);   /* x0 .. x0 + 16: at most 2 lines past x0 */
    }
}

/* The same for wg_gather_tiles's patches of channel c: the rows of every
 * lane that starts a run of up to 4 tiles in a tile row (the run's patches
 * span at most 4 m + 2 <= 18 floats: 2 lines from its first column). */
static inline void wg_prefetch_lanes(const float *src, int32_t c, int32_t channels,
                                     const wg_geo *g, const wg_lanes *ln) {
    const int32_t w = g->w, step = g->tw < 4 ? g->tw : 4;
    const size_t plane = (size_t)g->h * w;
    for (int l = 0; l < WL; l += step) {
        if (ln->n[l] < 0) break;
        const float *p = src + ((size_t)ln->n[l] * channels + c) * plane +
                         (ptrdiff_t)(ln->x0[l] + ln->jlo[l]);
        for (int i = ln->ilo[l]; i < ln->ihi[l]; i++) {
            const char *row = (const char *)(p + (ptrdiff_t)(ln->y0[l] + i) * w);
            _mm_prefetch(row, _MM_HINT_T0);
            _mm_prefetch(row + 64, _MM_HINT_T0);
        }
    }
}

/* The m x m output squares of a group's tiles in channel k of a (n, K, h, w)
 * tensor: where each starts (NULL past the last tile), its rows inside the
 * image, and a load / store mask of its columns inside. */
typedef struct wg_otiles {
    float *o[WL];
    int32_t mi[WL];
    int32_t full[WL];      /* the whole m x m square is inside */
    __m256i mask[WL];
} wg_otiles;

static inline void wg_out_tiles(wg_otiles *ot, const wg_geo *g, const wg_lanes *ln,
                                const float *t, int32_t k, int32_t K) {
    const int32_t m = g->m, w = g->w;
    const size_t plane = (size_t)g->h * w;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int l = 0; l < WL; l++) {
        if (ln->n[l] < 0) {
            ot->o[l] = NULL;
            continue;
        }
        int32_t y0 = ln->y0[l] + 1, x0 = ln->x0[l] + 1;
        ot->o[l] = (float *)t + ((size_t)ln->n[l] * K + k) * plane + (size_t)y0 * w + x0;
        ot->mi[l] = g->h - y0 < m ? g->h - y0 : m;
        ot->full[l] = ot->mi[l] == m && w - x0 >= m;
        ot->mask[l] = _mm256_cmpgt_epi32(_mm256_set1_epi32(w - x0 < m ? w - x0 : m), iota);
    }
}

/* The m floats of a row of a full output square (m = 2 or 4) as the low
 * lanes of a vector (the others zero), and back. Plain 64 / 128-bit moves:
 * masked ones cost several times more. */
static inline __m256 wg_load_m(const float *p, int32_t m) {
    __m128 x = m == 4 ? _mm_loadu_ps(p) : _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)p);
    return _mm256_zextps128_ps256(x);
}
static inline void wg_store_m(float *p, __m256 v, int32_t m) {
    if (m == 4)
        _mm_storeu_ps(p, _mm256_castps256_ps128(v));
    else
        _mm_storel_pi((__m64 *)p, _mm256_castps256_ps128(v));
}

/* Prefetches the rows of ot's squares moved on by off floats (the next
 * channel) for every lane that starts a run of up to 4 tiles in a tile row
 * (at most 4 m floats: 2 lines). */
static inline void wg_prefetch_out(const wg_otiles *ot, size_t off, const wg_geo *g) {
    const int32_t w = g->w, step = g->tw < 4 ? g->tw : 4;
    for (int l = 0; l < WL; l += step) {
        if (!ot->o[l]) break;
        for (int i = 0; i < ot->mi[l]; i++) {
            const char *row = (const char *)(ot->o[l] + off + (size_t)i * w);
            _mm_prefetch(row, _MM_HINT_T0);
            _mm_prefetch(row + 60, _MM_HINT_T0);
        }
    }
}

/* d (m x m lanes) <- the squares of ot, moved on by off floats (another
 * channel), zero outside the image. */
static inline void wg_gather_out(float *restrict d, const wg_otiles *ot, size_t off,
                                 const wg_geo *g) {
    const int32_t m = g->m, w = g->w;
    for (int h8 = 0; h8 < WL; h8 += 8)
        for (int i = 0; i < m; i++) {
            __m256 r[8];
            for (int q = 0; q < 8; q++) {
                const int l = h8 + q;
                const float *p = ot->o[l] + off + (size_t)i * w;
                r[q] = !ot->o[l] || i >= ot->mi[l] ? _mm256_setzero_ps()
                       : ot->full[l]               ? wg_load_m(p, m)
                                                   : _mm256_maskload_ps(p, ot->mask[l]);
            }
            mk_transpose8(r);
            for (int j = 0; j < m; j++) _mm256_storeu_ps(d + (i * m + j) * WL + h8, r[j]);
        }
}

/* The squares of ot moved on by off floats (=, or += when accumulate) y
 * (m x m lanes), inside the image only. */
static inline void wg_scatter_out(const wg_otiles *ot, size_t off, const float *y,
                                  const wg_geo *g, int32_t accumulate) {
    const int32_t m = g->m, w = g->w;
    for (int h8 = 0; h8 < WL; h8 += 8)
        for (int i = 0; i < m; i++) {
            __m256 r[8];
            for (int j = 0; j < 8; j++)
                r[j] = j < m ? _mm256_loadu_ps(y + (i * m + j) * WL + h8) : _mm256_setzero_ps();
            mk_transpose8(r);
            for (int q = 0; q < 8; q++) {
                const int l = h8 + q;
                if (!ot->o[l] || i >= ot->mi[l]) continue;
                float *p = ot->o[l] + off + (size_t)i * w;
                if (ot->full[l]) {
                    wg_store_m(p, accumulate ? _mm256_add_ps(wg_load_m(p, m), r[q]) : r[q], m);
                    continue;
                }
                __m256 v = accumulate ? _mm256_add_ps(_mm256_maskload_ps(p, ot->mask[l]), r[q])
                                      : r[q];
                _mm256_maskstore_ps(p, ot->mask[l], v);
            }
        }
}

/* F(2x2) output of 8 tiles starting at tile t (tx a multiple of 8) in
 * channel k, from their M[xi] (xi = 4 i + j) at mk[xi * xs]: Y = A^T M A
 * in registers (the additions of at2 in out2d_2, in the same order), its
 * 2 rows of 16 outputs interleaved into place. */
static inline void wg_output_row8(float *restrict out, const float *restrict mk, size_t xs,
                                  int32_t k, int32_t channels, const wg_geo *g, int64_t t,
                                  int accumulate) {
    const int32_t w = g->w;
    int64_t r = t % g->p;
    const int32_t n = (int32_t)(t / g->p);
    const int32_t oy = (int32_t)(r / g->tw) * 2, ox = (int32_t)(r % g->tw) * 2;
    float *o = out + ((size_t)n * channels + k) * (size_t)g->h * w + (size_t)oy * w + ox;
    __m256 t0[4], t1[4];
    for (int j = 0; j < 4; j++) {
        __m256 m0 = _mm256_loadu_ps(mk + (size_t)j * xs), m1 = _mm256_loadu_ps(mk + (size_t)(4 + j) * xs);
        __m256 m2 = _mm256_loadu_ps(mk + (size_t)(8 + j) * xs), m3 = _mm256_loadu_ps(mk + (size_t)(12 + j) * xs);
        t0[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        t1[j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    for (int i = 0; i < 2; i++, o += w) {
        const __m256 *ti = i ? t1 : t0;
        __m256 a = _mm256_add_ps(_mm256_add_ps(ti[0], ti[1]), ti[2]);
        __m256 b = _mm256_sub_ps(_mm256_sub_ps(ti[1], ti[2]), ti[3]);
        __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
        __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20);
        __m256 second = _mm256_permute2f128_ps(lo, hi, 0x31);
        if (accumulate) {
            first = _mm256_add_ps(first, _mm256_loadu_ps(o));
            second = _mm256_add_ps(second, _mm256_loadu_ps(o + 8));
        }
        _mm256_storeu_ps(o, first);
        _mm256_storeu_ps(o + 8, second);
    }
}

/* vb[xi * xs + tp * ts + rr * rs + lane], xs = wg_xi_stride(ntp * R * 16), = (B^T d B)[xi] for the
 * patches of channel rr of the tiles t0 + 16 tp + lane < t0 + nt (zero for
 * lanes past the end), for panels tp in [tp_lo, tp_hi) of the ceil(nt / 16)
 * of the block. ts, rs: R * 16, 16 for the forward's packed B operand
 * (panels of 16 tiles); 16, ntp * 16 for dweight (rows of tiles). */
__attribute__((noinline)) static void wg_input_tiles(float *vb, const float *src, int32_t R,
                                                     const wg_geo *g, int64_t t0, int64_t nt,
                                                     int64_t tp_lo, int64_t tp_hi, int64_t ts,
                                                     int64_t rs) {
    const int32_t a = g->a, a2 = g->a2, m = g->m;
    const int64_t ntp = ceil_div(nt, WL), xs = wg_xi_stride(ntp * R * WL);
    float d[36 * WL], v[36 * WL];
    wg_lanes ln;
    const int rows_ok = wg_rows_ok(g);
    for (int64_t tp = tp_lo; tp < tp_hi; tp++) {
        const int64_t tg = t0 + tp * WL;
        const int rows = rows_ok && tg + WL <= t0 + nt;
        if (!rows) wg_lanes_init(&ln, g, tg, t0 + nt, a);
        /* the next group's rows, fetched while this one is transformed */
        const int ahead = rows && tp + 1 < tp_hi && tg + 2 * WL <= t0 + nt;
        for (int32_t rr = 0; rr < R; rr++) {
            if (ahead) {
                wg_prefetch_row8(src, rr, R, g, tg + WL);
                wg_prefetch_row8(src, rr, R, g, tg + WL + 8);
            }
            if (rows) {
                wg_gather_row8(d, src, rr, R, g, tg, 0);
                wg_gather_row8(d, src, rr, R, g, tg + 8, 8);
            } else {
                /* the next channel's patches: a new plane, where the
                 * hardware's stream prefetch starts over */
                if (rr + 1 < R) wg_prefetch_lanes(src, rr + 1, R, g, &ln);
                wg_gather_tiles(d, src, rr, R, g, &ln);
            }
            if (m == 2)
                in2d_2(v, d);
            else
                in2d_4(v, d);
            for (int xi = 0; xi < a2; xi++) {
                float *dst = vb + (size_t)xi * xs + tp * ts + rr * rs;
                const float *sv = v + xi * WL;
                LANES dst[l] = sv[l];
            }
        }
    }
}

/* db[xi][k][tp][lane] = (A dY A^T)[xi] for the m x m output tiles of
 * channel k of dy (zero outside the map and past the end), as above. */
__attribute__((noinline)) static void wg_dm_tiles(float *db, const float *dy, int32_t K,
                                                  const wg_geo *g, int64_t t0, int64_t nt,
                                                  int64_t tp_lo, int64_t tp_hi) {
    const int32_t a2 = g->a2, m = g->m, w = g->w;
    const int64_t ntp = ceil_div(nt, WL), xs = wg_xi_stride(ntp * K * WL);
    const size_t plane = (size_t)g->h * w;
    float d[16 * WL], v[36 * WL];
    wg_lanes ln;
    wg_otiles ot;
    const int rows_ok = wg_rows_ok(g);
    for (int64_t tp = tp_lo; tp < tp_hi; tp++) {
        const int64_t tg = t0 + tp * WL;
        const int rows = rows_ok && tg + WL <= t0 + nt;
        wg_lanes_init(&ln, g, tg, t0 + nt, m);
        if (!rows) wg_out_tiles(&ot, g, &ln, dy, 0, K);
        for (int32_t k = 0; k < K; k++) {
            if (rows) {
                /* 8 tiles of a tile row: 2 rows of 16 contiguous outputs */
                for (int h8 = 0; h8 < WL; h8 += 8) {
                    int64_t t = tg + h8, r = t % g->p;
                    const float *o = dy + ((size_t)(t / g->p) * K + k) * plane +
                                     (size_t)(r / g->tw) * 2 * w + (size_t)(r % g->tw) * 2;
                    for (int i = 0; i < 2; i++) {
                        __m256 e, od;
                        wg_deinterleave(o + (size_t)i * w, &e, &od);
                        _mm256_storeu_ps(d + (i * 2) * WL + h8, e);
                        _mm256_storeu_ps(d + (i * 2 + 1) * WL + h8, od);
                    }
                }
            } else {
                if (k + 1 < K) wg_prefetch_out(&ot, (size_t)(k + 1) * plane, g);
                wg_gather_out(d, &ot, (size_t)k * plane, g);
            }
            if (m == 2)
                dm2d_2(v, d);
            else
                dm2d_4(v, d);
            for (int xi = 0; xi < a2; xi++) {
                float *dst = db + (size_t)xi * xs + ((size_t)k * ntp + tp) * WL;
                const float *sv = v + xi * WL;
                LANES dst[l] = sv[l];
            }
        }
    }
}

/* M[xi] (op*6, ntp*16) = U[xi] . V[xi], for the (xi, 6-row panel) units
 * u = xi * op + kp in [u_lo, u_hi) */
__attribute__((noinline)) static void wg_fwd_gemm(const wg_fctx *c, const float *vb, float *mb,
                                                  int64_t nt, int64_t u_lo, int64_t u_hi) {
    const wg_geo *g = c->g;
    const int32_t R = g->r, OP = g->op;
    const int64_t ntp = ceil_div(nt, WL), ldm = ntp * WL, xs = wg_xi_stride(ntp * R * WL);
    for (int64_t u = u_lo; u < u_hi; u++) {
        const int64_t xi = u / OP, kp = u % OP;
        const float *ap = c->ua + (size_t)u * R * 6;
        for (int64_t tp = 0; tp < ntp; tp++)
            mk_kernel_6x16(R, ap, vb + (size_t)xi * xs + (size_t)tp * R * WL,
                           mb + ((size_t)xi * OP * 6 + (size_t)kp * 6) * ldm + tp * WL, ldm, 0);
    }
}

/* Y = A^T M A, scattered to the output planes, for the panels of 16 tiles
 * tp in [tp_lo, tp_hi) of the group of nt tiles at t0 */
__attribute__((noinline)) static void wg_fwd_output(const wg_fctx *c, const float *mb,
                                                    int64_t t0, int64_t nt, int64_t tp_lo,
                                                    int64_t tp_hi) {
    const wg_geo *g = c->g;
    const int32_t a = g->a, a2 = g->a2, m = g->m, O = g->o, OP = g->op;
    const int64_t ntp = ceil_div(nt, WL), ldm = ntp * WL;
    const size_t plane = (size_t)g->h * g->w;
    float mm[36 * WL], y[16 * WL];
    wg_lanes ln;
    wg_otiles ot;
    const int rows_ok = wg_rows_ok(g);
    for (int64_t tp = tp_lo; tp < tp_hi; tp++) {
        const int64_t tg = t0 + tp * WL;
        const int rows = rows_ok && tg + WL <= t0 + nt;
        wg_lanes_init(&ln, g, tg, t0 + nt, a);
        if (!rows) wg_out_tiles(&ot, g, &ln, c->out, 0, O);
        for (int32_t k = 0; k < O; k++) {
            if (rows) {
                for (int h8 = 0; h8 < WL; h8 += 8)
                    wg_output_row8(c->out, mb + (size_t)k * ldm + tp * WL + h8,
                                   (size_t)OP * 6 * ldm, k, O, g, tg + h8, c->accumulate);
                continue;
            }
            for (int xi = 0; xi < a2; xi++) {
                const float *s = mb + ((size_t)xi * OP * 6 + k) * ldm + tp * WL;
                float *dd = mm + xi * WL;
                LANES dd[l] = s[l];
            }
            if (m == 2)
                out2d_2(y, mm);
            else
                out2d_4(y, mm);
            if (k + 1 < O) wg_prefetch_out(&ot, (size_t)(k + 1) * plane, g);
            wg_scatter_out(&ot, (size_t)k * plane, y, g, c->accumulate);
        }
    }
}

static void wg_fwd_block(const wg_fctx *c, float *vb, float *mb, int64_t t0, int64_t nt) {
    wg_input_tiles(vb, c->in, c->g->r, c->g, t0, nt, 0, ceil_div(nt, WL), (int64_t)c->g->r * WL,
                   WL);
    const int64_t ntp = ceil_div(nt, WL);
    wg_fwd_gemm(c, vb, mb, nt, 0, (int64_t)c->g->a2 * c->g->op);
    wg_fwd_output(c, mb, t0, nt, 0, ntp);
}

static void wg_fwd_part(void *vctx, int32_t part, int32_t nparts) {
    const wg_fctx *c = vctx;
    const wg_geo *g = c->g;
    /* blocks no larger than tb, and at least one per part when possible */
    int64_t tb = g->tb;
    int64_t per_part = ceil_div(ceil_div(g->t, nparts), WL) * WL;
    if (per_part < tb) tb = per_part;
    int64_t nblocks = ceil_div(g->t, tb);
    int64_t b0, b1;
    moco_part_range(nblocks, part, nparts, 1, &b0, &b1);
    float *vb = c->ws + (size_t)part * c->part_stride;
    float *mb = vb + (size_t)g->a2 * ((size_t)g->tb * g->r + WG_XI_PAD);
    for (int64_t b = b0; b < b1; b++) {
        int64_t t0 = b * tb, nt = g->t - t0 < tb ? g->t - t0 : tb;
        wg_fwd_block(c, vb, mb, t0, nt);
    }
}

/* The wide schedule: one phase (0 input transform, 1 products, 2 output
 * transform) of a group of nt tiles at t0, each phase split over the parts
 * (by 16-tile panels, or by (xi, 6-row panel) units). */
typedef struct wg_xctx {
    const wg_fctx *c;
    float *vb, *mb;
    int64_t t0, nt;
    int32_t phase;
} wg_xctx;

static void wg_wide_part(void *vctx, int32_t part, int32_t nparts) {
    const wg_xctx *x = vctx;
    const wg_fctx *c = x->c;
    const wg_geo *g = c->g;
    const int64_t ntp = ceil_div(x->nt, WL);
    int64_t lo, hi;
    if (x->phase == 1) {
        moco_part_range((int64_t)g->a2 * g->op, part, nparts, 1, &lo, &hi);
        wg_fwd_gemm(c, x->vb, x->mb, x->nt, lo, hi);
        return;
    }
    moco_part_range(ntp, part, nparts, 1, &lo, &hi);
    if (x->phase == 0)
        wg_input_tiles(x->vb, c->in, g->r, g, x->t0, x->nt, lo, hi, (int64_t)g->r * WL, WL);
    else
        wg_fwd_output(c, x->mb, x->t0, x->nt, lo, hi);
}

/* Which schedule. Blocks: each part transforms, multiplies and writes back
 * its own blocks of tiles, which stay in its cache, but every block reads
 * all of U, so U is read once per block: with few tiles per block (deep
 * layers: large U, small maps, or blocks cut small to give 8 parts work)
 * the products wait for U. Wide: the parts transform every tile of a large
 * group first, then share the products by (xi, output panel), so that U is
 * read once per group, then transform the outputs. The sums are the same
 * in both (same 16-tile panels, same kernel calls): the results too. */
static int wg_wide(const wg_geo *g) {
    /* wide where U is larger than the batch's V and M: on ResNet-18 at
     * batch 32, the 4x4 maps of layer4 (F(2x2): U 16 MiB, V + M 8 MiB) and,
     * just, layer3's F(4x4) input gradient on 8x8 maps */
    return (int64_t)g->op * 6 * g->r > ceil_div(g->t, WL) * WL * (g->r + 6 * g->op) &&
           !moco_fast_off("wide");
}

int moco_wg_wide(const moco_conv_shape *s, int32_t m, int din) {
    wg_geo g;
    wg_geo_init(&g, s, m, din ? s->c_in : s->c_out, din ? s->c_out : s->c_in);
    return wg_wide(&g);
}

/* out (n, o, h, w) (+)= conv of in (n, r, h, w) with packed weights ua. */
static void wg_run(const wg_geo *g, float *out, const float *in, const float *ua, float *ws,
                   int32_t accumulate, int32_t nparts) {
    wg_fctx c = {g, out, in, ua, ws, wg_fwd_part_floats(g),
                 accumulate, nparts};
    const int serial = g->t * g->o * g->r < 65536;
    if (!wg_wide(g)) {
        moco_pool_run(wg_fwd_part, &c, nparts, serial);
        return;
    }
    /* groups of equal size, at most tw_max tiles */
    const int64_t groups = ceil_div(g->t, g->tw_max);
    const int64_t tg = ceil_div(ceil_div(g->t, groups), WL) * WL;
    wg_xctx x = {&c, ws, ws + (size_t)g->a2 * ((size_t)tg * g->r + WG_XI_PAD), 0, 0, 0};
    for (x.t0 = 0; x.t0 < g->t; x.t0 += tg) {
        x.nt = g->t - x.t0 < tg ? g->t - x.t0 : tg;
        for (x.phase = 0; x.phase < 3; x.phase++) moco_pool_run(wg_wide_part, &x, nparts, serial);
    }
}

void moco_wg_forward(float *out, const float *in, const float *weight, float *ws,
                     const moco_conv_shape *s, int32_t m) {
    wg_geo g;
    wg_geo_init(&g, s, m, s->c_out, s->c_in);
    const int32_t nparts = moco_pool_parts();
    float *ua = ws;
    /* g(o = k, r = c)[p][q] = w[k][c][p][q] */
    wg_weights(ua, weight, &g, 0, (ptrdiff_t)s->c_in * 9, 9, 3, 1, nparts);
    wg_run(&g, out, in, ua, ws + (size_t)g.a2 * g.op * 6 * g.r, 0, nparts);
}

/* ---- dweight ------------------------------------------------------------ */
static inline float wg_hsum(__m256 v) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

/* c (6 x 16) (+)= 6 rows of dm (row stride dr) . bp (packed 16-wide) over
 * n tiles: the 6x16 kernel broadcasting straight from the dm rows. */
__attribute__((noinline)) static void mk_kernel_6x16_rows(int64_t n, const float *restrict dm,
                                                          int64_t dr, const float *restrict bp,
                                                          float *restrict c, int64_t ldc,
                                                          int accumulate) {
    mk_kernel_6x16_body(n, dm, dr, 1, bp, c, ldc, accumulate);
}

typedef struct wg_dctx {
    const wg_geo *g;
    const float *dout, *in;
    float *du, *vb, *db;
    float *dweight;
    float *pack;           /* per part: wg_dw_pack_floats */
    int64_t t0, nt;
    int32_t first;
} wg_dctx;

/* Transforms of one block, split by panels of 16 tiles and, within a
 * panel, input (V) and output-gradient (dM) transforms: a block of 4
 * panels still gives 8 parts something to do. */
static void wg_dw_transform_part(void *vctx, int32_t part, int32_t nparts) {
    const wg_dctx *c = vctx;
    const int64_t ntp = ceil_div(c->nt, WL);
    int64_t lo, hi;
    moco_part_range(2 * ntp, part, nparts, 1, &lo, &hi);
    for (int64_t u = lo; u < hi; u++) {
        const int64_t tp = u >> 1;
        if (u & 1)
            wg_dm_tiles(c->db, c->dout, c->g->o, c->g, c->t0, c->nt, tp, tp + 1);
        else
            wg_input_tiles(c->vb, c->in, c->g->r, c->g, c->t0, c->nt, tp, tp + 1, WL,
                           ntp * WL);
    }
}

/* Tiles per product of the weight gradient: each dU element adds one 6x16
 * kernel's sequential sum over this many tiles at a time, so its rounding
 * error grows like a sum of this length plus the number of chunks, not
 * like the block's length. */
#define WG_DW_CHUNK 64

/* bp[cb][t][16] <- v[c][t] (rows of n floats, row stride n; n a multiple
 * of 8) for the 16 channels cb*16 .. of C, zero beyond C. */
static void wg_dw_pack_v(float *bp, const float *v, int32_t C, int64_t n) {
    const __m256 zero = _mm256_setzero_ps();
    for (int32_t c0 = 0; c0 < C; c0 += 16) {
        float *dst = bp + (size_t)c0 * n;
        for (int64_t t = 0; t < n; t += 8)
            for (int half = 0; half < 2; half++) {
                __m256 r[8];
                for (int i = 0; i < 8; i++) {
                    int32_t cc = c0 + half * 8 + i;
                    r[i] = cc < C ? _mm256_loadu_ps(v + (size_t)cc * n + t) : zero;
                }
                mk_transpose8(r);
                for (int i = 0; i < 8; i++)
                    _mm256_storeu_ps(dst + (size_t)(t + i) * 16 + half * 8, r[i]);
            }
    }
}

/* dU rows k0 .. k0 + kr (kr <= 6), columns c0 .. c0 + cr (cr <= 16) (+)=
 * dm rows . bp panel over n tiles, in chunks of WG_DW_CHUNK. dm has 6
 * readable rows (a partial panel comes zero-padded, see wg_dw_gemm_part);
 * partial blocks go through a 6 x 16 buffer. */
static void wg_dw_tile(float *du, int64_t ldu, const float *dm, int64_t dr, const float *bp,
                       int64_t n, int32_t kr, int32_t cr, int first) {
    const int full = kr == 6 && cr == 16;
    float tmp[6 * 16];
    float *c = full ? du : tmp;
    const int64_t ldc = full ? ldu : 16;
    for (int64_t t = 0; t < n; t += WG_DW_CHUNK) {
        int64_t len = n - t < WG_DW_CHUNK ? n - t : WG_DW_CHUNK;
        int acc = full ? !(first && t == 0) : t > 0;
        mk_kernel_6x16_rows(len, dm + t, dr, bp + (size_t)t * 16, c, ldc, acc);
    }
    if (!full)
        for (int32_t i = 0; i < kr; i++)
            for (int32_t j = 0; j < cr; j++) {
                float *o = du + (size_t)i * ldu + j;
                *o = first ? tmp[i * 16 + j] : *o + tmp[i * 16 + j];
            }
}

/* Row groups of dU per transform index in the product's work split: 36 or
 * 16 indices alone leave 8 parts uneven (4 or 5 each); 4 groups per index
 * even them out. No sum is divided: each dU element is one group's. */
#define WG_DW_KGROUPS 4

/* dU[xi] (o, r) (+)= dM[xi] . V[xi]^T over the block, split by (xi, group
 * of 6-row panels of dU): V[xi] transposed into 16-channel panels once per
 * xi a part meets, then 6x16 kernels over the tiles. */
static void wg_dw_gemm_part(void *vctx, int32_t part, int32_t nparts) {
    const wg_dctx *c = vctx;
    const wg_geo *g = c->g;
    const int32_t K = g->o, C = g->r;
    const int64_t ntp = ceil_div(c->nt, WL);
    /* rows of ntp panels: panel stride 16, row stride ntp * 16 */
    const int64_t row = ntp * WL;
    const int64_t kpanels = ceil_div(K, 6);
    const int64_t kgroups = kpanels < WG_DW_KGROUPS ? kpanels : WG_DW_KGROUPS;
    float *bp = c->pack + (size_t)part * wg_dw_pack_floats(g);
    float *pad_rows = bp + (size_t)ceil_div(C, 16) * 16 * wg_dw_tiles(g);
    int64_t lo, hi, packed = -1;
    moco_part_range(g->a2 * kgroups, part, nparts, 1, &lo, &hi);
    for (int64_t u = lo; u < hi; u++) {
        const int64_t xi = u / kgroups, kg = u % kgroups;
        const float *dm = c->db + (size_t)xi * wg_xi_stride(ntp * K * WL);
        float *du = c->du + (size_t)xi * K * C;
        if (packed != xi) {
            wg_dw_pack_v(bp, c->vb + (size_t)xi * wg_xi_stride(ntp * C * WL), C, row);
            packed = xi;
        }
        const int32_t k0 = (int32_t)(kpanels * kg / kgroups * 6);
        const int32_t k1 = (int32_t)(kpanels * (kg + 1) / kgroups * 6 < K ? kpanels * (kg + 1) / kgroups * 6 : K);
        /* a last panel of fewer than 6 rows is read from a zero-padded copy,
         * so that nothing past the slice is touched */
        const int32_t kp = K % 6 && k1 == K ? K - K % 6 : K;
        if (kp < K) {
            memset(pad_rows, 0, sizeof(float) * 6 * (size_t)row);
            memcpy(pad_rows, dm + (size_t)kp * row, sizeof(float) * (size_t)(K - kp) * row);
        }
        for (int32_t c0 = 0; c0 < C; c0 += 16)
            for (int32_t k = k0; k < k1; k += 6)
                wg_dw_tile(du + (size_t)k * C + c0, C, k < kp ? dm + (size_t)k * row : pad_rows,
                           row, bp + (size_t)c0 * row, row, K - k < 6 ? K - k : 6,
                           C - c0 < 16 ? C - c0 : 16, c->first);
    }
}

/* dweight[k][c] += G^T dU(k, c) G, split by k. */
static void wg_dw_inverse_part(void *vctx, int32_t part, int32_t nparts) {
    const wg_dctx *c = vctx;
    const wg_geo *g = c->g;
    const int32_t a2 = g->a2, C = g->r;
    int64_t lo, hi;
    moco_part_range(g->o, part, nparts, 1, &lo, &hi);
    float u[36 * WL], w9[9 * WL];
    for (int64_t k = lo; k < hi; k++)
        for (int32_t c0 = 0; c0 < C; c0 += WL) {
            int lanes = C - c0 < WL ? C - c0 : WL;
            for (int xi = 0; xi < a2; xi++) {
                const float *s = c->du + ((size_t)xi * g->o + k) * C + c0;
                float *dd = u + xi * WL;
                int l = 0;
                for (; l < lanes; l++) dd[l] = s[l];
                for (; l < WL; l++) dd[l] = 0.0f;
            }
            if (g->m == 2)
                dw2d_2(w9, u);
            else
                dw2d_4(w9, u);
            /* dweight[k][c0 + l][pq] += w9[pq][l]: taps 0..7 of 8 lanes by a
             * transpose, tap 8 one by one */
            float *dst = c->dweight + ((size_t)k * C + c0) * 9;
            for (int h8 = 0; h8 < lanes; h8 += 8) {
                __m256 r[8];
                for (int pq = 0; pq < 8; pq++) r[pq] = _mm256_loadu_ps(w9 + pq * WL + h8);
                mk_transpose8(r);
                const int n = lanes - h8 < 8 ? lanes - h8 : 8;
                for (int l = 0; l < n; l++) {
                    float *d = dst + (size_t)(h8 + l) * 9;
                    _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), r[l]));
                    d[8] += w9[8 * WL + h8 + l];
                }
            }
        }
}

void moco_wg_backward(float *din, float *dweight, const float *dout, const float *in,
                      const float *weight, float *ws, const moco_conv_shape *s, int32_t m,
                      int32_t m_dw) {
    const int32_t nparts = moco_pool_parts();
    if (din) {
        /* din = full correlation of dout with the rotated weights: a forward
         * conv from c_out to c_in channels with g(o = c, r = k)[p][q] =
         * w[k][c][2 - p][2 - q]. */
        wg_geo b;
        wg_geo_init(&b, s, m, s->c_in, s->c_out);
        float *ua = ws;
        wg_weights(ua, weight, &b, 8, 9, (ptrdiff_t)s->c_in * 9, -3, -1, nparts);
        wg_run(&b, din, dout, ua, ws + (size_t)b.a2 * b.op * 6 * b.r, 1, nparts);
    }
    if (dweight) {
        wg_geo g;
        wg_geo_init(&g, s, m_dw, s->c_out, s->c_in);
        const int64_t tbw = wg_dw_tiles(&g);
        float *du = ws;
        float *vb = du + (size_t)g.a2 * g.o * g.r;
        float *db = vb + (size_t)g.a2 * (tbw * g.r + WG_XI_PAD);
        float *pack = db + (size_t)g.a2 * (tbw * g.o + WG_XI_PAD);
        wg_dctx c = {&g, dout, in, du, vb, db, dweight, pack, 0, 0, 1};
        int serial = g.t * g.o * g.r < 65536;
        /* blocks of equal size (at most tbw): 128 tiles against tbw = 112
         * run as 2 x 64, not 112 + 16 (a one-panel block for 8 parts) */
        const int64_t tb = ceil_div(ceil_div(g.t, ceil_div(g.t, tbw)), WL) * WL;
        for (int64_t t0 = 0; t0 < g.t; t0 += tb) {
            c.t0 = t0;
            c.nt = g.t - t0 < tb ? g.t - t0 : tb;
            moco_pool_run(wg_dw_transform_part, &c, nparts > 1 ? 4 * nparts : 1, serial);
            moco_pool_run(wg_dw_gemm_part, &c, nparts, serial);
            c.first = 0;
        }
        moco_pool_run(wg_dw_inverse_part, &c, nparts, serial);
    }
}

#else /* no AVX2 kernels in this build: never chosen (moco_fast_avx2() is 0) */

int moco_wg_wide(const moco_conv_shape *s, int32_t m, int din) {
    (void)s, (void)m, (void)din;
    return 0;
}

void moco_wg_forward(float *out, const float *in, const float *weight, float *ws,
                     const moco_conv_shape *s, int32_t m) {
    (void)out, (void)in, (void)weight, (void)ws, (void)s, (void)m;
}
void moco_wg_backward(float *din, float *dweight, const float *dout, const float *in,
                      const float *weight, float *ws, const moco_conv_shape *s, int32_t m,
                      int32_t m_dw) {
    (void)din, (void)dweight, (void)dout, (void)in, (void)weight, (void)ws, (void)s, (void)m;
    (void)m_dw;
}

#endif
