/* Normal fills for parameter initialisation. The generator is sequential
 * (each value depends on the stream position), but its cost is in the log,
 * cos and sqrt of Box-Muller: draw a chunk of uniforms on the caller, then
 * turn them into normals on the pool. Same arithmetic as moco_rng_normal,
 * value for value, so the result equals the naive loop bit for bit. */
#include <math.h>

#include "moco/kernels.h"
#include "moco/rng.h"
#include "parallel.h"

#define FILL_CHUNK 4096   /* normals per chunk: 64 KiB of uniforms on the stack */

typedef struct fill_ctx {
    float *out;
    const double *u;   /* (n, 2) uniforms */
    int64_t n;
    double std;
} fill_ctx;

static void fill_part(void *vctx, int32_t part, int32_t nparts) {
    const fill_ctx *c = vctx;
    int64_t lo, hi;
    moco_part_range(c->n, part, nparts, 64, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        double u1 = c->u[2 * i], u2 = c->u[2 * i + 1];
        if (u1 < 1e-300) u1 = 1e-300;
        c->out[i] = (float)(c->std * (sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2)));
    }
}

void moco_fill_normal(float *out, int64_t n, double std, moco_rng *r) {
    double u[2 * FILL_CHUNK];
    const int32_t parts = moco_pool_parts();
    for (int64_t i0 = 0; i0 < n; i0 += FILL_CHUNK) {
        int64_t m = n - i0 < FILL_CHUNK ? n - i0 : FILL_CHUNK;
        for (int64_t i = 0; i < m; i++) {
            u[2 * i] = moco_rng_uniform(r);
            u[2 * i + 1] = moco_rng_uniform(r);
        }
        fill_ctx c = {out + i0, u, m, std};
        moco_pool_run(fill_part, &c, parts, m < 512);
    }
}
