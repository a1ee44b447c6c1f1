/* The host's own INI sections: [run], [moco], [train], [eval]. */
#ifndef MOCO_HOST_SETTINGS_H
#define MOCO_HOST_SETTINGS_H

#include <stdint.h>

#include "inistore.h"

enum { SCHEDULE_CONSTANT = 0, SCHEDULE_COSINE = 1 };
enum { FEATURES_POOLED = 0, FEATURES_HEAD = 1 };

typedef struct settings {
    /* [run] */
    const char *run_dir;
    int64_t seed;
    int64_t log_every;         /* steps between progress lines */
    int64_t threads;           /* OpenBLAS threads; 0 = all cores */
    /* [moco] */
    int64_t dim;
    double momentum;           /* key encoder EMA m */
    /* [train] */
    int64_t epochs;
    int64_t batch;
    double lr;
    double sgd_momentum;
    double weight_decay;
    int32_t schedule;
    int64_t steps_per_epoch;   /* 0 = the whole training split */
    int64_t checkpoint_every;  /* epochs; 0 = only at the end */
    int64_t checkpoint_every_steps;
    int64_t keep_checkpoints;  /* numbered checkpoints kept in the run dir */
    int64_t prefetch;          /* batches prepared ahead */
    /* [eval] */
    int64_t eval_every;        /* epochs; 0 = only after training */
    int32_t eval_at_end;
    int32_t features;
    int32_t knn;
    int64_t knn_k;
    double knn_t;
    int32_t linear;
    int64_t linear_epochs;
    int64_t linear_batch;
    double linear_lr;
    double linear_wd;
    int64_t eval_batch;
} settings;

/* Read and validate the host sections; unknown keys refused. */
int32_t settings_load(settings *s, ini_store *ini, moco_error *err);

#endif
