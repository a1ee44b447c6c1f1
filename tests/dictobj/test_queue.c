/* The "queue" dictionary plugin: FIFO order and wrap-around against a naive
 * model, the K % batch check, unit-norm initial keys, and checkpoint state
 * that aliases the live storage. */
#include "mtest.h"
#include "test_host.h"

static const moco_dictionary_api *api;

static int32_t make(void **out, const char *size, int32_t dim, int32_t batch, moco_error *err,
                    test_host *th) {
    const char *kv[] = {"size", size, NULL};
    th_init(th, "dictionary", size ? kv : NULL);
    return api->create(&th->host, dim, batch, out, err);
}

static void test_entry(void) {
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "queue");
    MT_CHECK(e != NULL, "plugin queue.so not loadable");
    if (!e) exit(mt_finish() | 1);
    MT_CHECK(e->sdk_version.major == MOCO_SDK_VERSION_MAJOR, "major %u", e->sdk_version.major);
    MT_CHECK(e->kind == MOCO_KIND_DICTIONARY, "kind %d", e->kind);
    MT_CHECK(strcmp(e->name, "queue") == 0, "name %s", e->name);
    api = e->api;
    MT_CHECK(api->sdk_version.major == MOCO_SDK_VERSION_MAJOR, "api major");
    MT_CHECK(api->create && api->destroy && api->negatives && api->enqueue && api->num_state &&
                 api->state,
             "all functions present");
}

static void test_default_size_and_unit_rows(void) {
    test_host th;
    moco_error err = {{0}};
    void *d = NULL;
    int32_t rc = make(&d, NULL, 128, 256, &err, &th);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    const float *keys;
    int32_t count;
    api->negatives(d, &keys, &count);
    MT_CHECK(count == 1024, "default K = %d", count);
    double worst = 0, mean_abs_dot = 0;
    for (int32_t r = 0; r < count; r++) {
        double ss = 0;
        for (int j = 0; j < 128; j++) ss += (double)keys[r * 128 + j] * keys[r * 128 + j];
        if (fabs(sqrt(ss) - 1) > worst) worst = fabs(sqrt(ss) - 1);
        if (r > 0) {
            double dot = 0;
            for (int j = 0; j < 128; j++) dot += (double)keys[r * 128 + j] * keys[(r - 1) * 128 + j];
            mean_abs_dot += fabs(dot) / (count - 1);
        }
    }
    printf("  initial rows: worst | ||row|| - 1 | = %.3g, mean |cos| of neighbours = %.3f\n",
           worst, mean_abs_dot);
    MT_CHECK(worst < 1e-5, "rows not unit norm: %g", worst);
    /* random directions in 128-d: |cos| ~ sqrt(2/pi)/sqrt(128) ~ 0.07 */
    MT_CHECK(mean_abs_dot > 0.03 && mean_abs_dot < 0.12, "rows not random: %g", mean_abs_dot);

    /* same rng stream -> same contents; another run seed -> different */
    test_host th2;
    void *d2 = NULL;
    rc = make(&d2, NULL, 128, 256, &err, &th2);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    const float *keys2;
    api->negatives(d2, &keys2, &count);
    MT_CHECK(memcmp(keys, keys2, 1024 * 128 * sizeof(float)) == 0, "not reproducible");
    api->destroy(d2);
    th_init(&th2, "dictionary", NULL);
    th2.seed = 99;
    rc = api->create(&th2.host, 128, 256, &d2, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    api->negatives(d2, &keys2, &count);
    MT_CHECK(memcmp(keys, keys2, 1024 * 128 * sizeof(float)) != 0, "seed ignored");
    api->destroy(d2);
    api->destroy(d);
}

/* Key (s, r, j) of step s, batch row r, component j: all distinct. */
static float key_value(int s, int r, int j) { return (float)(1000 * (s + 1) + 10 * r + j); }

static void test_fifo_wraparound_tiny(void) {
    enum { K = 8, B = 2, D = 3, STEPS = 11 };
    test_host th;
    moco_error err = {{0}};
    void *d = NULL;
    int32_t rc = make(&d, "8", D, B, &err, &th);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    const float *keys;
    int32_t count;
    api->negatives(d, &keys, &count);
    MT_CHECK(count == K, "K = %d", count);
    float model[K * D]; /* the official _dequeue_and_enqueue on a plain array */
    memcpy(model, keys, sizeof model);
    int64_t model_ptr = 0;
    moco_tensor_desc ptr_desc;
    api->state(d, 1, &ptr_desc);
    for (int s = 0; s < STEPS; s++) {
        float batch[B * D];
        for (int r = 0; r < B; r++)
            for (int j = 0; j < D; j++) batch[r * D + j] = key_value(s, r, j);
        rc = api->enqueue(d, batch, B, &err);
        MT_CHECK(rc == MOCO_OK, "step %d: %s", s, err.msg);
        memcpy(model + model_ptr * D, batch, sizeof batch);
        model_ptr = (model_ptr + B) % K;
        api->negatives(d, &keys, &count);
        MT_CHECK(count == K, "count %d", count);
        MT_CHECK(memcmp(keys, model, sizeof model) == 0, "contents differ after step %d", s);
        MT_CHECK(*(const int64_t *)ptr_desc.data == model_ptr, "step %d: ptr %lld, expected %lld",
                 s, (long long)*(const int64_t *)ptr_desc.data, (long long)model_ptr);
    }
    /* explicit positions after 11 steps (22 keys): ptr = 22 % 8 = 6; rows
     * 0-1 hold step 8, 2-3 step 9, 4-5 step 10, 6-7 step 7 (the oldest) */
    MT_CHECK(*(const int64_t *)ptr_desc.data == 6, "final ptr");
    const int owner[K / B] = {8, 9, 10, 7};
    for (int slot = 0; slot < K / B; slot++)
        for (int r = 0; r < B; r++)
            MT_CHECK(keys[(slot * B + r) * D + 2] == key_value(owner[slot], r, 2),
                     "row %d holds %g", slot * B + r, (double)keys[(slot * B + r) * D + 2]);

    /* a batch of the wrong size is refused, and nothing moves */
    float big[3 * D] = {0};
    rc = api->enqueue(d, big, 3, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "rc %d", rc);
    MT_CHECK(strstr(err.msg, "HINT") != NULL, "msg: %s", err.msg);
    MT_CHECK(*(const int64_t *)ptr_desc.data == 6, "ptr moved on refusal");
    api->destroy(d);
}

static void test_size_not_multiple_refused_tiny(void) {
    test_host th;
    moco_error err = {{0}};
    void *d = (void *)&th;
    int32_t rc = make(&d, "1000", 16, 256, &err, &th);
    printf("  K=1000, batch=256: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_INVALID, "rc %d", rc);
    MT_CHECK(d == NULL, "out not cleared");
    MT_CHECK(strstr(err.msg, "test.ini:1") != NULL, "no file:line: %s", err.msg);
    MT_CHECK(strstr(err.msg, "size") != NULL, "key not named: %s", err.msg);
    MT_CHECK(strstr(err.msg, "HINT") != NULL, "no hint: %s", err.msg);
    MT_CHECK(strstr(err.msg, "768") && strstr(err.msg, "1024"), "nearest multiples: %s",
             err.msg);

    rc = make(&d, "100", 16, 256, &err, &th); /* below one batch */
    printf("  K=100, batch=256: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "256"), "%s", err.msg);

    const char *bad[] = {"0", "-8", "abc", "16777217", "8.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rc = make(&d, bad[i], 16, 8, &err, &th);
        MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "size") && strstr(err.msg, "HINT"),
                 "size = %s: rc %d %s", bad[i], rc, err.msg);
    }
    rc = make(&d, "8", 0, 8, &err, &th);
    MT_CHECK(rc == MOCO_ERR_INVALID, "dim 0 accepted");
    rc = make(&d, "16", 4, 16, &err, &th); /* K == batch is fine */
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (!rc) api->destroy(d);
}

static void test_state_aliases_storage_tiny(void) {
    enum { K = 8, B = 2, D = 3 };
    test_host th;
    moco_error err = {{0}};
    void *d = NULL;
    int32_t rc = make(&d, "8", D, B, &err, &th);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    MT_CHECK(api->num_state(d) == 2, "num_state %d", api->num_state(d));
    moco_tensor_desc q, p;
    api->state(d, 0, &q);
    api->state(d, 1, &p);
    MT_CHECK(strcmp(q.name, "queue") == 0 && q.dtype == MOCO_DTYPE_F32 &&
                 q.role == MOCO_ROLE_STATE && q.ndim == 2 && q.shape[0] == K && q.shape[1] == D &&
                 q.grad == NULL,
             "queue desc");
    MT_CHECK(strcmp(p.name, "queue_ptr") == 0 && p.dtype == MOCO_DTYPE_I64 &&
                 p.role == MOCO_ROLE_STATE && p.ndim == 1 && p.shape[0] == 1 && p.grad == NULL,
             "queue_ptr desc");

    /* a checkpoint load: write through the descriptors */
    float *qd = q.data;
    for (int i = 0; i < K * D; i++) qd[i] = (float)(-i);
    *(int64_t *)p.data = 4;
    const float *keys;
    int32_t count;
    api->negatives(d, &keys, &count);
    MT_CHECK(keys == (const float *)q.data, "negatives() is not the state storage");
    MT_CHECK(keys[5] == -5.0f && keys[K * D - 1] == (float)(-(K * D - 1)), "write-through");
    float batch[B * D] = {1, 2, 3, 4, 5, 6};
    rc = api->enqueue(d, batch, B, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    api->negatives(d, &keys, &count);
    MT_CHECK(memcmp(keys + 4 * D, batch, sizeof batch) == 0, "restored ptr not used");
    MT_CHECK(keys[3 * D] == (float)(-3 * D) && keys[6 * D] == (float)(-6 * D), "neighbours");
    MT_CHECK(*(int64_t *)p.data == 6, "ptr %lld", (long long)*(int64_t *)p.data);
    moco_tensor_desc again;
    api->state(d, 0, &again);
    MT_CHECK(again.data == q.data, "state storage moved");

    /* a pointer no run of this configuration can produce is refused */
    *(int64_t *)p.data = 3;
    rc = api->enqueue(d, batch, B, &err);
    printf("  queue_ptr = 3: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_FORMAT && strstr(err.msg, "HINT"), "rc %d %s", rc, err.msg);
    *(int64_t *)p.data = K;
    rc = api->enqueue(d, batch, B, &err);
    MT_CHECK(rc == MOCO_ERR_FORMAT, "ptr == K accepted");
    api->destroy(d);
}

int main(void) {
    MT_RUN(test_entry);
    MT_RUN(test_default_size_and_unit_rows);
    MT_RUN(test_fifo_wraparound_tiny);
    MT_RUN(test_size_not_multiple_refused_tiny);
    MT_RUN(test_state_aliases_storage_tiny);
    return mt_finish();
}
