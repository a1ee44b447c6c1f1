/* The MoCo training loop. */
#ifndef MOCO_HOST_TRAIN_H
#define MOCO_HOST_TRAIN_H

#include <signal.h>

#include "run.h"

/* Learning rate of an epoch under the configured schedule (MoCo's
 * per-epoch cosine: lr * 0.5 * (1 + cos(pi * epoch / epochs))). */
double train_lr(const settings *s, int64_t epoch);

/* [main] One MoCo step on a batch of two views xq, xk (batch, c, h, w):
 * encode q (train mode, keeps activations) and k (train mode BN, no
 * gradient), L2-normalise, objective, backward through the normalisation
 * and the query encoder, SGD (momentum, weight decay), momentum update
 * θk ← m θk + (1 − m) θq over parameters only (BN buffers of the key encoder
 * come from its own forward), enqueue the keys. */
int32_t train_step(run *r, const float *xq, const float *xk, double lr,
                   moco_objective_result *res, moco_error *err);

/* SGD with momentum and weight decay, PyTorch semantics:
 * g = grad + wd * p; v = mu * v + g; p -= lr * v. */
void train_sgd(float *p, float *v, const float *grad, int64_t n, float lr, float mu, float wd);
/* θk ← m θk + (1 − m) θq */
void train_momentum_update(float *k, const float *q, int64_t n, float m);

/* [main] Rewrite <run dir>/report.html from the metrics (warns on failure). */
void refresh_report(const run *r);

/* Set by the SIGINT/SIGTERM handler: stop after the current step. */
extern volatile sig_atomic_t train_stop_requested;

enum { TRAIN_STOP_SIGNAL = 1, TRAIN_STOP_MAX_STEPS = 2 };

/* [main] The whole run from the current counters to the last epoch, with
 * prefetch, progress, metrics, periodic evaluation and checkpoints.
 * Returns 0, or non-zero with err filled. *interrupted is set to a
 * TRAIN_STOP_* reason when it stopped early (a checkpoint is written). */
int32_t train_run(run *r, int *interrupted, moco_error *err);

#endif
