/* A stand-in host for plugin unit tests: a key=value list as the plugin's
 * INI section, logging to stderr, deterministic RNG streams, and dlopen of
 * a built plugin by name. Header-only; one per test program. */
#ifndef MOCO_TEST_HOST_H
#define MOCO_TEST_HOST_H

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "moco/moco.h"

#define TH_MAX_KEYS 32
typedef struct test_host {
    moco_host host;
    const char *keys[TH_MAX_KEYS];
    const char *values[TH_MAX_KEYS];
    int used[TH_MAX_KEYS];
    int nkeys;
    uint64_t seed;
    const char *section;
} test_host;

static void th_log(void *ctx, int32_t level, const char *msg) {
    (void)ctx;
    fprintf(stderr, "[plugin %d] %s\n", level, msg);
}
static int32_t th_get(void *ctx, const char *key, const char **value, int32_t *line) {
    test_host *t = ctx;
    for (int i = 0; i < t->nkeys; i++)
        if (strcmp(t->keys[i], key) == 0) {
            t->used[i] = 1;
            *value = t->values[i];
            if (line) *line = i + 1;
            return 1;
        }
    return 0;
}
static const char *th_file(void *ctx) { (void)ctx; return "test.ini"; }
static const char *th_section(void *ctx) { return ((test_host *)ctx)->section; }
static const char *th_dir(void *ctx) { (void)ctx; return "."; }
static uint64_t th_rng(void *ctx, const char *name) {
    uint64_t h = ((test_host *)ctx)->seed;
    for (const char *p = name; *p; p++) h = moco_seed_mix(h, (unsigned char)*p);
    return h;
}

/* Initialise with a NULL-terminated list "key", "value", "key", "value", ... */
static inline void th_init(test_host *t, const char *section, const char *const *kv) {
    memset(t, 0, sizeof *t);
    t->host.sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    t->host.ctx = t;
    t->host.log = th_log;
    t->host.config_get = th_get;
    t->host.config_file = th_file;
    t->host.config_section = th_section;
    t->host.rng_stream = th_rng;
    t->host.config_dir = th_dir;
    t->seed = 1234;
    t->section = section;
    for (int i = 0; kv && kv[2 * i] && t->nkeys < TH_MAX_KEYS; i++) {
        t->keys[t->nkeys] = kv[2 * i];
        t->values[t->nkeys] = kv[2 * i + 1];
        t->nkeys++;
    }
}

/* dlopen <build>/plugins/<name>.so and return its entry (NULL + message). */
static inline const moco_plugin_entry *th_load_plugin(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    const moco_plugin_entry *e = dlsym(h, MOCO_PLUGIN_ENTRY_SYMBOL);
    if (!e) fprintf(stderr, "%s: no %s\n", path, MOCO_PLUGIN_ENTRY_SYMBOL);
    return e;
}

#endif
