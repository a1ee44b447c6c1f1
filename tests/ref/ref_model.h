/* ResNet-18 fixtures on the C side: create the resnet18 plugin with a
 * fixture's config, fill its tensors by torchvision name from the fixture's
 * init/ records, and read tensors back by name. Needs fixture.h and
 * tests/backbone/rn_test.h. */
#ifndef MOCO_REF_MODEL_H
#define MOCO_REF_MODEL_H

#include "fixture.h"
#include "rn_test.h"

/* config = [stem (0 cifar, 1 imagenet), width, head (0 linear, 1 mlp), dim,
 *           batch, channels, height, width, ...] */
typedef struct ref_config {
    int32_t stem, width, head, dim, batch, c, h, w;
    char width_s[16];
} ref_config;

static inline ref_config ref_read_config(const ref_fixture *f) {
    const ref_tensor *t = ref_find(f, "config");
    if (!t || t->dtype != REF_I64 || t->numel < 8) {
        fprintf(stderr, "%s: no config\n", f->path);
        exit(2);
    }
    const int64_t *v = t->data;
    ref_config c = {(int32_t)v[0], (int32_t)v[1], (int32_t)v[2], (int32_t)v[3],
                    (int32_t)v[4], (int32_t)v[5], (int32_t)v[6], (int32_t)v[7], ""};
    snprintf(c.width_s, sizeof c.width_s, "%d", (int)c.width);
    return c;
}

/* The resnet18 plugin built as the fixture's model (BN momentum/eps are the
 * plugin defaults, 0.1 and 1e-5, as in the fixture). */
static inline void ref_create_model(rt_model *r, const ref_config *c) {
    const char *kv[] = {"stem", c->stem ? "imagenet" : "cifar", "width", c->width_s,
                        "head", c->head ? "mlp" : "linear", NULL};
    rt_create_ok(r, kv, 1, c->c, c->h, c->w, c->batch, c->dim);
}

/* Fill every tensor of a backbone from "init/<name>"; checks each against
 * "initcheck/<name>" (first, last, sum as the script computed them), so a
 * generator mismatch is reported as such and not as a numerical error.
 * Returns the number of tensors without an init record (should be 0). */
static inline int ref_fill_weights(const ref_fixture *f, const moco_backbone_api *api, void *m) {
    moco_backbone_info info;
    api->info(m, &info);
    int missing = 0;
    for (int32_t i = 0; i < info.num_tensors; i++) {
        moco_tensor_desc d;
        api->tensor(m, i, &d);
        char key[REF_MAX_NAME + 16];
        snprintf(key, sizeof key, "init/%s", d.name);
        const ref_tensor *t = ref_find(f, key);
        if (!t || t->dtype != REF_F32 || t->numel != 2) {
            MT_CHECK(0, "%s: our tensor %s has no torchvision counterpart %s", f->path, d.name, key);
            missing++;
            continue;
        }
        const float *os = t->data;
        int64_t n = moco_numel(d.ndim, d.shape);
        float *v = d.data;
        ref_init_fill(v, n, d.name, os[0], os[1]);
        snprintf(key, sizeof key, "initcheck/%s", d.name);
        const float *chk = ref_f32(f, key, 3);
        double sum = 0;
        for (int64_t k = 0; k < n; k++) sum += v[k];
        MT_CHECK(v[0] == chk[0] && v[n - 1] == chk[1] &&
                     fabs(sum - chk[2]) <= 1e-5 * (1.0 + fabs((double)chk[2])),
                 "%s: weight generator differs from the script's for %s", f->path, d.name);
    }
    return missing;
}

/* Tensor of a backbone by name, or NULL. */
static inline int ref_tensor_by_name(const moco_backbone_api *api, void *m, const char *name,
                                     moco_tensor_desc *out) {
    moco_backbone_info info;
    api->info(m, &info);
    for (int32_t i = 0; i < info.num_tensors; i++) {
        api->tensor(m, i, out);
        if (!strcmp(out->name, name)) return 1;
    }
    return 0;
}

/* Compare every tensor of `role` of a backbone (its gradient when
 * use_grad) with the fixture entries "<prefix><name>". num_batches_tracked
 * is an int64 in the fixture (torch) and a float in ours: compared exactly
 * into `counters`; the rest with s. */
static inline void ref_cmp_model(ref_stat *s, ref_stat *counters, const ref_fixture *f,
                                 const char *prefix, const moco_backbone_api *api, void *m,
                                 int32_t role, int use_grad) {
    moco_backbone_info info;
    api->info(m, &info);
    for (int32_t i = 0; i < info.num_tensors; i++) {
        moco_tensor_desc d;
        api->tensor(m, i, &d);
        if (d.role != role) continue;
        char key[REF_MAX_NAME + 32];
        snprintf(key, sizeof key, "%s%s", prefix, d.name);
        int64_t n = moco_numel(d.ndim, d.shape);
        const ref_tensor *t = ref_find(f, key);
        if (!t) {
            MT_CHECK(0, "%s: no reference %s", f->path, key);
            continue;
        }
        if (t->dtype == REF_I64) {
            MT_CHECK(t->numel == 1 && n == 1, "%s: %s: int64 reference is not a counter", f->path, key);
            double ours = ((const float *)d.data)[0], want = (double)((const int64_t *)t->data)[0];
            if (counters) ref_cmp_exact(counters, key, &ours, &want, 1);
            continue;
        }
        MT_CHECK(t->numel == n, "%s: %s: %lld values, ours %lld", f->path, key,
                 (long long)t->numel, (long long)n);
        if (t->numel != n) continue;
        ref_cmp(s, key, use_grad ? d.grad : (const float *)d.data, t->data, n);
    }
}

#endif
