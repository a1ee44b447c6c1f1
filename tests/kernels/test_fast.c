/* The SDK's other fast kernels against their naive twins:
 *  - moco_sgemm's own AVX2 GEMM on shapes that cross its blocking (120 rows,
 *    256 deep, 512 columns) with every transpose, alpha and beta;
 *  - the fused batch norm forward (+ residual, + ReLU; train and eval; in
 *    place) against moco_batchnorm_forward + moco_add + moco_relu_forward,
 *    and its backward (ReLU mask folded in; write or accumulate) against
 *    moco_relu_backward + moco_batchnorm_backward, plus finite differences;
 *  - moco_fill_normal against its naive twin, bit for bit, and its moments;
 *  - results independent of the thread count (1 or 2), bit for bit. */
#include <cblas.h>

#include "gradcheck.h"

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* ---- GEMM --------------------------------------------------------------- */
static void gemm_big(int ta, int tb, int m, int n, int k, float alpha, float beta,
                     moco_rng *r) {
    int lda = ta ? m + 3 : k + 3, ldb = tb ? k + 1 : n + 1, ldc = n + 5;
    size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
    size_t nc = (size_t)m * ldc;
    float *a = gc_alloc(na), *b = gc_alloc(nb), *c = gc_alloc(nc);
    gc_uniform(a, na, r, -1, 1);
    gc_uniform(b, nb, r, -1, 1);
    gc_uniform(c, nc, r, -1, 1);
    float *ref = gc_copy(c, nc);
    moco_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    moco_sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
    /* |error| <= 1e-5 * max|C|: float sums of up to k products (in 256-deep
     * blocks) against double; an indexing slip is O(1). Padding between
     * rows (ldc > n) must stay untouched. */
    long at = 0;
    double e = mt_max_rel(c, ref, (long)nc, 1e-5 * max_abs(ref, nc), 0, &at);
    MT_CHECK(e <= 1, "gemm ta%d tb%d %dx%dx%d alpha %g beta %g: err %.3g at %ld", ta, tb, m, n,
             k, alpha, beta, e, at);
    free(a); free(b); free(c); free(ref);
}

static void test_gemm_blocked(void) {
    moco_rng r;
    moco_rng_seed(&r, 31);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_big(ta, tb, 131, 530, 300, 1.0f, 0.0f, &r);   /* 2 row blocks, 2 col blocks, 2 deep */
            gemm_big(ta, tb, 7, 1100, 520, 0.5f, 1.0f, &r);    /* 3 deep blocks, edge rows */
            gemm_big(ta, tb, 250, 33, 17, -1.5f, 0.25f, &r);   /* edge columns, beta scaling */
        }
}

/* ---- fused batch norm ------------------------------------------------- */
static void bn_twin_forward(float *out, float *rm, float *rv, float *sm, float *si,
                            const float *in, const float *res, const float *g, const float *b,
                            int n, int c, int hw, int train, int relu) {
    moco_batchnorm_forward(out, rm, rv, sm, si, in, g, b, n, c, hw, 0.1f, 1e-5f, train);
    if (res) moco_add(out, out, res, (int64_t)n * c * hw);
    if (relu) moco_relu_forward(out, out, (int64_t)n * c * hw);
}

static void test_bn_fused_forward(void) {
    moco_rng r;
    moco_rng_seed(&r, 32);
    const int n = 3, c = 5, hw = 37;   /* hw not a multiple of the 8 partial sums */
    const size_t cnt = (size_t)n * c * hw;
    float *in = gc_alloc(cnt), *res = gc_alloc(cnt), g[5], b[5];
    gc_normal(in, cnt, &r, 3.0, 2.0);   /* |mean| > std: the two-pass variance matters */
    gc_uniform(res, cnt, &r, -1, 1);
    gc_uniform(g, 5, &r, 0.5, 1.5);
    gc_uniform(b, 5, &r, -0.5, 0.5);
    for (int train = 0; train < 2; train++)
        for (int with_res = 0; with_res < 2; with_res++)
            for (int relu = 0; relu < 2; relu++)
                for (int in_place = 0; in_place < 2; in_place++) {
                    float rm[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, rv[5] = {1, 2, 1, 2, 1};
                    float rm2[5], rv2[5], sm[5], si[5], sm2[5], si2[5];
                    memcpy(rm2, rm, sizeof rm);
                    memcpy(rv2, rv, sizeof rv);
                    float *ref = gc_alloc(cnt), *out = gc_copy(in, cnt);
                    bn_twin_forward(ref, rm2, rv2, sm2, si2, in, with_res ? res : NULL, g, b,
                                    n, c, hw, train, relu);
                    moco_batchnorm_forward_fused(in_place ? out : out, rm, rv, sm, si,
                                                 in_place ? out : in, with_res ? res : NULL,
                                                 g, b, n, c, hw, 0.1f, 1e-5f, train, relu);
                    long at = 0;
                    double e = mt_max_rel(out, ref, (long)cnt, 1e-5, 1e-5, &at);
                    double es = train ? fmax(mt_max_rel(sm, sm2, 5, 1e-6, 1e-6, &at),
                                             mt_max_rel(si, si2, 5, 1e-6, 1e-6, &at))
                                      : 0;
                    double er = fmax(mt_max_rel(rm, rm2, 5, 1e-6, 1e-6, &at),
                                     mt_max_rel(rv, rv2, 5, 1e-6, 1e-6, &at));
                    MT_CHECK(e <= 1 && es <= 1 && er <= 1,
                             "train %d res %d relu %d in place %d: out %.3g stats %.3g "
                             "running %.3g",
                             train, with_res, relu, in_place, e, es, er);
                    free(ref);
                    free(out);
                }
    free(in);
    free(res);
}

static void test_bn_fused_backward(void) {
    moco_rng r;
    moco_rng_seed(&r, 33);
    const int n = 2, c = 4, hw = 29;
    const size_t cnt = (size_t)n * c * hw;
    float *in = gc_alloc(cnt), *dout = gc_alloc(cnt), *relu_out = gc_alloc(cnt), g[4], b[4];
    gc_normal(in, cnt, &r, 1.0, 2.0);
    gc_uniform(dout, cnt, &r, -1, 1);
    gc_uniform(g, 4, &r, 0.5, 1.5);
    gc_uniform(b, 4, &r, -0.5, 0.5);
    float rm[4] = {0}, rv[4] = {1, 1, 1, 1}, sm[4], si[4];
    moco_batchnorm_forward(relu_out, rm, rv, sm, si, in, g, b, n, c, hw, 0.1f, 1e-5f, 1);
    moco_relu_forward(relu_out, relu_out, (int64_t)cnt);
    for (int masked = 0; masked < 2; masked++)
        for (int acc = 0; acc < 2; acc++) {
            float *din = gc_alloc(cnt), *din_ref = gc_alloc(cnt), *dy = gc_alloc(cnt);
            float dg[4] = {0.1f, 0.2f, 0.3f, 0.4f}, db[4] = {-1, -2, -3, -4};
            float dg2[4], db2[4];
            memcpy(dg2, dg, sizeof dg);
            memcpy(db2, db, sizeof db);
            gc_uniform(din, cnt, &r, -1, 1);
            memcpy(din_ref, din, cnt * sizeof(float));
            if (!acc) gc_fill(din_ref, cnt, 0.0f);
            if (masked)
                moco_relu_backward(dy, dout, relu_out, (int64_t)cnt);
            else
                memcpy(dy, dout, cnt * sizeof(float));
            moco_batchnorm_backward(din_ref, dg2, db2, dy, in, g, sm, si, n, c, hw);
            moco_batchnorm_backward_fused(din, dg, db, dout, masked ? relu_out : NULL, in, g, sm,
                                          si, n, c, hw, acc);
            long at = 0;
            double e = mt_max_rel(din, din_ref, (long)cnt, 1e-5, 1e-5, &at);
            double eg = fmax(mt_max_rel(dg, dg2, 4, 1e-5, 1e-5, &at),
                             mt_max_rel(db, db2, 4, 1e-5, 1e-5, &at));
            MT_CHECK(e <= 1 && eg <= 1, "masked %d accumulate %d: din %.3g dgamma/dbeta %.3g",
                     masked, acc, e, eg);
            free(din);
            free(din_ref);
            free(dy);
        }
    free(in);
    free(dout);
    free(relu_out);
}

/* Finite differences through fused BN + residual + ReLU (train mode). */
typedef struct bn_fd {
    float *in, *res, *g, *b, *out, *rmul, rm[20], rv[20], sm[20], si[20];
    int n, c, hw;
} bn_fd;

static double bn_loss(void *ctx, int *kink) {
    bn_fd *f = ctx;
    size_t cnt = (size_t)f->n * f->c * f->hw;
    float before[512];
    memcpy(before, f->out, cnt * sizeof(float));
    moco_batchnorm_forward_fused(f->out, f->rm, f->rv, f->sm, f->si, f->in, f->res, f->g, f->b,
                                 f->n, f->c, f->hw, 0.1f, 1e-5f, 1, 1);
    /* a pre-ReLU value crossing zero: the difference quotient means nothing */
    for (size_t i = 0; i < cnt; i++)
        if ((before[i] > 0.0f) != (f->out[i] > 0.0f) && before[i] == before[i]) *kink = 1;
    return gc_dot(f->out, f->rmul, cnt);
}

static void test_bn_fused_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 34);
    bn_fd f = {0};
    f.n = 3;
    f.c = 20;   /* enough entries for the 1-in-20 kink allowance */
    f.hw = 6;
    const size_t cnt = (size_t)f.n * f.c * f.hw;
    f.in = gc_alloc(cnt);
    f.res = gc_alloc(cnt);
    f.out = gc_alloc(cnt);
    f.rmul = gc_alloc(cnt);
    f.g = gc_alloc(20);
    f.b = gc_alloc(20);
    gc_normal(f.in, cnt, &r, 0.5, 1.0);
    gc_uniform(f.res, cnt, &r, -1, 1);
    gc_uniform(f.rmul, cnt, &r, -1, 1);
    gc_uniform(f.g, 20, &r, 0.5, 1.5);
    gc_uniform(f.b, 20, &r, -0.5, 0.5);
    gc_fill(f.out, cnt, NAN);
    int kink = 0;
    bn_loss(&f, &kink);
    float *din = gc_alloc(cnt), *dg = gc_alloc(20), *db = gc_alloc(20);
    moco_batchnorm_backward_fused(din, dg, db, f.rmul, f.out, f.in, f.g, f.sm, f.si, f.n, f.c,
                                  f.hw, 0);
    /* BN's backward in float against double-summed differences of a float
     * forward: ~1e-3 relative, as in test_batchnorm. */
    gc_gradcheck("fused bn+res+relu din", din, f.in, (long)cnt, 1e-2, 2e-2, 2e-2, bn_loss, &f);
    gc_gradcheck("fused bn+res+relu dgamma", dg, f.g, 20, 1e-2, 2e-2, 2e-2, bn_loss, &f);
    gc_gradcheck("fused bn+res+relu dbeta", db, f.b, 20, 1e-2, 2e-2, 2e-2, bn_loss, &f);
    free(f.in); free(f.res); free(f.out); free(f.rmul); free(f.g); free(f.b);
    free(din); free(dg); free(db);
}

/* ---- normal fill -------------------------------------------------------- */
/* Naive twin of moco_fill_normal: its documented definition, one chunk after
 * the other on one thread. */
static void naive_fill_normal(float *out, int64_t n, double std, moco_rng *r) {
    const uint64_t d = moco_rng_u64(r);
    for (int64_t c0 = 0; c0 < n; c0 += MOCO_FILL_NORMAL_CHUNK) {
        moco_rng g;
        moco_rng_seed(&g, moco_seed_mix(d, (uint64_t)(c0 / MOCO_FILL_NORMAL_CHUNK)));
        int64_t end = c0 + MOCO_FILL_NORMAL_CHUNK < n ? c0 + MOCO_FILL_NORMAL_CHUNK : n;
        for (int64_t i = c0; i < end; i += 2) {
            double x, y, s;
            do {
                x = 2.0 * moco_rng_uniform(&g) - 1.0;
                y = 2.0 * moco_rng_uniform(&g) - 1.0;
                s = x * x + y * y;
            } while (s >= 1.0 || s == 0.0);
            double f = std * sqrt(-2.0 * log(s) / s);
            out[i] = (float)(x * f);
            if (i + 1 < end) out[i + 1] = (float)(y * f);
        }
    }
}

static void test_fill_normal(void) {
    const int64_t n = 100003;   /* several chunks, an odd partial one */
    float *a = gc_alloc(n), *b = gc_alloc(n);
    moco_rng r1, r2;
    moco_rng_seed(&r1, 35);
    moco_rng_seed(&r2, 35);
    moco_fill_normal(a, n, 0.05, &r1);
    naive_fill_normal(b, n, 0.05, &r2);
    MT_CHECK(memcmp(a, b, (size_t)n * sizeof(float)) == 0, "values differ from the naive twin");
    MT_CHECK(moco_rng_u64(&r1) == moco_rng_u64(&r2), "stream advanced differently");
    /* the distribution: N(0, 0.05^2). Standard errors for n = 1e5: mean
     * 1.6e-4, variance 0.45%, and the fraction beyond 1.96 sigma 0.07%. */
    double s1 = 0, s2 = 0, s4 = 0;
    int64_t tail = 0;
    for (int64_t i = 0; i < n; i++) {
        double z = a[i] / 0.05;
        s1 += z;
        s2 += z * z;
        s4 += z * z * z * z;
        tail += fabs(z) > 1.959964;
    }
    double mean = s1 / n, var = s2 / n - mean * mean, kurt = s4 / n;
    MT_CHECK(fabs(mean) < 0.01, "mean %g of the standardised values", mean);
    MT_CHECK(fabs(var - 1.0) < 0.02, "variance %g, expected 1", var);
    MT_CHECK(fabs(kurt - 3.0) < 0.1, "fourth moment %g, expected 3", kurt);
    MT_CHECK(fabs((double)tail / n - 0.05) < 0.004, "%.4f beyond 1.96 sigma, expected 0.05",
             (double)tail / n);
    /* neighbours (the two halves of a pair, and across chunks) uncorrelated */
    double c01 = 0;
    for (int64_t i = 0; i + 1 < n; i++) c01 += (double)a[i] * a[i + 1];
    c01 /= (double)(n - 1) * 0.05 * 0.05;
    MT_CHECK(fabs(c01) < 0.02, "lag-1 correlation %g", c01);
    /* a small fill, on the caller, and n = 0 (only the one draw) */
    moco_fill_normal(a, 5, 1.0, &r1);
    naive_fill_normal(b, 5, 1.0, &r2);
    MT_CHECK(memcmp(a, b, 5 * sizeof(float)) == 0, "small fill differs");
    moco_fill_normal(a, 0, 1.0, &r1);
    naive_fill_normal(b, 0, 1.0, &r2);
    MT_CHECK(moco_rng_u64(&r1) == moco_rng_u64(&r2), "n = 0 advanced differently");
    free(a);
    free(b);
}

/* ---- thread count ------------------------------------------------------- */
static void test_threads_bit_exact(void) {
    moco_rng r;
    moco_rng_seed(&r, 36);
    const int m = 70, n = 600, k = 300, bn_n = 4, bn_c = 16, bn_hw = 300;
    const size_t cnt = (size_t)bn_n * bn_c * bn_hw;
    float *a = gc_alloc((size_t)m * k), *b = gc_alloc((size_t)k * n);
    float *x = gc_alloc(cnt), *dy = gc_alloc(cnt), g[16], be[16];
    gc_uniform(a, (size_t)m * k, &r, -1, 1);
    gc_uniform(b, (size_t)k * n, &r, -1, 1);
    gc_normal(x, cnt, &r, 1, 1);
    gc_uniform(dy, cnt, &r, -1, 1);
    gc_uniform(g, 16, &r, 0.5, 1.5);
    gc_uniform(be, 16, &r, -1, 1);
    float *c[2], *y[2], *dx[2], *nv[2], sm[2][16], si[2][16], dg[2][16], db[2][16];
    const int saved = openblas_get_num_threads();
    for (int t = 0; t < 2; t++) {
        openblas_set_num_threads(t + 1);
        c[t] = gc_alloc((size_t)m * n);
        y[t] = gc_alloc(cnt);
        dx[t] = gc_alloc(cnt);
        nv[t] = gc_alloc(50000);
        moco_sgemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c[t], n);
        float rm[16] = {0}, rv[16] = {0};
        moco_batchnorm_forward_fused(y[t], rm, rv, sm[t], si[t], x, NULL, g, be, bn_n, bn_c,
                                     bn_hw, 0.1f, 1e-5f, 1, 1);
        memset(dg[t], 0, sizeof dg[t]);
        memset(db[t], 0, sizeof db[t]);
        moco_batchnorm_backward_fused(dx[t], dg[t], db[t], dy, y[t], x, g, sm[t], si[t], bn_n,
                                      bn_c, bn_hw, 0);
        moco_rng rr;
        moco_rng_seed(&rr, 7);
        moco_fill_normal(nv[t], 50000, 1.0, &rr);
    }
    openblas_set_num_threads(saved);
    MT_CHECK(memcmp(c[0], c[1], (size_t)m * n * sizeof(float)) == 0, "gemm differs");
    MT_CHECK(memcmp(y[0], y[1], cnt * sizeof(float)) == 0, "bn forward differs");
    MT_CHECK(memcmp(dx[0], dx[1], cnt * sizeof(float)) == 0, "bn backward differs");
    MT_CHECK(memcmp(dg[0], dg[1], sizeof dg[0]) == 0 && memcmp(db[0], db[1], sizeof db[0]) == 0,
             "bn dgamma/dbeta differ");
    MT_CHECK(memcmp(nv[0], nv[1], 50000 * sizeof(float)) == 0, "normal fill differs");
    for (int t = 0; t < 2; t++) {
        free(c[t]);
        free(y[t]);
        free(dx[t]);
        free(nv[t]);
    }
    free(a); free(b); free(x); free(dy);
}

int main(void) {
    MT_RUN(test_gemm_blocked);
    MT_RUN(test_bn_fused_forward);
    MT_RUN(test_bn_fused_backward);
    MT_RUN(test_bn_fused_gradcheck);
    MT_RUN(test_fill_normal);
    MT_RUN(test_threads_bit_exact);
    return mt_finish();
}
