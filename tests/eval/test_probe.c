/* Linear probe (host/eval.c) on synthetic features: separable clusters with
 * wildly different per-dimension scales reach high accuracy, random labels
 * stay near chance, inputs are untouched, a fixed seed is reproducible.
 * `--speed [epochs]` times the CIFAR-sized case (50k x 512, 10 classes). */
#include <time.h>

#include "eval.h"
#include "moco/rng.h"
#include "mtest.h"

typedef struct dataset {
    float *x;   /* (n, d) */
    int32_t *y; /* (n) */
    int64_t n;
} dataset;

static void ds_alloc(dataset *s, int64_t n, int d) {
    s->n = n;
    s->x = malloc((size_t)n * d * sizeof(float));
    s->y = malloc((size_t)n * sizeof(int32_t));
}
static void ds_free(dataset *s) {
    free(s->x);
    free(s->y);
}

/* Gaussian clusters around class means; then every dimension j is mapped
 * to scale_j * v + offset_j, as raw frozen features might be. */
static void make_clusters(dataset *s, const float *means, const float *scale,
                          const float *offset, int d, int classes, double noise, moco_rng *r) {
    for (int64_t i = 0; i < s->n; i++) {
        int c = (int)moco_rng_below(r, (uint64_t)classes);
        s->y[i] = c;
        for (int j = 0; j < d; j++) {
            double v = means[c * d + j] + noise * moco_rng_normal(r);
            s->x[i * d + j] = (float)(scale[j] * v + offset[j]);
        }
    }
}

static void make_random(dataset *s, int d, int classes, moco_rng *r) {
    for (int64_t i = 0; i < s->n; i++) {
        s->y[i] = (int32_t)moco_rng_below(r, (uint64_t)classes);
        for (int j = 0; j < d; j++) s->x[i * d + j] = (float)moco_rng_normal(r);
    }
}

static void test_separable_clusters_synthetic(void) {
    enum { D = 32, C = 10, NTR = 3000, NTE = 1000 };
    moco_rng r;
    moco_rng_seed(&r, 5);
    float means[C * D], scale[D], offset[D];
    /* the class signal lives in the first half of the dimensions, at tiny
     * scales; the second half is class-free noise at huge scales and
     * offsets. Without standardising, the noise dimensions get all the
     * gradient and the probe stays near chance. */
    for (int c = 0; c < C; c++)
        for (int j = 0; j < D; j++) means[c * D + j] = j < D / 2 ? (float)moco_rng_normal(&r) : 0;
    for (int j = 0; j < D; j++) {
        int informative = j < D / 2;
        scale[j] = (float)pow(10.0, informative ? moco_rng_range(&r, -3, -2)
                                                : moco_rng_range(&r, 2, 3));
        offset[j] = informative ? 0.0f : (float)moco_rng_range(&r, -500, 500);
    }
    dataset tr, te;
    ds_alloc(&tr, NTR, D);
    ds_alloc(&te, NTE, D);
    make_clusters(&tr, means, scale, offset, D, C, 0.3, &r);
    make_clusters(&te, means, scale, offset, D, C, 0.3, &r);

    float *trx = malloc(sizeof(float) * NTR * D), *tex = malloc(sizeof(float) * NTE * D);
    int32_t *try_ = malloc(sizeof(int32_t) * NTR), *tey = malloc(sizeof(int32_t) * NTE);
    memcpy(trx, tr.x, sizeof(float) * NTR * D);
    memcpy(tex, te.x, sizeof(float) * NTE * D);
    memcpy(try_, tr.y, sizeof(int32_t) * NTR);
    memcpy(tey, te.y, sizeof(int32_t) * NTE);

    moco_probe_config cfg = moco_probe_config_default();
    cfg.epochs = 20;
    cfg.seed = 3;
    float tra = -1, tea = -1;
    moco_error err = {{0}};
    int32_t rc = moco_linear_probe(&tra, &tea, tr.x, tr.y, NTR, te.x, te.y, NTE, D, C, &cfg, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    printf("  separable clusters (signal at scale 1e-3, noise at 1e3): train %.4f, test %.4f\n", (double)tra,
           (double)tea);
    MT_CHECK(tra > 0.97f && tea > 0.97f, "train %g test %g", (double)tra, (double)tea);
    MT_CHECK(memcmp(trx, tr.x, sizeof(float) * NTR * D) == 0, "train_x modified");
    MT_CHECK(memcmp(tex, te.x, sizeof(float) * NTE * D) == 0, "test_x modified");
    MT_CHECK(memcmp(try_, tr.y, sizeof(int32_t) * NTR) == 0, "train_y modified");
    MT_CHECK(memcmp(tey, te.y, sizeof(int32_t) * NTE) == 0, "test_y modified");

    /* same seed -> same result; NULL outputs and an empty test set are fine */
    float tra2 = -1, tea2 = -1;
    rc = moco_linear_probe(&tra2, &tea2, tr.x, tr.y, NTR, te.x, te.y, NTE, D, C, &cfg, &err);
    MT_CHECK(rc == MOCO_OK && tra2 == tra && tea2 == tea, "not deterministic: %g/%g vs %g/%g",
             (double)tra2, (double)tea2, (double)tra, (double)tea);
    rc = moco_linear_probe(NULL, &tea2, tr.x, tr.y, NTR, NULL, NULL, 0, D, C, &cfg, &err);
    MT_CHECK(rc == MOCO_OK && tea2 == 0.0f, "empty test set: %s", err.msg);

    free(trx);
    free(tex);
    free(try_);
    free(tey);
    ds_free(&tr);
    ds_free(&te);
}

static void test_random_labels_near_chance_synthetic(void) {
    enum { D = 32, C = 10, NTR = 4000, NTE = 4000 };
    moco_rng r;
    moco_rng_seed(&r, 6);
    dataset tr, te;
    ds_alloc(&tr, NTR, D);
    ds_alloc(&te, NTE, D);
    make_random(&tr, D, C, &r);
    make_random(&te, D, C, &r);
    moco_probe_config cfg = moco_probe_config_default();
    cfg.epochs = 10;
    cfg.seed = 11;
    float tra, tea, tra2, tea2;
    moco_error err = {{0}};
    int32_t rc = moco_linear_probe(&tra, &tea, tr.x, tr.y, NTR, te.x, te.y, NTE, D, C, &cfg, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    printf("  random labels: train %.4f, test %.4f (chance 0.10)\n", (double)tra, (double)tea);
    /* 4000 test rows: the std of chance accuracy is ~0.005 */
    MT_CHECK(tea > 0.07f && tea < 0.13f, "test accuracy %g far from chance", (double)tea);
    MT_CHECK(tra < 0.25f, "train accuracy %g: too much memorisation", (double)tra);
    /* on hard data the exact numbers depend on every step: a good
     * determinism check */
    rc = moco_linear_probe(&tra2, &tea2, tr.x, tr.y, NTR, te.x, te.y, NTE, D, C, &cfg, &err);
    MT_CHECK(rc == MOCO_OK && tra2 == tra && tea2 == tea, "not deterministic: %g/%g vs %g/%g",
             (double)tra2, (double)tea2, (double)tra, (double)tea);
    cfg.seed = 12;
    rc = moco_linear_probe(&tra2, &tea2, tr.x, tr.y, NTR, te.x, te.y, NTE, D, C, &cfg, &err);
    printf("  another seed: train %.4f, test %.4f\n", (double)tra2, (double)tea2);
    MT_CHECK(rc == MOCO_OK && (tra2 != tra || tea2 != tea), "seed has no effect");
    ds_free(&tr);
    ds_free(&te);
}

static void test_refusals_tiny(void) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int32_t y[4] = {0, 1, 0, 1}, bad[4] = {0, 1, 2, 1};
    moco_probe_config cfg = moco_probe_config_default();
    float a, b;
    moco_error err = {{0}};
    int32_t rc = moco_linear_probe(&a, &b, x, bad, 4, x, y, 4, 2, 2, &cfg, &err);
    printf("  bad label: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "bad train label");
    rc = moco_linear_probe(&a, &b, x, y, 4, x, bad, 4, 2, 2, &cfg, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "test"), "bad test label: %s", err.msg);
    moco_probe_config c2 = cfg;
    c2.lr = 0;
    rc = moco_linear_probe(&a, &b, x, y, 4, x, y, 4, 2, 2, &c2, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "lr 0 accepted");
    c2 = cfg;
    c2.momentum = 1.0f;
    rc = moco_linear_probe(&a, &b, x, y, 4, x, y, 4, 2, 2, &c2, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "momentum 1 accepted");
    c2 = cfg;
    c2.epochs = 0;
    rc = moco_linear_probe(&a, &b, x, y, 4, x, y, 4, 2, 2, &c2, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "0 epochs accepted");
    rc = moco_linear_probe(&a, &b, x, y, 0, x, y, 4, 2, 2, &cfg, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "empty train set accepted");
    x[3] = NAN;
    rc = moco_linear_probe(&a, &b, x, y, 4, x, y, 4, 2, 2, &cfg, &err);
    printf("  NaN feature: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_NUMERIC && strstr(err.msg, "HINT"), "NaN: rc %d", rc);
}

/* CIFAR-10 sized features (only with --speed): prints the time, asserts
 * only that it works; speed is a benchmark figure, not a test. */
static int speed_epochs = 30;
static void speed_cifar_sized_synthetic(void) {
    enum { D = 512, C = 10 };
    const int64_t ntr = 50000, nte = 10000;
    moco_rng r;
    moco_rng_seed(&r, 9);
    float *means = malloc(sizeof(float) * C * D), *scale = malloc(sizeof(float) * D);
    float *offset = calloc(D, sizeof(float));
    for (int i = 0; i < C * D; i++) means[i] = (float)(0.1 * moco_rng_normal(&r));
    for (int j = 0; j < D; j++) scale[j] = (float)pow(10.0, moco_rng_range(&r, -1, 1));
    dataset tr, te;
    ds_alloc(&tr, ntr, D);
    ds_alloc(&te, nte, D);
    make_clusters(&tr, means, scale, offset, D, C, 1.0, &r);
    make_clusters(&te, means, scale, offset, D, C, 1.0, &r);
    moco_probe_config cfg = moco_probe_config_default();
    {
        cfg.epochs = speed_epochs;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        float tra, tea;
        moco_error err = {{0}};
        int32_t rc =
            moco_linear_probe(&tra, &tea, tr.x, tr.y, ntr, te.x, te.y, nte, D, C, &cfg, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        MT_CHECK(rc == MOCO_OK, "%s", err.msg);
        printf("  50000x512, 10 classes, %d epochs: %.2f s, train %.4f, test %.4f\n", cfg.epochs,
               sec, (double)tra, (double)tea);
    }
    free(means);
    free(scale);
    free(offset);
    ds_free(&tr);
    ds_free(&te);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--speed") == 0) {
        if (argc > 2) speed_epochs = atoi(argv[2]);
        if (speed_epochs < 1) speed_epochs = 1;
        MT_RUN(speed_cifar_sized_synthetic);
        return mt_finish();
    }
    MT_RUN(test_separable_clusters_synthetic);
    MT_RUN(test_random_labels_near_chance_synthetic);
    MT_RUN(test_refusals_tiny);
    return mt_finish();
}
