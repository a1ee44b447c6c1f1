/* Objective plugin "infonce": the InfoNCE loss of MoCo.
 *
 * For query q_i, its positive key k_i and the dictionary's negatives n_j
 * (all L2-normalised by the host):
 *   logits_i = [q_i.k_i, q_i.n_1, ..., q_i.n_K] / T      positive at column 0
 *   L        = mean_i ( logsumexp(logits_i) - logits_i[0] )
 *   dL/dq_i  = (1/n)(1/T) [ (p_i0 - 1) k_i + sum_j p_ij n_j ]
 * with p_i = softmax(logits_i): the official `CrossEntropyLoss(logits,
 * labels=0)`. q.negatives^T (n x K x dim) and the negative term of dq are
 * GEMMs; the rest is O(n K).
 *
 * INI section keys:
 *   temperature = T   softmax temperature (default 0.07; 0 < T <= 10)
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moco/kernels.h"
#include "moco/objective.h"
#include "moco/sdk.h"

#define INFONCE_DEFAULT_T 0.07
#define INFONCE_MAX_T 10.0

typedef struct infonce {
    int32_t dim;
    float temperature;
    float *scratch;     /* (n, 1 + count) logits, then softmax gradients */
    size_t scratch_cap; /* floats */
} infonce;

static void infonce_destroy(void *o) {
    infonce *s = o;
    if (!s) return;
    free(s->scratch);
    free(s);
}

/* [main] Reads `temperature`. Caller owns *out (release with destroy). */
static int32_t infonce_create(const moco_host *host, int32_t dim, void **out,
                              moco_error *err) {
    *out = NULL;
    if (dim < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "infonce: key dim %d must be >= 1. HINT: check the backbone's "
                           "output size",
                           (int)dim);
    /* read unbounded, then check the open interval here: the generic range
     * message would advertise 0 as allowed */
    double t;
    int32_t rc = moco_cfg_float(host, "temperature", INFONCE_DEFAULT_T, -DBL_MAX, DBL_MAX, &t,
                                err);
    if (rc) return rc;
    if (!(t > 0.0 && t <= INFONCE_MAX_T))
        return moco_cfg_errorf(host, "temperature", err,
                               "must be in (0, %g] (logits are divided by it). HINT: MoCo v1 "
                               "uses 0.07, MoCo v2 uses 0.2",
                               INFONCE_MAX_T);
    infonce *s = calloc(1, sizeof *s);
    if (!s) return moco_errorf(err, MOCO_ERR_NOMEM, "infonce: out of memory");
    s->dim = dim;
    s->temperature = (float)t;
    *out = s;
    return MOCO_OK;
}

static float *infonce_scratch(infonce *s, size_t floats) {
    if (floats > s->scratch_cap) {
        float *p = realloc(s->scratch, floats * sizeof(float));
        if (!p) return NULL;
        s->scratch = p;
        s->scratch_cap = floats;
    }
    return s->scratch;
}

/* [main] See objective.h. q, k (n, dim); negatives (count, dim);
 * dq (n, dim) overwritten when non-NULL; logits (n, 1 + count) when non-NULL. */
static int32_t infonce_loss(void *o, moco_objective_result *res, float *dq, float *logits,
                            const float *q, const float *k, const float *negatives, int32_t n,
                            int32_t count, int32_t dim, moco_error *err) {
    infonce *s = o;
    MOCO_ASSERT(res != NULL);
    if (n < 1 || count < 0)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "infonce: batch of %d queries against %d negatives. HINT: the "
                           "batch must hold at least one query",
                           (int)n, (int)count);
    if (dim != s->dim)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "infonce: keys have dim %d but the objective was created for dim "
                           "%d. HINT: create the objective with the backbone's output size",
                           (int)dim, (int)s->dim);
    MOCO_ASSERT(q != NULL && k != NULL && (count == 0 || negatives != NULL));

    const int32_t cols = count + 1;
    const size_t total = (size_t)n * (size_t)cols;
    const float inv_t = 1.0f / s->temperature;

    /* L: (n, cols) logits. The caller's buffer when given; the softmax
     * gradient then needs its own buffer so the logits survive. */
    float *L = logits;
    float *G = NULL;
    if (!L || dq) {
        float *buf = infonce_scratch(s, total);
        if (!buf)
            return moco_errorf(err, MOCO_ERR_NOMEM,
                               "infonce: cannot allocate %d x %d logits. HINT: lower the "
                               "dictionary size or the batch size",
                               (int)n, (int)cols);
        if (!L) L = buf;
        if (dq) G = buf;
    }

    if (count > 0)
        moco_sgemm(0, 1, n, count, dim, inv_t, q, dim, negatives, dim, 0.0f, L + 1, cols);
    for (int32_t i = 0; i < n; i++) {
        const float *qi = q + (size_t)i * dim, *ki = k + (size_t)i * dim;
        double dot = 0;
        for (int32_t j = 0; j < dim; j++) dot += (double)qi[j] * ki[j];
        L[(size_t)i * cols] = (float)(dot * inv_t);
    }

    /* Per row: stable log-sum-exp, loss, argmax; then (optionally) the
     * gradient of the mean loss w.r.t. the logits into G (may alias L). */
    double loss_sum = 0;
    int32_t correct = 0;
    const float gscale = 1.0f / (float)n;
    for (int32_t i = 0; i < n; i++) {
        const float *li = L + (size_t)i * cols;
        const float l0 = li[0];
        float mx = l0;
        for (int32_t j = 1; j < cols; j++)
            if (li[j] > mx) mx = li[j];
        /* argmax with ties to the lowest index: column 0 wins a tie */
        if (!(mx > l0)) correct++;
        double sum = 0;
        if (G) {
            /* one exp per logit: keep exp(l - max) and rescale by 1/sum */
            float *gi = G + (size_t)i * cols;
            for (int32_t j = 0; j < cols; j++) {
                float e = expf(li[j] - mx);
                gi[j] = e;
                sum += e;
            }
            const float scale = (float)(gscale / sum);
            for (int32_t j = 0; j < cols; j++) gi[j] *= scale;
            gi[0] -= gscale;
        } else {
            for (int32_t j = 0; j < cols; j++) sum += expf(li[j] - mx);
        }
        loss_sum += (double)mx + log(sum) - (double)l0;
    }
    double loss = loss_sum / n;
    res->sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    res->loss = (float)loss;
    res->accuracy = (float)correct / (float)n;
    if (!isfinite(res->loss))
        return moco_errorf(err, MOCO_ERR_NUMERIC,
                           "infonce: loss is %s (T = %g, batch %d, %d negatives). HINT: check "
                           "the backbone output and the queue for NaN/Inf (a too high "
                           "learning rate diverges)",
                           isnan(res->loss) ? "NaN" : "Inf", (double)s->temperature, (int)n,
                           (int)count);

    if (dq) {
        /* dq = (1/T) [ G[:,1:] @ negatives + G[:,0] * k ]; G already holds 1/n */
        if (count > 0)
            moco_sgemm(0, 0, n, dim, count, inv_t, G + 1, cols, negatives, dim, 0.0f, dq, dim);
        else
            memset(dq, 0, (size_t)n * (size_t)dim * sizeof(float));
        for (int32_t i = 0; i < n; i++) {
            float g0 = G[(size_t)i * cols] * inv_t;
            const float *ki = k + (size_t)i * dim;
            float *di = dq + (size_t)i * dim;
            for (int32_t j = 0; j < dim; j++) di[j] += g0 * ki[j];
        }
    }
    return MOCO_OK;
}

static const moco_objective_api infonce_api = {
    MOCO_SDK_VERSION_INIT, infonce_create, infonce_destroy, infonce_loss,
};

MOCO_PLUGIN(MOCO_KIND_OBJECTIVE, "infonce", "1.0.0", "InfoNCE loss, positive at column 0 (INI: temperature)", &infonce_api);
