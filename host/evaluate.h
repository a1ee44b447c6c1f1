/* Evaluation of the query encoder on frozen features: kNN monitor and a
 * linear classifier, both top-1 on the test split. */
#ifndef MOCO_HOST_EVALUATE_H
#define MOCO_HOST_EVALUATE_H

#include "metrics.h"
#include "run.h"

typedef struct eval_result {
    float knn_top1;      /* -1 when not run */
    float linear_top1;   /* -1 when not run */
    float linear_train_top1;
    double seconds;
} eval_result;

/* [main] Features of a whole split through the eval transform and the
 * query encoder in eval mode: feats (count, d), labels (count). d is the
 * pooled feature size or the head's, per [eval] features. */
int32_t evaluate_features(run *r, void *dataset, int64_t count, float *feats, int32_t *labels,
                          moco_error *err);
/* [main] Run the configured evaluations, print and log them. */
int32_t evaluate_run(run *r, metrics *m, moco_error *err);
int32_t evaluate_run_result(run *r, metrics *m, eval_result *out, moco_error *err);

#endif
