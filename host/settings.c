/* [run], [moco], [train], [eval]: read with the same typed readers plugins
 * use, so every bad value gets the same file:line message. */
#include "settings.h"

#include <string.h>

#include "services.h"

#define TRY(x)                                                                \
    do {                                                                      \
        int32_t st_ = (x);                                                    \
        if (st_) return st_;                                                  \
    } while (0)

static int32_t load_run(settings *s, const moco_host *h, moco_error *err) {
    TRY(moco_cfg_str(h, "dir", "runs/default", &s->run_dir, err));
    TRY(moco_cfg_int(h, "seed", 0, 0, INT64_MAX, &s->seed, err));
    TRY(moco_cfg_int(h, "log_every", 10, 1, 1000000, &s->log_every, err));
    TRY(moco_cfg_int(h, "threads", 0, 0, 256, &s->threads, err));
    return MOCO_OK;
}

static int32_t load_moco(settings *s, const moco_host *h, moco_error *err) {
    TRY(moco_cfg_int(h, "dim", 128, 1, 65536, &s->dim, err));
    TRY(moco_cfg_float(h, "momentum", 0.999, 0.0, 1.0, &s->momentum, err));
    return MOCO_OK;
}

static int32_t load_train(settings *s, const moco_host *h, moco_error *err) {
    static const char *const schedules[] = {"constant", "cosine", NULL};
    TRY(moco_cfg_int(h, "epochs", 20, 1, 100000, &s->epochs, err));
    TRY(moco_cfg_int(h, "batch", 32, 2, 4096, &s->batch, err));
    TRY(moco_cfg_float(h, "lr", 0.03, 1e-12, 100.0, &s->lr, err));
    TRY(moco_cfg_float(h, "sgd_momentum", 0.9, 0.0, 0.999999, &s->sgd_momentum, err));
    TRY(moco_cfg_float(h, "weight_decay", 5e-4, 0.0, 1.0, &s->weight_decay, err));
    TRY(moco_cfg_choice(h, "schedule", schedules, SCHEDULE_COSINE, &s->schedule, err));
    TRY(moco_cfg_int(h, "steps_per_epoch", 0, 0, INT32_MAX, &s->steps_per_epoch, err));
    TRY(moco_cfg_int(h, "checkpoint_every", 1, 0, 100000, &s->checkpoint_every, err));
    TRY(moco_cfg_int(h, "checkpoint_every_steps", 0, 0, INT32_MAX, &s->checkpoint_every_steps,
                     err));
    TRY(moco_cfg_int(h, "keep_checkpoints", 2, 1, 1000, &s->keep_checkpoints, err));
    TRY(moco_cfg_int(h, "prefetch", 3, 1, 64, &s->prefetch, err));
    return MOCO_OK;
}

static int32_t load_eval(settings *s, const moco_host *h, moco_error *err) {
    static const char *const feats[] = {"pooled", "head", NULL};
    TRY(moco_cfg_int(h, "every", 0, 0, 100000, &s->eval_every, err));
    TRY(moco_cfg_bool(h, "at_end", 1, &s->eval_at_end, err));
    TRY(moco_cfg_choice(h, "features", feats, FEATURES_POOLED, &s->features, err));
    TRY(moco_cfg_bool(h, "knn", 1, &s->knn, err));
    TRY(moco_cfg_int(h, "knn_k", 200, 1, 100000, &s->knn_k, err));
    TRY(moco_cfg_float(h, "knn_t", 0.1, 1e-6, 100.0, &s->knn_t, err));
    TRY(moco_cfg_bool(h, "linear", 1, &s->linear, err));
    TRY(moco_cfg_int(h, "linear_epochs", 100, 1, 100000, &s->linear_epochs, err));
    TRY(moco_cfg_int(h, "linear_batch", 256, 1, 1 << 20, &s->linear_batch, err));
    TRY(moco_cfg_float(h, "linear_lr", 0.1, 1e-9, 100.0, &s->linear_lr, err));
    TRY(moco_cfg_float(h, "linear_weight_decay", 0.0, 0.0, 1.0, &s->linear_wd, err));
    TRY(moco_cfg_int(h, "batch", 0, 0, 4096, &s->eval_batch, err));
    return MOCO_OK;
}

int32_t settings_load(settings *s, ini_store *ini, moco_error *err) {
    static const char *const names[] = {"run", "moco", "train", "eval"};
    int32_t (*const loaders[])(settings *, const moco_host *, moco_error *) = {
        load_run, load_moco, load_train, load_eval};
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 4; i++) {
        section_ctx ctx;
        section_ctx_init(&ctx, ini, names[i], names[i], 0, 0);
        TRY(loaders[i](s, &ctx.host, err));
        TRY(section_check_unknown(&ctx, err));
    }
    if (s->eval_batch == 0) s->eval_batch = s->batch;
    return MOCO_OK;
}
