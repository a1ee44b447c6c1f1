/* Helpers shared by the resnet18 backbone tests: load the built plugin once,
 * create a model from a key/value list, look tensors up by name. */
#ifndef MOCO_RN_TEST_H
#define MOCO_RN_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moco/moco.h"
#include "mtest.h"
#include "test_host.h"

typedef struct rt_model {
    test_host th;
    const moco_backbone_api *api;
    void *m;
    moco_backbone_info info;
} rt_model;

/* Which plugin the including test exercises (resnet34 is built from the
 * same sources). */
#ifndef RT_PLUGIN
#define RT_PLUGIN "resnet18"
#endif

/* The plugin's api, loaded once; aborts the test program if it is missing. */
static inline const moco_backbone_api *rt_api(void) {
    static const moco_backbone_api *api;
    if (api) return api;
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, RT_PLUGIN);
    if (!e || e->kind != MOCO_KIND_BACKBONE || strcmp(e->name, RT_PLUGIN) != 0) {
        fprintf(stderr, "cannot load the " RT_PLUGIN " backbone plugin\n");
        exit(2);
    }
    api = e->api;
    return api;
}

/* Create with the NULL-terminated key/value list kv; returns the status and
 * leaves r->m NULL on failure (err filled). seed: the test host's run seed. */
static inline int32_t rt_create(rt_model *r, const char *const *kv, uint64_t seed,
                                int32_t c, int32_t h, int32_t w, int32_t max_batch,
                                int32_t out_dim, moco_error *err) {
    memset(r, 0, sizeof *r);
    th_init(&r->th, "backbone", kv);
    r->th.seed = seed;
    r->api = rt_api();
    int32_t rc = r->api->create(&r->th.host, c, h, w, max_batch, out_dim, &r->m, err);
    if (rc == MOCO_OK) r->api->info(r->m, &r->info);
    return rc;
}

/* Create or fail the whole program (setup that must work). */
static inline void rt_create_ok(rt_model *r, const char *const *kv, uint64_t seed,
                                int32_t c, int32_t h, int32_t w, int32_t max_batch,
                                int32_t out_dim) {
    moco_error err = {{0}};
    if (rt_create(r, kv, seed, c, h, w, max_batch, out_dim, &err) != MOCO_OK) {
        fprintf(stderr, "create failed: %s\n", err.msg);
        exit(2);
    }
}

static inline void rt_destroy(rt_model *r) {
    if (r->m) r->api->destroy(r->m);
    r->m = NULL;
}

static inline moco_tensor_desc rt_tensor(const rt_model *r, int32_t i) {
    moco_tensor_desc d;
    r->api->tensor(r->m, i, &d);
    return d;
}

/* Tensor by name; aborts when absent (a test bug, or a missing tensor that
 * the table test reports separately). */
static inline moco_tensor_desc rt_find(const rt_model *r, const char *name) {
    for (int32_t i = 0; i < r->info.num_tensors; i++) {
        moco_tensor_desc d = rt_tensor(r, i);
        if (strcmp(d.name, name) == 0) return d;
    }
    fprintf(stderr, "no tensor %s\n", name);
    exit(2);
}

/* Deterministic test data: normal(0, 1) or uniform(-1, 1). */
static inline void rt_fill_normal(float *p, int64_t n, uint64_t seed) {
    moco_rng g;
    moco_rng_seed(&g, seed);
    for (int64_t i = 0; i < n; i++) p[i] = (float)moco_rng_normal(&g);
}
static inline void rt_fill_uniform(float *p, int64_t n, uint64_t seed) {
    moco_rng g;
    moco_rng_seed(&g, seed);
    for (int64_t i = 0; i < n; i++) p[i] = (float)moco_rng_range(&g, -1.0, 1.0);
}

static inline int rt_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

#endif
