/* Normal fills for parameter initialisation, in parallel and independent of
 * the thread count: one draw from the caller's stream seeds the fill; chunk
 * c of MOCO_FILL_NORMAL_CHUNK values draws from its own stream
 * moco_seed_mix(seed, c) by the Marsaglia polar method (no trigonometry:
 * one log, one sqrt and one division per pair of normals). Chunks are
 * independent, so the pool splits them freely and the values depend on
 * (r, n) alone. The naive twin is the same loop run chunk after chunk
 * (tests/kernels/test_fast.c). */
#include <math.h>

#include "moco/kernels.h"
#include "moco/rng.h"
#include "parallel.h"

typedef struct fill_ctx {
    float *out;
    int64_t n;
    uint64_t seed;
    double std;
} fill_ctx;

static void fill_chunk(float *out, int64_t m, uint64_t seed, double std) {
    moco_rng g;
    moco_rng_seed(&g, seed);
    for (int64_t i = 0; i < m; i += 2) {
        double x, y, s;
        do {
            x = 2.0 * moco_rng_uniform(&g) - 1.0;
            y = 2.0 * moco_rng_uniform(&g) - 1.0;
            s = x * x + y * y;
        } while (s >= 1.0 || s == 0.0);
        double f = std * sqrt(-2.0 * log(s) / s);
        out[i] = (float)(x * f);
        if (i + 1 < m) out[i + 1] = (float)(y * f);
    }
}

static void fill_part(void *vctx, int32_t part, int32_t nparts) {
    const fill_ctx *c = vctx;
    int64_t lo, hi;
    moco_part_range(c->n, part, nparts, MOCO_FILL_NORMAL_CHUNK, &lo, &hi);
    for (int64_t i = lo; i < hi; i += MOCO_FILL_NORMAL_CHUNK) {
        int64_t m = c->n - i < MOCO_FILL_NORMAL_CHUNK ? c->n - i : MOCO_FILL_NORMAL_CHUNK;
        fill_chunk(c->out + i, m, moco_seed_mix(c->seed, (uint64_t)(i / MOCO_FILL_NORMAL_CHUNK)),
                   c->std);
    }
}

void moco_fill_normal(float *out, int64_t n, double std, moco_rng *r) {
    fill_ctx c = {out, n, moco_rng_u64(r), std};
    if (n <= 0) return;
    moco_pool_run(fill_part, &c, moco_pool_parts(), n <= MOCO_FILL_NORMAL_CHUNK);
}
