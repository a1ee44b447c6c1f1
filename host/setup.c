/* Building a run from its INI: host sections, plugins, instances. */
#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TRY(x)                                                                \
    do {                                                                      \
        int32_t st_ = (x);                                                    \
        if (st_) return st_;                                                  \
    } while (0)

static const char *const slot_section[SLOT_COUNT] = {"dataset", "augment", "backbone",
                                                      "dictionary", "objective"};
static const int32_t slot_kind[SLOT_COUNT] = {MOCO_KIND_DATASET, MOCO_KIND_AUGMENT,
                                              MOCO_KIND_BACKBONE, MOCO_KIND_DICTIONARY,
                                              MOCO_KIND_OBJECTIVE};

static int32_t check_sections(const ini_store *ini, moco_error *err) {
    static const char *const known[] = {"run", "moco", "train", "eval", "dataset", "augment",
                                        "backbone", "dictionary", "objective"};
    for (int32_t i = 0; i < ini->nsections; i++) {
        int ok = 0;
        for (size_t j = 0; j < sizeof known / sizeof *known; j++)
            ok |= !strcmp(ini->sections[i].name, known[j]);
        if (!ok)
            return moco_errorf(err, MOCO_ERR_INVALID,
                               "%s:%d: unknown section [%s]. HINT: sections are [run] [moco] "
                               "[train] [eval] [dataset] [augment] [backbone] [dictionary] "
                               "[objective]",
                               ini->path, ini->sections[i].line, ini->sections[i].name);
    }
    return MOCO_OK;
}

static int32_t load_slot(run *r, int32_t slot, moco_error *err) {
    const char *sec = slot_section[slot];
    ini_entry *e = ini_find(&r->ini, sec, "plugin");
    if (!e) {
        int32_t line = ini_section_line(&r->ini, sec);
        if (line)
            return moco_errorf(err, MOCO_ERR_INVALID,
                               "%s:%d: [%s] has no 'plugin' key. HINT: add plugin = NAME "
                               "(see moco-host --list-plugins)",
                               r->ini.path, line, sec);
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "%s: missing section [%s]. HINT: add [%s] with plugin = NAME "
                           "(see configs/cifar.ini)",
                           r->ini.path, sec, sec);
    }
    int32_t st = plugin_load(&r->plugin[slot], &r->path, e->value, slot_kind[slot], err);
    if (st) return moco_error_prefix(err, st, "%s:%d: [%s] plugin", r->ini.path, e->line, sec);
    section_ctx_init(&r->ctx[slot], &r->ini, sec, r->plugin[slot].entry->name, r->seed, 1);
    return MOCO_OK;
}

/* Errors from a plugin's create() already name file:line for bad keys;
 * others get the section as context. */
static int32_t created(run *r, int32_t slot, int32_t st, moco_error *err) {
    if (st) {
        if (strncmp(err->msg, r->ini.path, strlen(r->ini.path)) != 0)
            moco_error_prefix(err, st, "%s:%d: [%s] %s", r->ini.path,
                              ini_section_line(&r->ini, slot_section[slot]), slot_section[slot],
                              r->plugin[slot].entry->name);
        return st;
    }
    return section_check_unknown(&r->ctx[slot], err);
}

static int32_t alloc_buffers(run *r, moco_error *err) {
    size_t bd = (size_t)(r->cfg.batch * r->cfg.dim);
    float **bufs[] = {&r->q_raw, &r->q, &r->k_raw, &r->k, &r->dq, &r->dq_raw};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (!(*bufs[i] = calloc(bd, sizeof(float))))
            return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for step buffers");
    r->q_norm = calloc((size_t)r->cfg.batch, sizeof(float));
    r->k_norm = calloc((size_t)r->cfg.batch, sizeof(float));
    r->sgd_momentum = calloc((size_t)r->qinfo.params.count, sizeof(float));
    if (!r->q_norm || !r->k_norm || !r->sgd_momentum)
        return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for optimizer state");
    return MOCO_OK;
}

static int32_t make_run_dir(run *r, moco_error *err) {
    if (!r->run_dir[0]) snprintf(r->run_dir, sizeof r->run_dir, "%s", r->cfg.run_dir);
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", r->run_dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return moco_errorf(err, MOCO_ERR_IO, "run directory '%s': %s. HINT: set [run] dir to "
                           "a writable folder", r->run_dir, strerror(errno));
    return MOCO_OK;
}

int32_t run_setup(run *r, const char *config_path, const char *const *plugin_dirs,
                  int32_t n_dirs, const char *run_dir, moco_error *err) {
    memset(r, 0, sizeof *r);
    if (run_dir) snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir);
    TRY(ini_load(&r->ini, config_path, err));
    TRY(check_sections(&r->ini, err));
    TRY(settings_load(&r->cfg, &r->ini, err));
    r->seed = (uint64_t)r->cfg.seed;
    plugin_path_init(&r->path, plugin_dirs, n_dirs);
    for (int32_t s = 0; s < SLOT_COUNT; s++) TRY(load_slot(r, s, err));
    r->ds = r->plugin[SLOT_DATASET].entry->api;
    r->aug = r->plugin[SLOT_AUGMENT].entry->api;
    r->bb = r->plugin[SLOT_BACKBONE].entry->api;
    r->dict = r->plugin[SLOT_DICTIONARY].entry->api;
    r->obj = r->plugin[SLOT_OBJECTIVE].entry->api;

    const moco_host *h;
    h = &r->ctx[SLOT_DATASET].host;
    TRY(created(r, SLOT_DATASET, r->ds->create(h, MOCO_SPLIT_TRAIN, &r->train_set, err), err));
    TRY(created(r, SLOT_DATASET, r->ds->create(h, MOCO_SPLIT_TEST, &r->test_set, err), err));
    r->ds->info(r->train_set, &r->train_info);
    r->ds->info(r->test_set, &r->test_info);
    if (r->train_info.count < r->cfg.batch)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "%s: [train] batch = %lld but the training split has only %lld "
                           "images. HINT: lower batch or raise the dataset limit",
                           r->ini.path, (long long)r->cfg.batch, (long long)r->train_info.count);

    moco_image_shape in = {r->train_info.channels, r->train_info.height, r->train_info.width, 0};
    h = &r->ctx[SLOT_AUGMENT].host;
    TRY(created(r, SLOT_AUGMENT, r->aug->create(h, &in, &r->augment, err), err));
    r->aug->output_shape(r->augment, &r->view);

    int32_t max_batch = (int32_t)(r->cfg.batch > r->cfg.eval_batch ? r->cfg.batch
                                                                    : r->cfg.eval_batch);
    h = &r->ctx[SLOT_BACKBONE].host;
    TRY(created(r, SLOT_BACKBONE,
                r->bb->create(h, r->view.channels, r->view.height, r->view.width, max_batch,
                              (int32_t)r->cfg.dim, &r->enc_q, err), err));
    TRY(created(r, SLOT_BACKBONE,
                r->bb->create(h, r->view.channels, r->view.height, r->view.width, max_batch,
                              (int32_t)r->cfg.dim, &r->enc_k, err), err));
    r->bb->info(r->enc_q, &r->qinfo);
    r->bb->info(r->enc_k, &r->kinfo);
    if (r->qinfo.out_dim != r->cfg.dim)
        return moco_errorf(err, MOCO_ERR_INVALID, "backbone '%s' produces %d-d outputs, [moco] "
                           "dim = %lld", r->plugin[SLOT_BACKBONE].entry->name, r->qinfo.out_dim,
                           (long long)r->cfg.dim);

    h = &r->ctx[SLOT_DICTIONARY].host;
    TRY(created(r, SLOT_DICTIONARY,
                r->dict->create(h, (int32_t)r->cfg.dim, (int32_t)r->cfg.batch, &r->queue, err),
                err));
    h = &r->ctx[SLOT_OBJECTIVE].host;
    TRY(created(r, SLOT_OBJECTIVE, r->obj->create(h, (int32_t)r->cfg.dim, &r->objective, err),
                err));

    TRY(alloc_buffers(r, err));
    /* The key encoder starts as an exact copy of the query encoder. */
    memcpy(r->kinfo.params.data, r->qinfo.params.data,
           (size_t)r->qinfo.params.count * sizeof(float));
    memcpy(r->kinfo.buffers.data, r->qinfo.buffers.data,
           (size_t)r->qinfo.buffers.count * sizeof(float));
    int64_t full = r->train_info.count / r->cfg.batch; /* drop the last partial batch */
    r->steps_per_epoch = r->cfg.steps_per_epoch && r->cfg.steps_per_epoch < full
                             ? r->cfg.steps_per_epoch
                             : full;
    return make_run_dir(r, err);
}

void run_teardown(run *r) {
    if (r->objective) r->obj->destroy(r->objective);
    if (r->queue) r->dict->destroy(r->queue);
    if (r->enc_k) r->bb->destroy(r->enc_k);
    if (r->enc_q) r->bb->destroy(r->enc_q);
    if (r->augment) r->aug->destroy(r->augment);
    if (r->test_set) r->ds->destroy(r->test_set);
    if (r->train_set) r->ds->destroy(r->train_set);
    float *bufs[] = {r->q_raw, r->q, r->q_norm, r->k_raw, r->k, r->k_norm, r->dq, r->dq_raw,
                     r->sgd_momentum};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    for (int32_t s = 0; s < SLOT_COUNT; s++) plugin_unload(&r->plugin[s]);
    ini_free(&r->ini);
    memset(r, 0, sizeof *r);
}

void run_epoch_order(const run *r, int64_t epoch, int64_t *order) {
    int64_t n = r->train_info.count;
    moco_rng g;
    moco_rng_seed(&g, moco_seed_mix(moco_seed_mix(r->seed, 0x0D0E), (uint64_t)epoch));
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)moco_rng_below(&g, (uint64_t)i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
