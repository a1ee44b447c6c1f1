/* The parameter-name mapping in both directions: our backbone's tensor table
 * against torchvision's state_dict (names, order, shapes, parameter/buffer
 * role, as recorded in the fixtures' sd/<name> entries = [role, dtype,
 * shape...]), for every model the fixtures hold. The mapping is the
 * identity on names and order; the one documented difference is
 * num_batches_tracked (torch: int64 of shape (); ours: float of shape (1)).
 * So an export to another framework is a renaming of this table, and the
 * arenas are the tensors concatenated in that order. */
#include "ref_model.h"

#define SD_PREFIX "sd/"

/* i-th sd/ entry of the fixture (state_dict order), or NULL. */
static const ref_tensor *sd_entry(const ref_fixture *f, int32_t i) {
    int32_t k = 0;
    for (int32_t j = 0; j < f->count; j++)
        if (!strncmp(f->t[j].name, SD_PREFIX, strlen(SD_PREFIX)) && k++ == i) return &f->t[j];
    return NULL;
}

static int32_t sd_count(const ref_fixture *f) {
    int32_t k = 0;
    for (int32_t j = 0; j < f->count; j++) k += !strncmp(f->t[j].name, SD_PREFIX, strlen(SD_PREFIX));
    return k;
}

/* Does our tensor d have the torch entry's shape/role/dtype? */
static int same_tensor(const moco_tensor_desc *d, const ref_tensor *t, char *why, size_t n) {
    const int64_t *v = t->data;   /* role, dtype, shape... */
    int64_t role = v[0], dtype = v[1], ndim = t->numel - 2;
    const char *leaf = strrchr(d->name, '.');
    int counter = leaf && !strcmp(leaf, ".num_batches_tracked");
    if (role != d->role) {
        snprintf(why, n, "role %lld in torch, %d here", (long long)role, (int)d->role);
        return 0;
    }
    if (counter) {
        /* the documented exception */
        if (!(dtype == MOCO_DTYPE_I64 && ndim == 0 && d->dtype == MOCO_DTYPE_F32 && d->ndim == 1 &&
              d->shape[0] == 1)) {
            snprintf(why, n, "counter is not torch int64 () <-> our float (1)");
            return 0;
        }
        return 1;
    }
    if (dtype != MOCO_DTYPE_F32 || d->dtype != MOCO_DTYPE_F32 || ndim != d->ndim) {
        snprintf(why, n, "dtype/ndim torch %lld/%lld, ours %d/%d", (long long)dtype,
                 (long long)ndim, (int)d->dtype, (int)d->ndim);
        return 0;
    }
    for (int64_t k = 0; k < ndim; k++)
        if (v[2 + k] != d->shape[k]) {
            snprintf(why, n, "dim %lld: torch %lld, ours %lld", (long long)k, (long long)v[2 + k],
                     (long long)d->shape[k]);
            return 0;
        }
    return 1;
}

static void check_fixture(const char *file) {
    ref_fixture f;
    ref_open(&f, file);
    ref_config c = ref_read_config(&f);
    rt_model r;
    ref_create_model(&r, &c);
    const int32_t nt = r.info.num_tensors, ns = sd_count(&f);
    MT_CHECK(nt == ns, "%s: %d tensors here, %d in torchvision's state_dict", file, nt, ns);
    char why[160];

    /* ours -> torchvision: every tensor has the same-named entry, at the same
     * position, with the same shape and role */
    long ok_fwd = 0;
    for (int32_t i = 0; i < nt; i++) {
        moco_tensor_desc d = rt_tensor(&r, i);
        char key[REF_MAX_NAME + 8];
        snprintf(key, sizeof key, SD_PREFIX "%s", d.name);
        const ref_tensor *t = ref_find(&f, key);
        const ref_tensor *at = sd_entry(&f, i);
        MT_CHECK(t != NULL, "%s: ours -> torch: %s has no torchvision entry", file, d.name);
        if (!t) continue;
        MT_CHECK(t == at, "%s: ours -> torch: %s is #%d here but not at that position in the "
                 "state_dict (there: %s)", file, d.name, (int)i, at ? at->name + 3 : "-");
        int same = same_tensor(&d, t, why, sizeof why);
        MT_CHECK(same, "%s: %s: %s", file, d.name, why);
        ok_fwd += same && t == at;
    }

    /* torchvision -> ours: every state_dict entry names one of our tensors at
     * its position; the arenas hold them consecutively in that order */
    long ok_back = 0;
    int64_t off_p = 0, off_b = 0, n_param = 0, n_buf = 0;
    for (int32_t i = 0; i < ns; i++) {
        const ref_tensor *t = sd_entry(&f, i);
        const char *name = t->name + strlen(SD_PREFIX);
        const int64_t *v = t->data;
        int64_t torch_numel = 1;
        for (int64_t k = 2; k < t->numel; k++) torch_numel *= v[k];
        moco_tensor_desc d;
        int found = ref_tensor_by_name(r.api, r.m, name, &d);
        MT_CHECK(found, "%s: torch -> ours: %s is missing from our table", file, name);
        if (!found) {   /* keep the offsets in step so one miss is one message */
            *(v[0] == MOCO_ROLE_PARAM ? &off_p : &off_b) += torch_numel;
            continue;
        }
        moco_tensor_desc di = i < nt ? rt_tensor(&r, i) : d;
        MT_CHECK(di.data == d.data, "%s: torch -> ours: %s is not our #%d", file, name, (int)i);
        int64_t numel = moco_numel(d.ndim, d.shape);
        MT_CHECK(numel == torch_numel, "%s: %s: %lld values, torch %lld", file, name,
                 (long long)numel, (long long)torch_numel);
        if (v[0] == MOCO_ROLE_PARAM) {
            MT_CHECK((float *)d.data == r.info.params.data + off_p,
                     "%s: %s is not at parameter offset %lld", file, name, (long long)off_p);
            MT_CHECK(d.grad == r.info.grads.data + off_p, "%s: %s gradient offset", file, name);
            off_p += numel;
            n_param++;
        } else {
            MT_CHECK((float *)d.data == r.info.buffers.data + off_b,
                     "%s: %s is not at buffer offset %lld", file, name, (long long)off_b);
            off_b += numel;
            n_buf++;
        }
        ok_back += found && di.data == d.data;
    }
    MT_CHECK(off_p == r.info.params.count, "%s: parameters %lld, torch %lld", file,
             (long long)r.info.params.count, (long long)off_p);
    MT_CHECK(off_b == r.info.buffers.count, "%s: buffer values %lld, torch %lld", file,
             (long long)r.info.buffers.count, (long long)off_b);
    printf("REF names %-28s ours->torch %ld/%d, torch->ours %ld/%d (%lld params in %ld tensors, "
           "%lld buffer values in %ld tensors)\n", file, ok_fwd, nt, ok_back, ns,
           (long long)off_p, (long)n_param, (long long)off_b, (long)n_buf);

    /* the generator reproduces the script's weights (first, last, sum) */
    MT_CHECK(ref_fill_weights(&f, r.api, r.m) == 0, "%s: init records missing", file);
    rt_destroy(&r);
    ref_fixture_free(&f);
}

static void test_cifar_w8_linear(void) { check_fixture("resnet18_cifar_w8.bin"); }
static void test_imagenet_w4_mlp(void) { check_fixture("resnet18_imagenet_w4_mlp.bin"); }
static void test_moco_step_model(void) { check_fixture("moco_step_w4.bin"); }

int main(void) {
    MT_RUN(test_cifar_w8_linear);
    MT_RUN(test_imagenet_w4_mlp);
    MT_RUN(test_moco_step_model);
    return mt_finish();
}
