/* backbone_resnet18_gradcheck_tiny: finite-difference check of the WHOLE
 * network's parameter gradients (width 4, batch 4, train-mode BN) for both
 * stems and both heads: cifar 8x8 / linear, cifar 16x16 / mlp, imagenet
 * 16x16 / linear, imagenet 32x32 / mlp.
 *
 * Loss L = sum(out * R) with a fixed random R, so backward gets dout = R.
 * One random element of EVERY parameter tensor is sampled (62 or 64 per
 * model: every conv, BN weight and bias, and head tensor is covered).
 *
 * Why a double twin: central differences of the float plugin cannot resolve
 * this network. Measured on these models: with h >= 1e-3 a perturbation
 * crosses ReLU / max-pool switches and meets the strong curvature of BNs
 * that normalise only 4 values (layer4 is 1x1 at batch 4), giving errors of
 * 0.2..16 on a few samples; with h <= 1e-4 float rounding of L (~1e-7 |L|)
 * divided by 2h dominates; no step gets below ~1e-1 worst-case. So:
 *  1. rn_ref.h computes the same network in double with naive loops, from
 *     the plugin's own tensor table. The plugin's float forward must match it
 *     (FWD_TOL): then the twin IS the plugin's function, without float noise.
 *  2. The plugin's backward is compared with central differences of the
 *     twin at h = 1e-6 (REF_STEP): double rounding is ~1e-10 of the gradient
 *     there, and a 1e-6 move crosses a ReLU switch only rarely (1e-5 already
 *     shows one: measured; 1e-6 and 1e-7 agree to 4 digits).
 *  3. Error per sample = |g - fd| / (|fd| + 1e-3 rms(fd)): the floor judges
 *     near-zero gradients on the gradient scale instead of against
 *     themselves. TOL = 1e-2: the backward runs in float through 20 BNs, some
 *     normalising 4 values, which amplifies rounding; the measured worst is
 *     2.3e-3 (forward vs twin up to 6e-4), so 1e-2 leaves ~4x margin, while
 *     every bug tried (dropped identity path, missing dbeta, wrong ReLU mask,
 *     half-zeroed buffer, wrong gradient into the downsample) gives 0.5..1e3.
 *  4. The central difference of the float plugin itself (h = 1e-3, the step
 *     actually stored) is reported too, and its MEDIAN error must stay under
 *     5e-2 (measured 6e-4..8e-3): a coarse, independent end-to-end check
 *     that does not trust the twin. Its worst case is only printed (kinks). */
#include <math.h>

#include "rn_ref.h"
#include "rn_test.h"

#define BATCH 4
#define OUT_DIM 8
#define SAMPLES_MAX 80
#define REF_STEP 1e-6
#define FLOAT_STEP 1e-3
#define FLOOR 1e-3
#define TOL 1e-2
#define FWD_TOL 1e-3
#define FLOAT_MEDIAN_TOL 5e-2

static int verbose;

typedef struct gc_ctx {
    rt_model r;
    float *x;      // (BATCH, 3, size, size)
    float *rw;     // (BATCH, OUT_DIM)
    float *out;    // (BATCH, OUT_DIM)
} gc_ctx;

static double loss(gc_ctx *g) {
    moco_error err = {{0}};
    int32_t rc = g->r.api->forward(g->r.m, g->out, NULL, g->x, BATCH, 1, &err);
    MT_CHECK(rc == MOCO_OK, "forward: %s", err.msg);
    double l = 0;
    for (int i = 0; i < BATCH * OUT_DIM; i++) l += (double)g->out[i] * g->rw[i];
    return l;
}

/* Relative error of a gradient sample against its reference, with an
 * absolute floor so near-zero gradients are judged on the gradient scale. */
static double rel_err(double got, double want, double floor) {
    return fabs(got - want) / (fabs(want) + floor);
}

static double ref_loss(const ref_net *net, const gc_ctx *g, int32_t size) {
    double out[BATCH * OUT_DIM];
    ref_forward(net, out, NULL, g->x, BATCH, 3, size, size);
    double l = 0;
    for (int i = 0; i < BATCH * OUT_DIM; i++) l += out[i] * g->rw[i];
    return l;
}

static void gradcheck(const char *stem, const char *head, int32_t size) {
    const char *kv[] = {"stem", stem, "head", head, "width", "4", NULL};
    gc_ctx g;
    rt_create_ok(&g.r, kv, 7, 3, size, size, BATCH, OUT_DIM);
    const moco_backbone_info *in = &g.r.info;
    int64_t nx = (int64_t)BATCH * 3 * size * size;
    g.x = malloc(sizeof(float) * nx);
    g.rw = malloc(sizeof(float) * BATCH * OUT_DIM);
    g.out = malloc(sizeof(float) * BATCH * OUT_DIM);
    rt_fill_normal(g.x, nx, 11);
    rt_fill_uniform(g.rw, BATCH * OUT_DIM, 13);

    ref_net net = {&g.r, !strcmp(stem, "imagenet"), !strcmp(head, "mlp"), 1e-5,
                   malloc(sizeof(double) * in->params.count)};
    for (int64_t i = 0; i < in->params.count; i++) net.p[i] = in->params.data[i];

    /* 1. the plugin computes the twin's function (so FD of the twin is FD of
     *    the plugin, without float noise) */
    MOCO_ASSERT(in->feat_dim == 32);   /* width 4 */
    float feat[BATCH * 32];
    double out_d[BATCH * OUT_DIM], feat_d[BATCH * 32];
    moco_error err = {{0}};
    int32_t rc = g.r.api->forward(g.r.m, g.out, feat, g.x, BATCH, 1, &err);
    MT_CHECK(rc == MOCO_OK, "forward: %s", err.msg);
    ref_forward(&net, out_d, feat_d, g.x, BATCH, 3, size, size);
    double fwd = 0, fwd_feat = 0;
    for (int i = 0; i < BATCH * OUT_DIM; i++) {
        double e = rel_err(g.out[i], out_d[i], 1e-3);
        if (e > fwd) fwd = e;
    }
    /* Pooled features after ReLU include values near 0 whose float error
     * comes from BNs normalising 4 values (absolute ~3e-5): judge them on the
     * features' own scale (floor 5% of their rms), as the gradients are. */
    double feat_rms = 0;
    for (int i = 0; i < BATCH * in->feat_dim; i++) feat_rms += feat_d[i] * feat_d[i];
    feat_rms = sqrt(feat_rms / (BATCH * in->feat_dim));
    for (int i = 0; i < BATCH * in->feat_dim; i++) {
        double e = rel_err(feat[i], feat_d[i], 1e-3 + 0.05 * feat_rms);
        if (e > fwd_feat) fwd_feat = e;
    }

    /* 2. backward of the same train-mode forward */
    memset(in->grads.data, 0, sizeof(float) * in->grads.count);
    rc = g.r.api->backward(g.r.m, g.rw, &err);
    MT_CHECK(rc == MOCO_OK, "backward: %s", err.msg);

    /* one random element of every parameter tensor */
    int64_t idx[SAMPLES_MAX];
    const char *names[SAMPLES_MAX];
    int ns = 0;
    moco_rng pick;
    moco_rng_seed(&pick, 17);
    for (int32_t i = 0; i < in->num_tensors && ns < SAMPLES_MAX; i++) {
        moco_tensor_desc d = rt_tensor(&g.r, i);
        if (d.role != MOCO_ROLE_PARAM) continue;
        int64_t k = (int64_t)moco_rng_below(&pick, (uint64_t)moco_numel(d.ndim, d.shape));
        idx[ns] = ((float *)d.data - in->params.data) + k;
        names[ns] = d.name;
        ns++;
    }

    /* 3. central differences: of the double twin (the check), and of the
     *    plugin itself in float (reported, loosely checked) */
    double bp[SAMPLES_MAX] = {0}, fd[SAMPLES_MAX] = {0}, ff[SAMPLES_MAX] = {0}, rms = 0;
    for (int s = 0; s < ns; s++) {
        bp[s] = in->grads.data[idx[s]];
        double *q = &net.p[idx[s]];
        const double q0 = *q;
        *q = q0 + REF_STEP;
        double lp = ref_loss(&net, &g, size);
        *q = q0 - REF_STEP;
        double lm = ref_loss(&net, &g, size);
        *q = q0;
        fd[s] = (lp - lm) / (2 * REF_STEP);

        float *p = &in->params.data[idx[s]];
        const float p0 = *p;
        *p = (float)(p0 + FLOAT_STEP);
        const float hi = *p;
        lp = loss(&g);
        *p = (float)(p0 - FLOAT_STEP);
        const float lo = *p;
        lm = loss(&g);
        *p = p0;
        ff[s] = (lp - lm) / ((double)hi - (double)lo);   /* the step actually taken */
        rms += fd[s] * fd[s];
    }
    rms = sqrt(rms / ns);
    const double floor = FLOOR * rms;
    double worst = 0, worst_f = 0, errs_f[SAMPLES_MAX];
    int ws = 0, over = 0;
    for (int s = 0; s < ns; s++) {
        double e = rel_err(bp[s], fd[s], floor);
        errs_f[s] = rel_err(bp[s], ff[s], floor);
        if (verbose)
            printf("  %-36s backward %+.6e twin-fd %+.6e (%.1e) float-fd %+.6e (%.1e)\n",
                   names[s], bp[s], fd[s], e, ff[s], errs_f[s]);
        if (e > worst || e != e) {
            worst = e;
            ws = s;
        }
        if (errs_f[s] > worst_f) worst_f = errs_f[s];
        over += !(e <= TOL);
    }
    /* median of the float-FD errors */
    for (int a = 1; a < ns; a++)
        for (int b = a; b > 0 && errs_f[b - 1] > errs_f[b]; b--) {
            double t = errs_f[b];
            errs_f[b] = errs_f[b - 1];
            errs_f[b - 1] = t;
        }
    double median_f = errs_f[ns / 2];
    printf("  %s stem, %s head, %dx%d, batch %d, width 4: forward vs twin %.1e (feat %.1e); "
           "%d samples, grad rms %.2e\n"
           "    backward vs twin FD (h %.0e): worst rel err %.2e (%s: %.6e vs %.6e), %d over "
           "%.0e\n"
           "    backward vs float FD of the plugin (h %.0e): worst %.2e, median %.2e\n",
           stem, head, (int)size, (int)size, BATCH, fwd, fwd_feat, ns, rms, REF_STEP, worst,
           names[ws], bp[ws], fd[ws], over, TOL, FLOAT_STEP, worst_f, median_f);
    MT_CHECK(fwd <= FWD_TOL, "forward differs from the twin: %.3e", fwd);
    MT_CHECK(fwd_feat <= FWD_TOL, "features differ from the twin: %.3e", fwd_feat);
    MT_CHECK(ns >= 60, "%d samples", ns);
    MT_CHECK(rms > 0, "all sampled gradients are zero");
    MT_CHECK(over == 0, "%d of %d samples over %.0e (worst %s: %.3e)", over, ns, TOL,
             names[ws], worst);
    MT_CHECK(median_f <= FLOAT_MEDIAN_TOL, "float FD median error %.3e", median_f);
    free(net.p);
    free(g.x);
    free(g.rw);
    free(g.out);
    rt_destroy(&g.r);
}

static void test_cifar_linear(void) { gradcheck("cifar", "linear", 8); }
static void test_cifar_mlp(void) { gradcheck("cifar", "mlp", 16); }
static void test_imagenet_linear(void) { gradcheck("imagenet", "linear", 16); }
static void test_imagenet_mlp(void) { gradcheck("imagenet", "mlp", 32); }

int main(void) {
    verbose = getenv("MOCO_TEST_VERBOSE") != NULL;
    MT_RUN(test_cifar_linear);
    MT_RUN(test_cifar_mlp);
    MT_RUN(test_imagenet_linear);
    MT_RUN(test_imagenet_mlp);
    return mt_finish();
}
