/* check_tinycnn — test a backbone plugin without moco-host.
 *
 *   usage: check_tinycnn PATH/tinycnn.so
 *
 * Loads the .so exactly as the host does (dlopen, read `moco_entry`, check
 * the SDK version and kind before calling anything) and drives it through a
 * fake moco_host whose INI section is a small table. Checks:
 *   1. two instances created from one section are bit-identical;
 *   2. every parameter gradient of backward() matches a central finite
 *      difference of L = sum(out * dout) (train-mode forward, BN batch stats),
 *      except the few entries with a ReLU kink within the step (detected by
 *      two step sizes disagreeing; they must stay under 10%). A tiny model
 *      (width 2, 8x8 inputs) keeps the ReLU units, hence the kinks, few;
 *   3. the errors a user can cause come back as errors with a HINT (bad key
 *      with its file:line, n > max_batch, backward after an eval forward).
 * Prints "N passed, N failed"; exit status 0 only when nothing failed. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moco/moco.h"

static int passed, failed;
static void check(int ok, const char *what) {
    if (ok) passed++; else { failed++; printf("FAILED: %s\n", what); }
}

/* ---- a fake host: one INI section as a key/value table ----------------- */
typedef struct fake_section {
    const char *const *kv;   /* key, value, key, value, ..., NULL */
} fake_section;

static void fake_log(void *ctx, int32_t level, const char *msg) {
    (void)ctx;
    if (level >= MOCO_LOG_WARN) fprintf(stderr, "[tinycnn] %s\n", msg);
}
static int32_t fake_get(void *ctx, const char *key, const char **value, int32_t *line) {
    const fake_section *s = ctx;
    for (int32_t i = 0; s->kv[i]; i += 2)
        if (!strcmp(s->kv[i], key)) {
            *value = s->kv[i + 1];
            if (line) *line = 2 + i / 2;   /* pretend line numbers */
            return 1;
        }
    return 0;
}
static const char *fake_file(void *ctx) { (void)ctx; return "check.ini"; }
static const char *fake_section_name(void *ctx) { (void)ctx; return "backbone"; }
static const char *fake_dir(void *ctx) { (void)ctx; return "."; }
static uint64_t fake_rng(void *ctx, const char *name) {
    (void)ctx;
    uint64_t h = 1234;
    for (; *name; name++) h = moco_seed_mix(h, (unsigned char)*name);
    return h;
}
static moco_host fake_host(fake_section *s) {
    moco_host h = {MOCO_SDK_VERSION_INIT, s, fake_log, fake_get, fake_file,
                   fake_section_name, fake_rng, fake_dir};
    return h;
}

/* ---- loading, as host/plugin.c does ------------------------------------ */
static const moco_backbone_api *load(const char *path, void **handle) {
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) {
        fprintf(stderr, "check_tinycnn: %s\n", dlerror());
        return NULL;
    }
    const moco_plugin_entry *e = dlsym(*handle, MOCO_PLUGIN_ENTRY_SYMBOL);
    if (!e || e->sdk_version.major != MOCO_SDK_VERSION_MAJOR ||
        e->sdk_version.minor > MOCO_SDK_VERSION_MINOR || e->kind != MOCO_KIND_BACKBONE) {
        fprintf(stderr, "check_tinycnn: %s: not a backbone plugin for SDK %d.%d\n", path,
                MOCO_SDK_VERSION_MAJOR, MOCO_SDK_VERSION_MINOR);
        return NULL;
    }
    return e->api;
}

/* batch, input (C, H, W), embedding dim, max_batch the model is made for */
enum { N = 4, C = 3, H = 8, W = 8, DIM = 5, MAXB = 6 };

/* L = sum(out * r), in double. */
static double loss_of(const moco_backbone_api *api, void *m, const float *x, const float *r) {
    float out[MAXB * DIM];
    moco_error err;
    if (api->forward(m, out, NULL, x, N, 1, &err)) {
        fprintf(stderr, "forward failed: %s\n", err.msg);
        exit(1);
    }
    double l = 0;
    for (int i = 0; i < N * DIM; i++) l += (double)out[i] * r[i];
    return l;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: check_tinycnn PATH/tinycnn.so\n");
        return 2;
    }
    void *so;
    const moco_backbone_api *api = load(argv[1], &so);
    if (!api) return 1;

    static const char *const keys[] = {"width", "2", "bn_momentum", "0.1", NULL};
    fake_section sec = {keys};
    moco_host host = fake_host(&sec);
    moco_error err;
    void *a = NULL, *b = NULL;
    int32_t rc = api->create(&host, C, H, W, MAXB, DIM, &a, &err);
    if (rc) {
        fprintf(stderr, "create failed: %s\n", err.msg);
        return 1;
    }
    check(api->create(&host, C, H, W, MAXB, DIM, &b, &err) == 0, "second instance");

    /* 1. Same section, same rng stream: identical parameters and buffers. */
    moco_backbone_info ia, ib;
    api->info(a, &ia);
    api->info(b, &ib);
    check(ia.out_dim == DIM && ia.feat_dim == 16 && ia.num_tensors == 26, "info sizes");
#if MOCO_SDK_VERSION_MINOR >= 1
    check(ia.sdk_version.minor >= 1 && ia.memory_bytes > 0, "memory_bytes (since 1.1)");
#endif
    check(ia.params.count == ib.params.count &&
              !memcmp(ia.params.data, ib.params.data, (size_t)ia.params.count * 4) &&
              !memcmp(ia.buffers.data, ib.buffers.data, (size_t)ia.buffers.count * 4),
          "two instances are identical");
    moco_tensor_desc d0, dl;
    api->tensor(a, 0, &d0);
    api->tensor(a, ia.num_tensors - 1, &dl);
    check(!strcmp(d0.name, "conv1.weight") && !strcmp(dl.name, "fc.bias") &&
              d0.data == (void *)ia.params.data && d0.grad == ia.grads.data,
          "tensor table starts at the arenas, conv1.weight ... fc.bias");

    /* 2. Gradients against central differences, every parameter. */
    moco_rng g;
    moco_rng_seed(&g, 7);
    float x[N * C * H * W], r[N * DIM];
    for (int i = 0; i < N * C * H * W; i++) x[i] = (float)moco_rng_normal(&g);
    for (int i = 0; i < N * DIM; i++) r[i] = (float)moco_rng_normal(&g);
    float out[MAXB * DIM];
    memset(ia.grads.data, 0, (size_t)ia.grads.count * sizeof(float));
    check(api->forward(a, out, NULL, x, N, 1, &err) == 0, "train forward");
    check(api->backward(a, r, &err) == 0, "backward");
    float *grad = malloc((size_t)ia.params.count * sizeof(float));
    memcpy(grad, ia.grads.data, (size_t)ia.params.count * sizeof(float));
    /* ReLU makes L piecewise smooth: a kink inside [p - eps, p + eps] spoils
     * the difference. Two step sizes that disagree reveal it; such entries
     * are skipped (and counted), every other one must match. */
    const float eps = 1e-3f;
    int64_t bad = 0, kinked = 0;
    double worst = 0;
    for (int64_t i = 0; i < ia.params.count; i++) {
        double fd[2];
        for (int k = 0; k < 2; k++) {
            float keep = ia.params.data[i], h = k ? eps / 2 : eps;
            ia.params.data[i] = keep + h;
            double lp = loss_of(api, a, x, r);
            ia.params.data[i] = keep - h;
            double lm = loss_of(api, a, x, r);
            ia.params.data[i] = keep;
            fd[k] = (lp - lm) / (2.0 * (double)h);
        }
        double scale = fabs(fd[1]) + fabs(grad[i]) + 1e-2;
        if (fabs(fd[0] - fd[1]) > 1e-2 * scale) {
            kinked++;
            continue;
        }
        double e = fabs(fd[1] - grad[i]) / scale;
        if (e > worst) worst = e;
        /* Float forward passes: the loss carries ~1e-7 relative rounding and
         * BN over few values amplifies it; measured worst 1e-2..2e-2 (it
         * moves with the conv algorithm, e.g. Winograd); a wrong gradient
         * term gives O(1). */
        if (e > 5e-2) bad++;
    }
    printf("gradient check: %lld parameters, %lld skipped (ReLU kink within eps), worst "
           "relative error %.2e, %lld above 5e-2\n",
           (long long)ia.params.count, (long long)kinked, worst, (long long)bad);
    check(kinked * 10 < ia.params.count, "fewer than 10% of the entries near a kink");
    check(bad == 0, "backward matches finite differences");
    free(grad);

    /* 3. Errors a user can cause. */
    float feat[MAXB * 16];
    check(api->forward(a, out, feat, x, N, 0, &err) == 0, "eval forward with feat");
    check(api->backward(a, r, &err) != 0 && strstr(err.msg, "HINT"),
          "backward after an eval forward is refused");
    float big[(MAXB + 1) * C * H * W];
    memset(big, 0, sizeof big);
    float big_out[(MAXB + 1) * DIM];
    check(api->forward(a, big_out, NULL, big, MAXB + 1, 0, &err) != 0 &&
              strstr(err.msg, "HINT"),
          "n > max_batch is refused");
    static const char *const bad_keys[] = {"width", "0", NULL};
    fake_section bad_sec = {bad_keys};
    moco_host bad_host = fake_host(&bad_sec);
    void *c = NULL;
    check(api->create(&bad_host, C, H, W, MAXB, DIM, &c, &err) != 0 && c == NULL &&
              strstr(err.msg, "check.ini:2: [backbone] width") && strstr(err.msg, "HINT"),
          "width = 0 is refused with file:line and a HINT");
    printf("  (%s)\n", err.msg);

    api->destroy(a);
    api->destroy(b);
    dlclose(so);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
