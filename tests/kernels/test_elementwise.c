/* ReLU and the residual add: values, aliasing, NaN, gradients. */
#include "gradcheck.h"

static void test_relu_forward(void) {
    float x[6] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.5f, NAN}, y[6];
    moco_relu_forward(y, x, 6);
    MT_CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 1e-30f && y[4] == 3.5f,
             "%g %g %g %g %g", y[0], y[1], y[2], y[3], y[4]);
    MT_CHECK(y[5] != y[5], "NaN must propagate, got %g", y[5]);
    moco_relu_forward(x, x, 6); /* in place */
    MT_CHECK(memcmp(x, y, 5 * sizeof(float)) == 0, "in-place relu differs");
}

static void test_add(void) {
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {0.5f, -2, 0, 1e-3f, -5}, out[5];
    moco_add(out, a, b, 5);
    for (int i = 0; i < 5; i++) MT_CHECK(out[i] == a[i] + b[i], "out[%d]", i);
    moco_add(a, a, b, 5); /* residual in place */
    MT_CHECK(memcmp(a, out, sizeof out) == 0, "in-place add differs");
}

enum { RELU_COUNT = 200 };

typedef struct relu_fd {
    float in[RELU_COUNT], out[RELU_COUNT], rmul[RELU_COUNT];
} relu_fd;

static double relu_loss(void *ctx, int *kink) {
    relu_fd *c = ctx;
    moco_relu_forward(c->out, c->in, RELU_COUNT);
    return gc_dot(c->out, c->rmul, RELU_COUNT);
}

static void test_relu_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 7);
    static relu_fd c;
    /* |x| in [0.1, 1]: a step of 1e-2 never crosses the kink at 0, where
     * ReLU has no derivative */
    for (int i = 0; i < RELU_COUNT; i++) {
        double mag = moco_rng_range(&r, 0.1, 1.0);
        c.in[i] = (float)(moco_rng_uniform(&r) < 0.5 ? -mag : mag);
    }
    gc_uniform(c.rmul, RELU_COUNT, &r, -1, 1);
    relu_loss(&c, NULL);
    float din[RELU_COUNT] = {0};
    moco_relu_backward(din, c.rmul, c.out, RELU_COUNT);
    /* piecewise linear away from 0, and ReLU copies values without
     * rounding: the quotient is exact up to double sums (observed ~1e-12).
     * Tolerance 1e-5; a wrong mask is off by 100%. */
    gc_gradcheck("relu din", din, c.in, RELU_COUNT, 1e-2, 1e-5, 1e-3, relu_loss, &c);

    float din2[RELU_COUNT] = {0};
    moco_relu_backward(din2, c.rmul, c.out, RELU_COUNT);
    moco_relu_backward(din2, c.rmul, c.out, RELU_COUNT);
    int doubled = 1;
    for (int i = 0; i < RELU_COUNT; i++) doubled &= din2[i] == 2 * din[i];
    MT_CHECK(doubled, "relu backward twice != 2 x once");
}

int main(void) {
    MT_RUN(test_relu_forward);
    MT_RUN(test_add);
    MT_RUN(test_relu_gradcheck);
    return mt_finish();
}
