/* moco_sgemm (OpenBLAS) against its naive double-accumulating twin: all four
 * transpose combinations, odd sizes, padded leading dimensions, alpha/beta. */
#include "gradcheck.h"

/* One product in both implementations; A, B, C carry `pad` extra columns per
 * row (leading dimension > width) filled with a sentinel that must neither
 * be read into the result nor be overwritten. */
static void gemm_case(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad,
                      moco_rng *r) {
    const int a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
    float *a = gc_alloc((size_t)a_rows * lda); /* (a_rows, lda) */
    float *b = gc_alloc((size_t)b_rows * ldb); /* (b_rows, ldb) */
    float *c0 = gc_alloc((size_t)m * ldc);     /* (m, ldc) */
    gc_fill(a, (size_t)a_rows * lda, NAN);
    gc_fill(b, (size_t)b_rows * ldb, NAN);
    gc_fill(c0, (size_t)m * ldc, 12345.0f);
    for (int i = 0; i < a_rows; i++) gc_uniform(a + (size_t)i * lda, (size_t)a_cols, r, -1, 1);
    for (int i = 0; i < b_rows; i++) gc_uniform(b + (size_t)i * ldb, (size_t)b_cols, r, -1, 1);
    for (int i = 0; i < m; i++) gc_uniform(c0 + (size_t)i * ldc, (size_t)n, r, -1, 1);
    float *c_fast = gc_copy(c0, (size_t)m * ldc);
    float *c_ref = gc_copy(c0, (size_t)m * ldc);

    moco_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c_fast, ldc);
    moco_sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c_ref, ldc);

    /* Entries are in [-1, 1]; float accumulation over k <= 131 terms errs by
     * ~sqrt(k) * 6e-8 typically; 1e-4 leaves a wide margin yet any indexing
     * or transpose mistake is off by O(1). */
    long worst = 0;
    double e = mt_max_rel(c_fast, c_ref, (long)m * ldc, 1e-4, 1e-4, &worst);
    MT_CHECK(e <= 1.0, "ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: err %.3g at %ld", ta, tb,
             m, n, k, alpha, beta, e, worst);
    int pad_ok = 1;
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++)
            pad_ok &= c_fast[(size_t)i * ldc + j] == 12345.0f &&
                      c_ref[(size_t)i * ldc + j] == 12345.0f;
    MT_CHECK(pad_ok, "ta=%d tb=%d: C padding overwritten", ta, tb);
    free(a);
    free(b);
    free(c0);
    free(c_fast);
    free(c_ref);
}

static void test_gemm_all_transposes(void) {
    moco_rng r;
    moco_rng_seed(&r, 1);
    static const int sizes[][3] = {{1, 1, 1}, {7, 5, 9}, {37, 29, 43}, {64, 3, 131}, {3, 65, 2}};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.7f, -1.3f}, {-2.0f, 0.5f}, {1.0f, 1.0f}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
                for (size_t ai = 0; ai < sizeof ab / sizeof ab[0]; ai++)
                    gemm_case(ta, tb, sizes[si][0], sizes[si][1], sizes[si][2], ab[ai][0],
                              ab[ai][1], (int)(si + ai) % 3, &r);
}

/* beta == 0 must overwrite C: conv and linear write into uninitialised
 * buffers, and 0 * NaN would otherwise poison them. */
static void test_gemm_beta_zero_ignores_c(void) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}; /* (2,3) . (3,2) */
    float c_fast[4], c_ref[4];
    const float expect[4] = {4, 5, 10, 11};
    gc_fill(c_fast, 4, NAN);
    gc_fill(c_ref, 4, NAN);
    moco_sgemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c_fast, 2);
    moco_sgemm_naive(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c_ref, 2);
    for (int i = 0; i < 4; i++) {
        MT_CLOSE(c_fast[i], expect[i], 0, 0);
        MT_CLOSE(c_ref[i], expect[i], 0, 0);
    }
}

static void test_gemm_empty(void) {
    float c = 3.0f;
    moco_sgemm(0, 0, 0, 1, 1, 1.0f, NULL, 1, NULL, 1, 0.0f, &c, 1);
    moco_sgemm_naive(0, 0, 0, 1, 1, 1.0f, NULL, 1, NULL, 1, 0.0f, &c, 1);
    MT_CHECK(c == 3.0f, "empty product touched C");
}

int main(void) {
    MT_RUN(test_gemm_all_transposes);
    MT_RUN(test_gemm_beta_zero_ignores_c);
    MT_RUN(test_gemm_empty);
    return mt_finish();
}
