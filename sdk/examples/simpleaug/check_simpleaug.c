/* check_simpleaug — test an augmentation plugin without moco-host.
 *
 *   usage: check_simpleaug PATH/simpleaug.so
 *
 * Loads the .so as the host does (dlopen + `moco_entry`, version and kind
 * checked first) and drives it through a fake moco_host. Checks:
 *   1. a view is a pure function of the seed: same seed, same bytes (also
 *      from another thread at the same time); other seeds give other views;
 *   2. apply_eval is normalisation only, value by value;
 *   3. pad = 0 and flip = false make apply() equal apply_eval();
 *   4. a flipped, shifted view is the expected window of the padded image;
 *   5. bad keys are refused with file:line and a HINT.
 * Prints "N passed, N failed"; exit status 0 only when nothing failed. */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "moco/moco.h"

static int passed, failed;
static void check(int ok, const char *what) {
    if (ok) passed++; else { failed++; printf("FAILED: %s\n", what); }
}

/* ---- a fake host: one INI section as a key/value table ----------------- */
typedef struct fake_section { const char *const *kv; } fake_section;   /* k, v, ..., NULL */
static void fake_log(void *c, int32_t level, const char *msg) {
    (void)c;
    if (level >= MOCO_LOG_WARN) fprintf(stderr, "[simpleaug] %s\n", msg);
}
static int32_t fake_get(void *c, const char *key, const char **value, int32_t *line) {
    const fake_section *s = c;
    for (int32_t i = 0; s->kv[i]; i += 2)
        if (!strcmp(s->kv[i], key)) {
            *value = s->kv[i + 1];
            if (line) *line = 2 + i / 2;
            return 1;
        }
    return 0;
}
static const char *fake_file(void *c) { (void)c; return "check.ini"; }
static const char *fake_name(void *c) { (void)c; return "augment"; }
static const char *fake_dir(void *c) { (void)c; return "."; }
static uint64_t fake_rng(void *c, const char *name) { (void)c; (void)name; return 1; }
static moco_host fake_host(fake_section *s) {
    moco_host h = {MOCO_SDK_VERSION_INIT, s, fake_log, fake_get, fake_file, fake_name,
                   fake_rng, fake_dir};
    return h;
}

enum { C = 3, H = 6, W = 5, N = C * H * W };
static const float MEAN[C] = {0.5f, 0.25f, 0.125f}, STD[C] = {0.5f, 0.25f, 2.0f};

static const moco_augment_api *api;
static void *aug;
static uint8_t img[N];

static void *view_thread(void *out) {
    moco_error err;
    api->apply(aug, out, img, 42, &err);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: check_simpleaug PATH/simpleaug.so\n");
        return 2;
    }
    void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    const moco_plugin_entry *e = so ? dlsym(so, MOCO_PLUGIN_ENTRY_SYMBOL) : NULL;
    if (!e || e->sdk_version.major != MOCO_SDK_VERSION_MAJOR ||
        e->sdk_version.minor > MOCO_SDK_VERSION_MINOR || e->kind != MOCO_KIND_AUGMENT) {
        fprintf(stderr, "check_simpleaug: %s: not an augment plugin for SDK %d.%d (%s)\n",
                argv[1], MOCO_SDK_VERSION_MAJOR, MOCO_SDK_VERSION_MINOR,
                so ? "entry" : dlerror());
        return 1;
    }
    api = e->api;
    for (int i = 0; i < N; i++) img[i] = (uint8_t)(7 * i + 3);

    static const char *const keys[] = {"pad", "2", "mean", "0.5, 0.25, 0.125",
                                       "std", "0.5,0.25,2", NULL};
    fake_section sec = {keys};
    moco_host host = fake_host(&sec);
    moco_image_shape in = {C, H, W, 0}, out;
    moco_error err;
    if (api->create(&host, &in, &aug, &err)) {
        fprintf(stderr, "create failed: %s\n", err.msg);
        return 1;
    }
    api->output_shape(aug, &out);
    check(out.channels == C && out.height == H && out.width == W, "output shape = input");

    /* 1. Determinism, also with two threads at once. */
    float a[N], b[N], t1[N], t2[N];
    api->apply(aug, a, img, 42, &err);
    api->apply(aug, b, img, 42, &err);
    check(!memcmp(a, b, sizeof a), "same seed, same view");
    pthread_t th1, th2;
    pthread_create(&th1, NULL, view_thread, t1);
    pthread_create(&th2, NULL, view_thread, t2);
    pthread_join(th1, NULL);
    pthread_join(th2, NULL);
    check(!memcmp(a, t1, sizeof a) && !memcmp(a, t2, sizeof a), "same view from two threads");
    int differ = 0;
    for (uint64_t s = 1; s < 9; s++) {
        api->apply(aug, b, img, s, &err);
        differ += memcmp(a, b, sizeof a) != 0;
    }
    check(differ >= 6, "other seeds give other views");

    /* 2. Eval: (v / 255 - mean) / std at every pixel. */
    float ev[N];
    check(api->apply_eval(aug, ev, img, &err) == 0, "apply_eval");
    double worst = 0;
    for (int i = 0; i < N; i++) {
        int ch = i / (H * W);
        double want = ((double)img[i] / 255.0 - MEAN[ch]) / STD[ch];
        if (fabs(ev[i] - want) > worst) worst = fabs(ev[i] - want);
    }
    check(worst < 1e-5, "apply_eval normalises with mean and std");

    /* 4. Some seed gives a flipped, shifted view: every value must be the
     * normalised pixel of the zero-padded image under some window (dy, dx). */
    int found = 0;
    for (uint64_t s = 1; s < 200 && !found; s++) {
        api->apply(aug, b, img, s, &err);
        for (int dy = 0; dy <= 4 && !found; dy++)
            for (int dx = 0; dx <= 4 && !found; dx++) {
                int ok = 1;
                for (int ch = 0; ch < C && ok; ch++)
                    for (int y = 0; y < H && ok; y++)
                        for (int x = 0; x < W && ok; x++) {
                            int sy = y + dy - 2, sx = (W - 1 - x) + dx - 2;
                            double v = sy >= 0 && sy < H && sx >= 0 && sx < W
                                           ? img[(ch * H + sy) * W + sx] : 0;
                            double want = (v / 255.0 - MEAN[ch]) / STD[ch];
                            ok = fabs(b[(ch * H + y) * W + x] - want) < 1e-5;
                        }
                found = ok && (dy != 2 || dx != 2);
            }
    }
    check(found, "a flipped, shifted view is a window of the zero-padded image");
    api->destroy(aug);

    /* 3. Without padding and flip, apply() is apply_eval(). */
    static const char *const plain_keys[] = {"pad", "0", "flip", "false", "mean", "0.5,0.25,0.125",
                                             "std", "0.5,0.25,2", NULL};
    fake_section plain = {plain_keys};
    host = fake_host(&plain);
    check(api->create(&host, &in, &aug, &err) == 0, "create pad = 0, flip = false");
    api->apply(aug, a, img, 7, &err);
    check(!memcmp(a, ev, sizeof a), "pad = 0, flip = false: apply == apply_eval");
    api->destroy(aug);

    /* 5. Bad keys. */
    static const char *const bad1[] = {"mean", "0.5,0.5", NULL};
    static const char *const bad2[] = {"std", "0", NULL};
    static const char *const bad3[] = {"pad", "-1", NULL};
    const char *const *bad[] = {bad1, bad2, bad3};
    for (int k = 0; k < 3; k++) {
        fake_section bs = {bad[k]};
        host = fake_host(&bs);
        aug = NULL;
        int32_t rc = api->create(&host, &in, &aug, &err);
        char what[64];
        snprintf(what, sizeof what, "%s = %s is refused with file:line and a HINT", bad[k][0],
                 bad[k][1]);
        check(rc != 0 && aug == NULL && !strncmp(err.msg, "check.ini:2: [augment]", 22) &&
                  strstr(err.msg, "HINT"), what);
        printf("  (%s)\n", err.msg);
    }
    dlclose(so);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
