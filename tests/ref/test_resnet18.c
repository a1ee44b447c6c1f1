/* The resnet18 plugin against torchvision's ResNet-18 code path (float64
 * reference, tests/ref/make_fixtures.py): identical weights loaded by name,
 * a fixed batch, then
 *   eval-mode forward (initial running statistics)     -> head output, pooled features
 *   train-mode forward                                  -> output, features, every BN
 *                                                          buffer (momentum 0.1,
 *                                                          unbiased running variance)
 *   backward of sum(out * dout)                         -> gradient of every parameter
 *   eval-mode forward again (updated running stats)     -> output, features
 * for the CIFAR stem at width 8 (8-16-32-64, linear head) and the ImageNet
 * stem at width 4 with the MLP head. */
#include "ref_model.h"

/* Tolerances (|ours - ref| <= atol * max|ref| + rtol * |ref|, per tensor);
 * see docs/reference-tests.md for how they relate to PyTorch's own float32
 * error on the same cases. */
#define TOL_FWD_ATOL 2e-5
#define TOL_FWD_RTOL 1e-4
#define TOL_BUF_ATOL 1e-5
#define TOL_BUF_RTOL 1e-4
#define TOL_GRAD_ATOL 1e-4
#define TOL_GRAD_RTOL 1e-3

static void run_case(const char *file, const char *tag) {
    ref_fixture f;
    ref_open(&f, file);
    ref_config c = ref_read_config(&f);
    rt_model r;
    ref_create_model(&r, &c);
    MT_CHECK(ref_fill_weights(&f, r.api, r.m) == 0, "%s: weights incomplete", file);

    const int64_t n = c.batch, od = c.dim, fd = r.info.feat_dim;
    const float *x = ref_f32(&f, "x", n * c.c * c.h * c.w);
    const float *dout = ref_f32(&f, "dout", n * od);
    float *out = calloc((size_t)(n * od), sizeof(float));
    float *feat = calloc((size_t)(n * fd), sizeof(float));
    moco_error err = {{0}};
    char group[5][96];
    snprintf(group[0], sizeof group[0], "%s forward eval", tag);
    snprintf(group[1], sizeof group[1], "%s forward train", tag);
    snprintf(group[2], sizeof group[2], "%s BN buffers (train fwd)", tag);
    snprintf(group[3], sizeof group[3], "%s gradients", tag);
    snprintf(group[4], sizeof group[4], "%s num_batches_tracked", tag);
    ref_stat s_eval, s_train, s_buf, s_cnt, s_grad;
    ref_stat_init(&s_eval, group[0], TOL_FWD_ATOL, TOL_FWD_RTOL);
    ref_stat_init(&s_train, group[1], TOL_FWD_ATOL, TOL_FWD_RTOL);
    ref_stat_init(&s_buf, group[2], TOL_BUF_ATOL, TOL_BUF_RTOL);
    ref_stat_init(&s_cnt, group[4], 0, 0);
    ref_stat_init(&s_grad, group[3], TOL_GRAD_ATOL, TOL_GRAD_RTOL);

    /* eval mode with the initial (non-trivial) running statistics */
    int32_t st = r.api->forward(r.m, out, feat, x, (int32_t)n, 0, &err);
    MT_CHECK(st == 0, "eval forward: %s", err.msg);
    ref_cmp(&s_eval, "eval0.out", out, ref_f32(&f, "eval0.out", n * od), n * od);
    ref_cmp(&s_eval, "eval0.feat", feat, ref_f32(&f, "eval0.feat", n * fd), n * fd);

    /* train mode: batch statistics, running statistics updated */
    memset(r.info.grads.data, 0, (size_t)r.info.grads.count * sizeof(float));
    st = r.api->forward(r.m, out, feat, x, (int32_t)n, 1, &err);
    MT_CHECK(st == 0, "train forward: %s", err.msg);
    ref_cmp(&s_train, "train.out", out, ref_f32(&f, "train.out", n * od), n * od);
    ref_cmp(&s_train, "train.feat", feat, ref_f32(&f, "train.feat", n * fd), n * fd);
    ref_cmp_model(&s_buf, &s_cnt, &f, "buf/", r.api, r.m, MOCO_ROLE_BUFFER, 0);

    /* backward of sum(out * dout) */
    st = r.api->backward(r.m, dout, &err);
    MT_CHECK(st == 0, "backward: %s", err.msg);
    ref_cmp_model(&s_grad, NULL, &f, "grad/", r.api, r.m, MOCO_ROLE_PARAM, 1);

    /* eval mode again: now with the updated running statistics */
    st = r.api->forward(r.m, out, feat, x, (int32_t)n, 0, &err);
    MT_CHECK(st == 0, "eval forward: %s", err.msg);
    ref_cmp(&s_eval, "eval1.out", out, ref_f32(&f, "eval1.out", n * od), n * od);
    ref_cmp(&s_eval, "eval1.feat", feat, ref_f32(&f, "eval1.feat", n * fd), n * fd);

    ref_report(&s_eval);
    ref_report(&s_train);
    ref_report(&s_buf);
    ref_report(&s_cnt);
    ref_report(&s_grad);
    free(out);
    free(feat);
    rt_destroy(&r);
    ref_fixture_free(&f);
}

static void test_cifar_stem_width8(void) {
    run_case("resnet18_cifar_w8.bin", "resnet18 cifar w8");
}

static void test_imagenet_stem_width4_mlp(void) {
    run_case("resnet18_imagenet_w4_mlp.bin", "resnet18 imagenet w4 mlp");
}

int main(void) {
    MT_RUN(test_cifar_stem_width8);
    MT_RUN(test_imagenet_stem_width4_mlp);
    return mt_finish();
}
