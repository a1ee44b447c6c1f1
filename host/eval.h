/* moco host — evaluation of frozen features: kNN monitor and linear probe.
 *
 * Both work on features the host has already computed (one row per image)
 * and never modify their inputs. GEMMs go through libmoco_sdk (OpenBLAS).
 * Thread: [main] for the GEMM users (OpenBLAS runs its own threads).
 */
#ifndef MOCO_HOST_EVAL_H
#define MOCO_HOST_EVAL_H

#include <stdint.h>

#include "moco/sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* [any] x (n, d): each row divided by max(||row||, 1e-12), in place. */
void moco_eval_l2_normalize(float *x, int64_t n, int32_t d);

/* [main] Weighted kNN classifier of InstDisc / the MoCo CIFAR demo monitor.
 * For each query: cosine similarity to every bank row (a GEMM on chunks of
 * queries, so memory stays bounded), the k most similar rows (k > n_bank
 * uses the whole bank; ties go to the lower bank index), each votes for its
 * label with weight exp(sim / t), and the prediction is the class with the
 * largest vote (ties to the lower class index).
 *   pred        (m)          out, caller owns
 *   bank        (n_bank, d)  L2-normalised rows
 *   bank_labels (n_bank)     in [0, num_classes)
 *   query       (m, d)       L2-normalised rows
 * The host's defaults are k = 200, t = 0.1 (the MoCo demo's knn_k, knn_t).
 * Returns MOCO_OK, MOCO_ERR_INVALID (bad sizes or labels), MOCO_ERR_NOMEM. */
int32_t moco_knn_predict(int32_t *pred, const float *bank, const int32_t *bank_labels,
                         int64_t n_bank, const float *query, int64_t m, int32_t d,
                         int32_t num_classes, int32_t k, float t, moco_error *err);

/* Linear-probe training schedule. */
typedef struct moco_probe_config {
    int32_t epochs;       /* passes over the shuffled training set, >= 1 */
    int32_t batch;        /* mini-batch size, >= 1 (last batch may be smaller) */
    float lr;             /* peak learning rate, > 0; cosine-decayed to 0 per step */
    float momentum;       /* SGD momentum in [0, 1) */
    float weight_decay;   /* L2 on the weights (not the bias), >= 0 */
    uint64_t seed;        /* initial weights and shuffling */
} moco_probe_config;

/* [any] Defaults that suit standardised features: 50 epochs, batch 256,
 * lr 0.1, momentum 0.9, weight decay 1e-4, seed 0. */
moco_probe_config moco_probe_config_default(void);

/* [main] Multinomial logistic regression (linear layer d -> num_classes
 * with bias, softmax cross-entropy) on frozen features, trained with
 * mini-batch SGD + momentum and a cosine learning-rate schedule.
 * Features are first standardised with the TRAIN set's per-dimension mean
 * and std (the test set uses the same statistics): frozen features of a
 * network without a final BN have an arbitrary, per-dimension scale, and
 * without standardising the usable learning rate would depend on the
 * backbone and the epoch of the checkpoint.
 *   train_acc, test_acc  top-1 accuracy in [0, 1] (either may be NULL)
 *   train_x (n_train, d), train_y (n_train) in [0, num_classes)
 *   test_x  (n_test, d),  test_y  (n_test);   n_test may be 0
 * Inputs are never written (the host reuses them). Deterministic for a
 * fixed cfg->seed (up to OpenBLAS threading, which the host fixes).
 * Returns MOCO_OK, MOCO_ERR_INVALID, MOCO_ERR_NOMEM, MOCO_ERR_NUMERIC. */
int32_t moco_linear_probe(float *train_acc, float *test_acc, const float *train_x,
                          const int32_t *train_y, int64_t n_train, const float *test_x,
                          const int32_t *test_y, int64_t n_test, int32_t d,
                          int32_t num_classes, const moco_probe_config *cfg, moco_error *err);

/* [any] Fraction of i with pred[i] == y[i]; 0 when n <= 0. */
float moco_eval_accuracy(const int32_t *pred, const int32_t *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* MOCO_HOST_EVAL_H */
