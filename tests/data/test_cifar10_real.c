/* data_cifar10_real: load the real CIFAR-10 files through the plugin when
 * MOCO_CIFAR10_DIR names them (read-only), check counts and the class
 * balance, and print the load time. Skipped (exit 77) when the variable is
 * not set, so the suite never needs the real data. */
#include <stdlib.h>
#include <time.h>

#include "mtest.h"
#include "test_host.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check_split(const moco_dataset_api *api, int32_t split, int64_t want_count,
                        int64_t per_class) {
    const char *kv[] = {"path", "${MOCO_CIFAR10_DIR}", NULL};
    test_host t;
    th_init(&t, "dataset", kv);
    moco_error err = {{0}};
    void *ds = NULL;
    double t0 = now();
    int32_t rc = api->create(&t.host, split, &ds, &err);
    double t1 = now();
    MT_CHECK(rc == MOCO_OK, "create: %s", err.msg);
    if (rc) return;
    moco_dataset_info info;
    api->info(ds, &info);
    printf("%s split: %lld images loaded in %.3f s\n", split ? "test" : "train",
           (long long)info.count, t1 - t0);
    MT_CHECK(info.count == want_count, "count %lld", (long long)info.count);
    int64_t hist[10] = {0};
    uint8_t px[3072];
    double mean[3] = {0, 0, 0};
    for (int64_t i = 0; i < info.count; i++) {
        int32_t label;
        api->get(ds, i, px, &label, &err);
        if (label >= 0 && label < 10) hist[label]++;
        for (int c = 0; c < 3; c++) {
            long s = 0;
            for (int p = 0; p < 1024; p++) s += px[c * 1024 + p];
            mean[c] += (double)s / 1024.0;
        }
    }
    int balanced = 1;
    for (int c = 0; c < 10; c++) balanced &= hist[c] == per_class;
    MT_CHECK(balanced, "%lld images per class expected", (long long)per_class);
    printf("  channel means /255: %.4f %.4f %.4f (published train means: 0.4914 0.4822 0.4465)\n",
           mean[0] / info.count / 255, mean[1] / info.count / 255, mean[2] / info.count / 255);
    api->destroy(ds);
}

int main(void) {
    const char *dir = getenv("MOCO_CIFAR10_DIR");
    if (!dir || !*dir) {
        printf("skipped: set MOCO_CIFAR10_DIR to a cifar-10-batches-bin folder to run\n");
        return 77;
    }
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "cifar10");
    if (!e) return 1;
    printf("MOCO_CIFAR10_DIR=%s\n", dir);
    check_split(e->api, MOCO_SPLIT_TRAIN, 50000, 5000);
    check_split(e->api, MOCO_SPLIT_TEST, 10000, 1000);
    return mt_finish();
}
