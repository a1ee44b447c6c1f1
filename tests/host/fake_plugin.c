/* A deliberately broken objective plugin, compiled several ways to test how
 * the host refuses bad plugins:
 *   FAKE_MAJOR / FAKE_MINOR  SDK version written into the entry
 *   FAKE_NULL_LOSS           a required function left NULL
 *   FAKE_NO_ENTRY            no moco_entry symbol at all */
#include "moco/moco.h"

static int32_t create(const moco_host *h, int32_t dim, void **out, moco_error *err) {
    (void)h; (void)dim; (void)err;
    *out = NULL;
    return MOCO_OK;
}
static void destroy(void *o) { (void)o; }
__attribute__((unused)) static int32_t loss(void *o, moco_objective_result *res, float *dq, float *logits,
                    const float *q, const float *k, const float *neg, int32_t n, int32_t count,
                    int32_t dim, moco_error *err) {
    (void)o; (void)res; (void)dq; (void)logits; (void)q; (void)k; (void)neg; (void)n;
    (void)count; (void)dim; (void)err;
    return MOCO_OK;
}

#ifndef FAKE_MAJOR
#define FAKE_MAJOR MOCO_SDK_VERSION_MAJOR
#endif
#ifndef FAKE_MINOR
#define FAKE_MINOR MOCO_SDK_VERSION_MINOR
#endif

static const moco_objective_api api = {
    {FAKE_MAJOR, FAKE_MINOR}, create, destroy,
#ifdef FAKE_NULL_LOSS
    NULL,
#else
    loss,
#endif
};

#ifndef FAKE_NO_ENTRY
MOCO_EXPORT extern const moco_plugin_entry moco_entry;
MOCO_EXPORT const moco_plugin_entry moco_entry = {
    {FAKE_MAJOR, FAKE_MINOR}, MOCO_KIND_OBJECTIVE, 0, "fake", "0.0.1", "test plugin", &api};
#else
MOCO_EXPORT int not_a_plugin_symbol = 1;
const void *fake_keep_api(void);
MOCO_EXPORT const void *fake_keep_api(void) { return &api; }
#endif
