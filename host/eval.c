/* moco host — kNN monitor and linear probe on frozen features (see eval.h). */
#include "eval.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moco/kernels.h"
#include "moco/rng.h"
#include "moco/sdk.h"

/* Bound on the similarity block of the kNN: at most this many floats
 * (64 MiB) of query x bank similarities live at once. */
#define KNN_MAX_QUERIES 256
#define KNN_MAX_SIMS ((int64_t)1 << 24)
/* Rows standardised at a time when the probe evaluates a whole set. */
#define PROBE_EVAL_ROWS 1024

void moco_eval_l2_normalize(float *x, int64_t n, int32_t d) {
    for (int64_t i = 0; i < n; i++) {
        float *row = x + i * d;
        double ss = 0;
        for (int32_t j = 0; j < d; j++) ss += (double)row[j] * row[j];
        double nrm = sqrt(ss);
        float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
        for (int32_t j = 0; j < d; j++) row[j] *= inv;
    }
}

float moco_eval_accuracy(const int32_t *pred, const int32_t *y, int64_t n) {
    if (n <= 0) return 0.0f;
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++) hit += pred[i] == y[i];
    return (float)((double)hit / (double)n);
}

static int32_t check_labels(const int32_t *y, int64_t n, int32_t num_classes,
                            const char *what, moco_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= num_classes)
            return moco_errorf(err, MOCO_ERR_INVALID,
                               "%s label %d at row %lld is outside [0, %d). HINT: labels must "
                               "be class indices of the dataset",
                               what, (int)y[i], (long long)i, (int)num_classes);
    return MOCO_OK;
}

/* ---- kNN --------------------------------------------------------------- */

typedef struct knn_item {
    float sim;
    int32_t idx;
} knn_item;

/* Total order "a ranks below b": lower similarity, or equal similarity and
 * higher bank index. Makes the top-k set unique, so it matches a full sort. */
static int knn_below(knn_item a, knn_item b) {
    return a.sim < b.sim || (a.sim == b.sim && a.idx > b.idx);
}

/* Min-heap on knn_below: heap[0] is the lowest-ranked item kept. */
static void knn_sift_down(knn_item *h, int32_t size, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < size && knn_below(h[l], h[m])) m = l;
        if (r < size && knn_below(h[r], h[m])) m = r;
        if (m == i) return;
        knn_item t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void knn_sift_up(knn_item *h, int32_t i) {
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (!knn_below(h[i], h[p])) return;
        knn_item t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

/* The kk best of sims (n), best first, into top (kk). heap: kk scratch. */
static void knn_top(knn_item *top, knn_item *heap, const float *sims, int32_t n, int32_t kk) {
    int32_t size = 0;
    for (int32_t j = 0; j < n; j++) {
        knn_item c = {sims[j], j};
        if (size < kk) {
            heap[size] = c;
            knn_sift_up(heap, size++);
        } else if (knn_below(heap[0], c)) {
            heap[0] = c;
            knn_sift_down(heap, size, 0);
        }
    }
    /* popping the minimum fills the output from its end: best first */
    while (size > 0) {
        top[size - 1] = heap[0];
        heap[0] = heap[--size];
        knn_sift_down(heap, size, 0);
    }
}

int32_t moco_knn_predict(int32_t *pred, const float *bank, const int32_t *bank_labels,
                         int64_t n_bank, const float *query, int64_t m, int32_t d,
                         int32_t num_classes, int32_t k, float t, moco_error *err) {
    if (n_bank < 1 || n_bank > INT32_MAX || m < 0 || d < 1 || num_classes < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "kNN: bank of %lld rows, %lld queries, dim %d, %d classes: sizes "
                           "out of range. HINT: the bank needs 1..2^31-1 rows and dim >= 1",
                           (long long)n_bank, (long long)m, (int)d, (int)num_classes);
    if (k < 1 || !(t > 0.0f) || !isfinite(t))
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "kNN: k = %d, t = %g. HINT: use k >= 1 and a temperature t > 0 "
                           "(the MoCo demo uses k = 200, t = 0.1)",
                           (int)k, (double)t);
    int32_t rc = check_labels(bank_labels, n_bank, num_classes, "kNN: bank", err);
    if (rc) return rc;
    if (m == 0) return MOCO_OK;

    const int32_t nb = (int32_t)n_bank;
    const int32_t kk = k < nb ? k : nb;
    int64_t chunk = KNN_MAX_SIMS / n_bank;
    if (chunk > KNN_MAX_QUERIES) chunk = KNN_MAX_QUERIES;
    if (chunk < 1) chunk = 1;
    if (chunk > m) chunk = m;

    float *sims = malloc((size_t)chunk * (size_t)nb * sizeof *sims); /* (chunk, n_bank) */
    knn_item *top = malloc((size_t)kk * sizeof *top);                /* (kk) */
    knn_item *heap = malloc((size_t)kk * sizeof *heap);              /* (kk) */
    double *votes = malloc((size_t)num_classes * sizeof *votes);     /* (classes) */
    if (!sims || !top || !heap || !votes) {
        free(sims);
        free(top);
        free(heap);
        free(votes);
        return moco_errorf(err, MOCO_ERR_NOMEM,
                           "kNN: cannot allocate %lld x %d similarities. HINT: free memory or "
                           "use a smaller bank",
                           (long long)chunk, (int)nb);
    }

    for (int64_t q0 = 0; q0 < m; q0 += chunk) {
        int32_t rows = (int32_t)(m - q0 < chunk ? m - q0 : chunk);
        moco_sgemm(0, 1, rows, nb, d, 1.0f, query + q0 * d, d, bank, d, 0.0f, sims, nb);
        for (int32_t r = 0; r < rows; r++) {
            knn_top(top, heap, sims + (size_t)r * nb, nb, kk);
            memset(votes, 0, (size_t)num_classes * sizeof *votes);
            /* exp(sim / t) up to the common factor exp(best / t): the same
             * argmax, without overflow for small t */
            for (int32_t j = 0; j < kk; j++)
                votes[bank_labels[top[j].idx]] +=
                    exp(((double)top[j].sim - (double)top[0].sim) / (double)t);
            int32_t best = 0;
            for (int32_t c = 1; c < num_classes; c++)
                if (votes[c] > votes[best]) best = c;
            pred[q0 + r] = best;
        }
    }
    free(sims);
    free(top);
    free(heap);
    free(votes);
    return MOCO_OK;
}

/* ---- linear probe ------------------------------------------------------ */

moco_probe_config moco_probe_config_default(void) {
    moco_probe_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 50;
    c.batch = 256;
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.weight_decay = 1e-4f;
    c.seed = 0;
    return c;
}

/* Per-dimension mean and 1/std of x (n, d) over rows, in double. A
 * dimension that is constant on the training set carries no information:
 * its scale is 0 so it standardises to exactly 0. */
static void probe_stats(float *mean, float *inv_std, double *acc, const float *x, int64_t n,
                        int32_t d) {
    for (int32_t j = 0; j < d; j++) acc[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < d; j++) acc[j] += x[i * d + j];
    for (int32_t j = 0; j < d; j++) mean[j] = (float)(acc[j] / (double)n);
    for (int32_t j = 0; j < d; j++) acc[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < d; j++) {
            double c = (double)x[i * d + j] - mean[j];
            acc[j] += c * c;
        }
    for (int32_t j = 0; j < d; j++) {
        double sd = sqrt(acc[j] / (double)n);
        inv_std[j] = sd > 0 ? (float)(1.0 / sd) : 0.0f;
    }
}

/* out (1, d) = (row - mean) * inv_std */
static void probe_standardize_row(float *out, const float *row, const float *mean,
                                  const float *inv_std, int32_t d) {
    for (int32_t j = 0; j < d; j++) out[j] = (row[j] - mean[j]) * inv_std[j];
}

/* logits (rows, c) = x (rows, d) W^T (d, c) + b (c) */
static void probe_forward(float *logits, const float *x, const float *w, const float *b,
                          int32_t rows, int32_t d, int32_t c) {
    moco_sgemm(0, 1, rows, c, d, 1.0f, x, d, w, d, 0.0f, logits, c);
    for (int32_t i = 0; i < rows; i++)
        for (int32_t j = 0; j < c; j++) logits[(size_t)i * c + j] += b[j];
}

/* Top-1 accuracy of the probe on x (n, d), y (n), standardising in blocks
 * of PROBE_EVAL_ROWS rows into xs (PROBE_EVAL_ROWS, d). */
static float probe_accuracy(const float *x, const int32_t *y, int64_t n, const float *w,
                            const float *b, const float *mean, const float *inv_std,
                            float *xs, float *logits, int32_t d, int32_t c) {
    if (n <= 0) return 0.0f;
    int64_t hit = 0;
    for (int64_t r0 = 0; r0 < n; r0 += PROBE_EVAL_ROWS) {
        int32_t rows = (int32_t)(n - r0 < PROBE_EVAL_ROWS ? n - r0 : PROBE_EVAL_ROWS);
        for (int32_t i = 0; i < rows; i++)
            probe_standardize_row(xs + (size_t)i * d, x + (r0 + i) * d, mean, inv_std, d);
        probe_forward(logits, xs, w, b, rows, d, c);
        for (int32_t i = 0; i < rows; i++) {
            const float *li = logits + (size_t)i * c;
            int32_t best = 0;
            for (int32_t j = 1; j < c; j++)
                if (li[j] > li[best]) best = j;
            hit += best == y[r0 + i];
        }
    }
    return (float)((double)hit / (double)n);
}

int32_t moco_linear_probe(float *train_acc, float *test_acc, const float *train_x,
                          const int32_t *train_y, int64_t n_train, const float *test_x,
                          const int32_t *test_y, int64_t n_test, int32_t d,
                          int32_t num_classes, const moco_probe_config *cfg, moco_error *err) {
    MOCO_ASSERT(cfg != NULL);
    if (n_train < 1 || n_test < 0 || d < 1 || num_classes < 2)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "linear probe: %lld train rows, %lld test rows, dim %d, %d classes. "
                           "HINT: need at least one training row, dim >= 1 and >= 2 classes",
                           (long long)n_train, (long long)n_test, (int)d, (int)num_classes);
    if (cfg->epochs < 1 || cfg->batch < 1 || !(cfg->lr > 0.0f) || !isfinite(cfg->lr) ||
        !(cfg->momentum >= 0.0f && cfg->momentum < 1.0f) || !(cfg->weight_decay >= 0.0f) ||
        !isfinite(cfg->weight_decay))
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "linear probe: epochs %d, batch %d, lr %g, momentum %g, weight "
                           "decay %g. HINT: need epochs >= 1, batch >= 1, lr > 0, momentum in "
                           "[0, 1), weight decay >= 0",
                           (int)cfg->epochs, (int)cfg->batch, (double)cfg->lr,
                           (double)cfg->momentum, (double)cfg->weight_decay);
    int32_t rc = check_labels(train_y, n_train, num_classes, "linear probe: train", err);
    if (!rc) rc = check_labels(test_y, n_test, num_classes, "linear probe: test", err);
    if (rc) return rc;

    const int32_t c = num_classes;
    const int32_t bmax = (int32_t)(cfg->batch < n_train ? cfg->batch : n_train);
    const int32_t xrows = bmax > PROBE_EVAL_ROWS ? bmax : PROBE_EVAL_ROWS;
    const size_t wn = (size_t)c * (size_t)d;

    /* One block for the probe's parameters, their gradients and momenta,
     * one for the standardised batch and its logits. */
    float *mean = malloc((size_t)d * sizeof(float));         /* (d) */
    float *inv_std = malloc((size_t)d * sizeof(float));      /* (d) */
    double *acc = malloc((size_t)d * sizeof(double));        /* (d) */
    float *params = calloc(3 * (wn + (size_t)c), sizeof(float));
    float *xb = malloc((size_t)xrows * (size_t)d * sizeof(float)); /* (xrows, d) */
    float *logits = malloc((size_t)xrows * (size_t)c * sizeof(float)); /* (xrows, c) */
    int64_t *perm = malloc((size_t)n_train * sizeof *perm);          /* (n_train) */
    if (!mean || !inv_std || !acc || !params || !xb || !logits || !perm) {
        free(mean);
        free(inv_std);
        free(acc);
        free(params);
        free(xb);
        free(logits);
        free(perm);
        return moco_errorf(err, MOCO_ERR_NOMEM,
                           "linear probe: out of memory (%lld rows x %d). HINT: free memory or "
                           "lower the batch size",
                           (long long)n_train, (int)d);
    }
    float *w = params;          /* (c, d) */
    float *b = w + wn;          /* (c) */
    float *gw = b + c;          /* (c, d) */
    float *gb = gw + wn;        /* (c) */
    float *vw = gb + c;         /* (c, d) */
    float *vb = vw + wn;        /* (c) */

    probe_stats(mean, inv_std, acc, train_x, n_train, d);

    /* weights ~ N(0, 0.01), bias 0, as the official MoCo linear classifier */
    moco_rng rng;
    moco_rng_seed(&rng, moco_seed_mix(cfg->seed, 1));
    for (size_t i = 0; i < wn; i++) w[i] = (float)(0.01 * moco_rng_normal(&rng));
    moco_rng_seed(&rng, moco_seed_mix(cfg->seed, 2));
    for (int64_t i = 0; i < n_train; i++) perm[i] = i;

    const int64_t steps_per_epoch = (n_train + bmax - 1) / bmax;
    const double total_steps = (double)steps_per_epoch * cfg->epochs;
    const float mom = cfg->momentum, wd = cfg->weight_decay;
    int64_t step = 0;
    rc = MOCO_OK;
    for (int32_t epoch = 0; epoch < cfg->epochs && !rc; epoch++) {
        for (int64_t i = n_train - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = (int64_t)moco_rng_below(&rng, (uint64_t)i + 1);
            int64_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        double epoch_loss = 0;
        for (int64_t s0 = 0; s0 < n_train; s0 += bmax, step++) {
            int32_t bs = (int32_t)(n_train - s0 < bmax ? n_train - s0 : bmax);
            for (int32_t i = 0; i < bs; i++)
                probe_standardize_row(xb + (size_t)i * d, train_x + perm[s0 + i] * d, mean,
                                      inv_std, d);
            probe_forward(logits, xb, w, b, bs, d, c);

            /* softmax cross-entropy; logits become dL/dlogits of the mean */
            const float inv_bs = 1.0f / (float)bs;
            for (int32_t i = 0; i < bs; i++) {
                float *li = logits + (size_t)i * c;
                int32_t yi = train_y[perm[s0 + i]];
                float mx = li[0];
                for (int32_t j = 1; j < c; j++)
                    if (li[j] > mx) mx = li[j];
                const float ly = li[yi];
                double sum = 0;
                for (int32_t j = 0; j < c; j++) {
                    li[j] = expf(li[j] - mx);
                    sum += li[j];
                }
                epoch_loss += log(sum) - ((double)ly - mx);
                float scale = (float)(1.0 / sum) * inv_bs;
                for (int32_t j = 0; j < c; j++) li[j] *= scale;
                li[yi] -= inv_bs;
            }
            /* gw (c, d) = dlogits^T (c, bs) x (bs, d); gb (c) = column sums */
            moco_sgemm(1, 0, c, d, bs, 1.0f, logits, c, xb, d, 0.0f, gw, d);
            for (int32_t j = 0; j < c; j++) gb[j] = 0;
            for (int32_t i = 0; i < bs; i++)
                for (int32_t j = 0; j < c; j++) gb[j] += logits[(size_t)i * c + j];

            /* SGD with momentum as PyTorch: v = mom v + (g + wd w); w -= lr v */
            const float lr =
                (float)(0.5 * cfg->lr * (1.0 + cos(3.14159265358979323846 * step / total_steps)));
            for (size_t i = 0; i < wn; i++) {
                vw[i] = mom * vw[i] + gw[i] + wd * w[i];
                w[i] -= lr * vw[i];
            }
            for (int32_t j = 0; j < c; j++) {
                vb[j] = mom * vb[j] + gb[j];
                b[j] -= lr * vb[j];
            }
        }
        if (!isfinite(epoch_loss))
            rc = moco_errorf(err, MOCO_ERR_NUMERIC,
                             "linear probe: training loss became %s in epoch %d (lr %g). "
                             "HINT: lower the probe's learning rate or check the features for "
                             "NaN/Inf",
                             isnan(epoch_loss) ? "NaN" : "Inf", (int)epoch + 1,
                             (double)cfg->lr);
    }

    if (!rc) {
        if (train_acc)
            *train_acc = probe_accuracy(train_x, train_y, n_train, w, b, mean, inv_std, xb,
                                        logits, d, c);
        if (test_acc)
            *test_acc = probe_accuracy(test_x, test_y, n_test, w, b, mean, inv_std, xb,
                                       logits, d, c);
    }
    free(mean);
    free(inv_std);
    free(acc);
    free(params);
    free(xb);
    free(logits);
    free(perm);
    return rc;
}
