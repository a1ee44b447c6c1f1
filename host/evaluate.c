/* Feature extraction and the evaluation protocol (see evaluate.h). */
#include "evaluate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "eval.h"

static int32_t feature_dim(const run *r) {
    return r->cfg.features == FEATURES_HEAD ? r->qinfo.out_dim : r->qinfo.feat_dim;
}

int32_t evaluate_features(run *r, void *dataset, int64_t count, float *feats, int32_t *labels,
                          moco_error *err) {
    int32_t bsz = (int32_t)r->cfg.eval_batch, d = feature_dim(r);
    size_t view = (size_t)r->view.channels * r->view.height * r->view.width;
    size_t img = (size_t)r->train_info.channels * r->train_info.height * r->train_info.width;
    float *x = malloc((size_t)bsz * view * sizeof(float));
    float *out = malloc((size_t)bsz * r->qinfo.out_dim * sizeof(float));
    float *feat = malloc((size_t)bsz * r->qinfo.feat_dim * sizeof(float));
    uint8_t *pix = malloc(img);
    int32_t st = (!x || !out || !feat || !pix)
                     ? moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for evaluation")
                     : MOCO_OK;
    for (int64_t i0 = 0; !st && i0 < count; i0 += bsz) {
        int32_t n = (int32_t)(count - i0 < bsz ? count - i0 : bsz);
        for (int32_t i = 0; !st && i < n; i++) {
            st = r->ds->get(dataset, i0 + i, pix, &labels[i0 + i], err);
            if (!st) st = r->aug->apply_eval(r->augment, x + i * view, pix, err);
        }
        if (!st) st = r->bb->forward(r->enc_q, out, feat, x, n, 0, err);
        if (!st) {
            const float *src = r->cfg.features == FEATURES_HEAD ? out : feat;
            memcpy(feats + i0 * d, src, (size_t)n * d * sizeof(float));
        }
    }
    free(x);
    free(out);
    free(feat);
    free(pix);
    return st;
}

int32_t evaluate_run_result(run *r, metrics *m, eval_result *res, moco_error *err) {
    double t0 = host_now();
    res->knn_top1 = res->linear_top1 = res->linear_train_top1 = -1;
    if (!r->cfg.knn && !r->cfg.linear) return MOCO_OK;
    int64_t ntr = r->train_info.count, nte = r->test_info.count;
    int32_t d = feature_dim(r), c = r->train_info.num_classes;
    float *ftr = malloc((size_t)ntr * d * sizeof(float));
    float *fte = malloc((size_t)nte * d * sizeof(float));
    int32_t *ytr = malloc((size_t)ntr * sizeof(int32_t));
    int32_t *yte = malloc((size_t)nte * sizeof(int32_t));
    int32_t *pred = malloc((size_t)nte * sizeof(int32_t));
    int32_t st = (!ftr || !fte || !ytr || !yte || !pred)
                     ? moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for evaluation features")
                     : MOCO_OK;
    host_log(MOCO_LOG_INFO, "evaluating: features of %lld train + %lld test images (%s, %d-d)",
             (long long)ntr, (long long)nte, r->cfg.features == FEATURES_HEAD ? "head" : "pooled",
             d);
    if (!st) st = evaluate_features(r, r->train_set, ntr, ftr, ytr, err);
    if (!st) st = evaluate_features(r, r->test_set, nte, fte, yte, err);
    if (!st && r->cfg.linear) {
        moco_probe_config pc = {(int32_t)r->cfg.linear_epochs, (int32_t)r->cfg.linear_batch,
                                (float)r->cfg.linear_lr, 0.9f, (float)r->cfg.linear_wd,
                                moco_seed_mix(r->seed, 0x11EA)};
        st = moco_linear_probe(&res->linear_train_top1, &res->linear_top1, ftr, ytr, ntr, fte,
                               yte, nte, d, c, &pc, err);
    }
    if (!st && r->cfg.knn) {
        moco_eval_l2_normalize(ftr, ntr, d);
        moco_eval_l2_normalize(fte, nte, d);
        st = moco_knn_predict(pred, ftr, ytr, ntr, fte, nte, d, c, (int32_t)r->cfg.knn_k,
                              (float)r->cfg.knn_t, err);
        if (!st) res->knn_top1 = moco_eval_accuracy(pred, yte, nte);
    }
    res->seconds = host_now() - t0;
    if (!st) {
        char knn[32] = "off", lin[64] = "off";
        if (res->knn_top1 >= 0) snprintf(knn, sizeof knn, "%.2f%%", 100.0 * res->knn_top1);
        if (res->linear_top1 >= 0)
            snprintf(lin, sizeof lin, "%.2f%% (train %.2f%%)", 100.0 * res->linear_top1,
                     100.0 * res->linear_train_top1);
        fprintf(stdout, "eval after epoch %lld: kNN top-1 %s (k=%lld, T=%g), linear top-1 %s "
                "on %lld test images [%.1f s]\n", (long long)(r->global_step / r->steps_per_epoch),
                knn, (long long)r->cfg.knn_k, r->cfg.knn_t, lin, (long long)nte, res->seconds);
        fflush(stdout);
        metrics_write(m, "\"event\":\"eval\",\"global_step\":%lld,\"knn_top1\":%.5f,"
                      "\"linear_top1\":%.5f,\"linear_train_top1\":%.5f,\"seconds\":%.3f",
                      (long long)r->global_step, res->knn_top1, res->linear_top1,
                      res->linear_train_top1, res->seconds);
    }
    free(ftr);
    free(fte);
    free(ytr);
    free(yte);
    free(pred);
    return st;
}

int32_t evaluate_run(run *r, metrics *m, moco_error *err) {
    eval_result res;
    return evaluate_run_result(r, m, &res, err);
}
