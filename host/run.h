/* Everything one training run owns: config, plugins and their instances,
 * the optimizer arena, step buffers and counters. */
#ifndef MOCO_HOST_RUN_H
#define MOCO_HOST_RUN_H

#include "inistore.h"
#include "moco/moco.h"
#include "plugin.h"
#include "services.h"
#include "settings.h"

enum { SLOT_DATASET, SLOT_AUGMENT, SLOT_BACKBONE, SLOT_DICTIONARY, SLOT_OBJECTIVE, SLOT_COUNT };

typedef struct run {
    ini_store ini;
    settings cfg;
    plugin_path path;
    loaded_plugin plugin[SLOT_COUNT];
    section_ctx ctx[SLOT_COUNT];

    const moco_dataset_api *ds;
    const moco_augment_api *aug;
    const moco_backbone_api *bb;
    const moco_dictionary_api *dict;
    const moco_objective_api *obj;
    void *train_set, *test_set, *augment, *enc_q, *enc_k, *queue, *objective;

    moco_dataset_info train_info, test_info;
    moco_image_shape view;          /* augmented view (c, h, w) */
    moco_backbone_info qinfo, kinfo;
    float *sgd_momentum;            /* (qinfo.params.count) optimizer state arena */

    /* step buffers */
    float *q_raw, *q, *q_norm, *k_raw, *k, *k_norm, *dq, *dq_raw;   /* (batch, dim) / (batch) */

    /* counters */
    int64_t epoch;                  /* 0-based epoch in progress */
    int64_t step_in_epoch;          /* steps done in this epoch */
    int64_t global_step;            /* steps done in total */
    int64_t steps_per_epoch;
    int64_t max_steps;              /* stop (with a checkpoint) at this global step; 0 = off */
    uint64_t seed;
    char run_dir[1024];
} run;

/* Parse config, load the five plugins, create instances, check unknown
 * keys and sections. */
/* run_dir: overrides [run] dir when non-NULL. */
int32_t run_setup(run *r, const char *config_path, const char *const *plugin_dirs,
                  int32_t n_dirs, const char *run_dir, moco_error *err);
void run_teardown(run *r);

/* The data order of an epoch: a permutation of the training split. */
void run_epoch_order(const run *r, int64_t epoch, int64_t *order /* (count) */);

#endif
