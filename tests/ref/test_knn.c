/* The host's kNN monitor (host/eval.c moco_knn_predict) against the MoCo
 * CIFAR demo's knn_predict in PyTorch (sim = feature @ bank.T, topk, weights
 * (sim / T).exp(), one-hot scatter, sum, argmax) on a fixed bank of 400
 * L2-normalised 16-d features with unbalanced classes and 60 queries, for
 * k = 200 and k = 20 at T = 0.1. The script keeps only queries whose answer
 * does not hinge on float32 summation order (a gap at the k-th neighbour
 * and between the two best classes), so predictions must be identical; it
 * also checks that the fixture tells k = 200 from k = 20 and weighted from
 * unweighted voting apart. */
#include "eval.h"
#include "fixture.h"

static void test_knn_vs_demo(void) {
    ref_fixture f;
    ref_open(&f, "knn.bin");
    const ref_tensor *tb = ref_find(&f, "bank"), *tq = ref_find(&f, "queries");
    MT_CHECK(tb && tq && tb->ndim == 2 && tq->ndim == 2 && tb->shape[1] == tq->shape[1], "shapes");
    if (!tb || !tq) return;
    const int64_t nb = tb->shape[0], m = tq->shape[0];
    const int32_t d = (int32_t)tb->shape[1];
    const int32_t classes = (int32_t)ref_i64s(&f, "classes", 1)[0];
    const int64_t *ks = ref_i64s(&f, "k", 2);
    const float t = ref_f32(&f, "t", 1)[0];
    const int64_t *bl = ref_i64s(&f, "bank_labels", nb), *ql = ref_i64s(&f, "query_labels", m);
    int32_t *labels = malloc((size_t)nb * sizeof(int32_t)), *pred = malloc((size_t)m * sizeof(int32_t));
    int32_t *other = malloc((size_t)m * sizeof(int32_t));
    for (int64_t i = 0; i < nb; i++) labels[i] = (int32_t)bl[i];
    moco_error err = {{0}};
    for (int32_t j = 0; j < 2; j++) {
        char key[32];
        snprintf(key, sizeof key, "pred_k%lld", (long long)ks[j]);
        const int64_t *want = ref_i64s(&f, key, m);
        int32_t st = moco_knn_predict(pred, tb->data, labels, nb, tq->data, m, d, classes,
                                      (int32_t)ks[j], t, &err);
        MT_CHECK(st == 0, "knn: %s", err.msg);
        long same = 0, correct = 0;
        int64_t first = -1;
        for (int64_t i = 0; i < m; i++) {
            same += pred[i] == want[i];
            correct += pred[i] == ql[i];
            if (pred[i] != want[i] && first < 0) first = i;
        }
        printf("REF knn k=%-3lld T=%g: %ld of %lld predictions identical to the demo's "
               "knn_predict (top-1 %.2f)%s\n", (long long)ks[j], (double)t, same, (long long)m,
               (double)correct / (double)m, same == m ? "" : "  MISMATCH");
        MT_CHECK(same == m, "k=%lld: query %lld: ours %d, reference %lld", (long long)ks[j],
                 (long long)first, first >= 0 ? pred[first] : -1,
                 first >= 0 ? (long long)want[first] : -1LL);
    }
    /* sensitivity: the same bank with uniform votes (T huge) must disagree
     * with the weighted reference somewhere, or the fixture proves nothing
     * about the weighting */
    moco_knn_predict(other, tb->data, labels, nb, tq->data, m, d, classes, (int32_t)ks[0], 1e6f,
                     &err);
    const int64_t *want200 = ref_i64s(&f, "pred_k200", m);
    long differ = 0;
    for (int64_t i = 0; i < m; i++) differ += other[i] != want200[i];
    MT_CHECK(differ > 0, "unweighted votes give the weighted answers: fixture too easy");
    free(labels);
    free(pred);
    free(other);
    ref_fixture_free(&f);
}

int main(void) {
    MT_RUN(test_knn_vs_demo);
    return mt_finish();
}
