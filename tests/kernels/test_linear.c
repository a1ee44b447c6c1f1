/* Fully connected layer: forward against a direct loop, gradients against
 * finite differences, NULL gradients, accumulation. */
#include "gradcheck.h"

enum { LN_N = 5, LN_I = 7, LN_O = 3 };

typedef struct linear_fd {
    float in[LN_N * LN_I], w[LN_O * LN_I], b[LN_O], out[LN_N * LN_O], rmul[LN_N * LN_O];
} linear_fd;

static void test_linear_forward(void) {
    moco_rng r;
    moco_rng_seed(&r, 10);
    static linear_fd c;
    gc_uniform(c.in, LN_N * LN_I, &r, -1, 1);
    gc_uniform(c.w, LN_O * LN_I, &r, -1, 1);
    gc_uniform(c.b, LN_O, &r, -1, 1);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        gc_fill(c.out, LN_N * LN_O, NAN); /* forward must overwrite */
        moco_linear_forward(c.out, c.in, c.w, with_bias ? c.b : NULL, LN_N, LN_I, LN_O);
        for (int i = 0; i < LN_N; i++)
            for (int o = 0; o < LN_O; o++) {
                double e = with_bias ? c.b[o] : 0.0;
                for (int k = 0; k < LN_I; k++) e += (double)c.in[i * LN_I + k] * c.w[o * LN_I + k];
                MT_CLOSE(c.out[i * LN_O + o], e, 1e-6, 1e-6);
            }
    }
}

static double linear_loss(void *ctx, int *kink) {
    linear_fd *c = ctx;
    moco_linear_forward(c->out, c->in, c->w, c->b, LN_N, LN_I, LN_O);
    return gc_dot(c->out, c->rmul, LN_N * LN_O);
}

static void test_linear_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 11);
    static linear_fd c;
    gc_uniform(c.in, LN_N * LN_I, &r, -1, 1);
    gc_uniform(c.w, LN_O * LN_I, &r, -1, 1);
    gc_uniform(c.b, LN_O, &r, -1, 1);
    gc_uniform(c.rmul, LN_N * LN_O, &r, -1, 1);
    float din[LN_N * LN_I] = {0}, dw[LN_O * LN_I] = {0}, db[LN_O] = {0};
    moco_linear_backward(din, dw, db, c.rmul, c.in, c.w, LN_N, LN_I, LN_O);
    /* L is linear in each of in, w, b separately: exact differences with
     * step 1; only the rounding of the <= 5 outputs one entry moves and of
     * the GEMMs remains (observed <= 4e-6 against 1e-3 of the scale).
     * Tolerance 1e-4; a transposed GEMM operand is off by O(1). */
    gc_gradcheck("linear din", din, c.in, LN_N * LN_I, 1.0, 1e-4, 1e-3, linear_loss, &c);
    gc_gradcheck("linear dweight", dw, c.w, LN_O * LN_I, 1.0, 1e-4, 1e-3, linear_loss, &c);
    gc_gradcheck("linear dbias", db, c.b, LN_O, 1.0, 1e-4, 1e-3, linear_loss, &c);

    /* accumulation: twice into zeros is 2 x once; NULLs are skipped */
    float din2[LN_N * LN_I] = {0}, dw2[LN_O * LN_I] = {0}, db2[LN_O] = {0};
    float dw_only[LN_O * LN_I] = {0}, db_only[LN_O] = {0};
    for (int call = 0; call < 2; call++)
        moco_linear_backward(din2, dw2, db2, c.rmul, c.in, c.w, LN_N, LN_I, LN_O);
    moco_linear_backward(NULL, dw_only, NULL, c.rmul, c.in, c.w, LN_N, LN_I, LN_O);
    moco_linear_backward(NULL, NULL, db_only, c.rmul, c.in, c.w, LN_N, LN_I, LN_O);
    int ok = 1;
    for (int i = 0; i < LN_N * LN_I; i++) ok &= din2[i] == 2 * din[i];
    for (int i = 0; i < LN_O * LN_I; i++) ok &= dw2[i] == 2 * dw[i] && dw_only[i] == dw[i];
    for (int i = 0; i < LN_O; i++) ok &= db2[i] == 2 * db[i] && db_only[i] == db[i];
    MT_CHECK(ok, "linear backward does not accumulate / skip NULL as expected");
}

int main(void) {
    MT_RUN(test_linear_forward);
    MT_RUN(test_linear_gradcheck);
    return mt_finish();
}
