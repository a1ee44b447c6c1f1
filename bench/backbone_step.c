/* bench_backbone: seconds per train-mode forward + backward of the
 * full-width model (width 64, cifar stem, linear head to 128) on a batch of
 * 32 images of 32x32, for the host author's planning. Prints the figure;
 * checks only that the calls succeed and produce finite gradients. */
#include <math.h>
#include <time.h>

#include "rn_test.h"

#define BATCH 32
#define SIZE 32
#define DIM 128
#define REPS 3

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_timing(void) {
    rt_model r;
    rt_create_ok(&r, NULL, 1, 3, SIZE, SIZE, BATCH, DIM);
    float *x = malloc(sizeof(float) * BATCH * 3 * SIZE * SIZE);
    float *out = malloc(sizeof(float) * BATCH * DIM);
    float *dout = malloc(sizeof(float) * BATCH * DIM);
    rt_fill_normal(x, (int64_t)BATCH * 3 * SIZE * SIZE, 1);
    rt_fill_uniform(dout, BATCH * DIM, 2);
    moco_error err = {{0}};
    int ok = 1;
    /* one warm-up step: page faults of the arenas, OpenBLAS thread start */
    ok &= r.api->forward(r.m, out, NULL, x, BATCH, 1, &err) == MOCO_OK;
    ok &= r.api->backward(r.m, dout, &err) == MOCO_OK;
    double tf = 0, tb = 0, te = 0;
    for (int i = 0; i < REPS && ok; i++) {
        memset(r.info.grads.data, 0, sizeof(float) * r.info.grads.count);
        double t0 = now();
        ok &= r.api->forward(r.m, out, NULL, x, BATCH, 1, &err) == MOCO_OK;
        double t1 = now();
        ok &= r.api->backward(r.m, dout, &err) == MOCO_OK;
        double t2 = now();
        ok &= r.api->forward(r.m, out, NULL, x, BATCH, 0, &err) == MOCO_OK;
        double t3 = now();
        tf += t1 - t0;
        tb += t2 - t1;
        te += t3 - t2;
    }
    MT_CHECK(ok, "forward/backward failed: %s", err.msg);
    int finite = 1;
    for (int64_t i = 0; i < r.info.grads.count; i++) finite &= isfinite(r.info.grads.data[i]);
    MT_CHECK(finite, "non-finite gradient");
    printf("resnet18 width 64, cifar stem, batch %d of 3x%dx%d: %.3f s per train forward + "
           "backward (forward %.3f s, backward %.3f s; eval forward %.3f s), %.1f images/s; "
           "mean of %d\n",
           BATCH, SIZE, SIZE, (tf + tb) / REPS, tf / REPS, tb / REPS, te / REPS,
           BATCH * REPS / (tf + tb), REPS);
    free(x);
    free(out);
    free(dout);
    rt_destroy(&r);
}

int main(void) {
    MT_RUN(test_timing);
    return mt_finish();
}
