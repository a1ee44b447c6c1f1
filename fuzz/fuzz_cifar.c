/* libFuzzer target: the cifar10 dataset plugin on arbitrary file contents.
 * The input becomes all six batch files (in a private temp folder) with
 * records_per_file chosen to fit when it can, so both the size checks and
 * the record/label checks and every image read are exercised. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_host.h"
#include "tmpdir.h"

static char dir[64];
static const moco_dataset_api *api;

static void setup(void) {
    const char *d = mt_tmpdir("moco-fuzz-cifar");   /* removed at exit */
    if (!d) abort();
    snprintf(dir, sizeof dir, "%s", d);
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "cifar10");
    if (!e) abort();
    api = e->api;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!api) setup();
    static const char *const names[] = {"data_batch_1.bin", "data_batch_2.bin",
                                        "data_batch_3.bin", "data_batch_4.bin",
                                        "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "wb");
        if (!f) abort();
        fwrite(data, 1, size, f);
        fclose(f);
    }
    char rpf[32], limit[32];
    snprintf(rpf, sizeof rpf, "%zu", size / 3073 ? size / 3073 : 1);
    snprintf(limit, sizeof limit, "%u", size ? data[0] % 8 : 0);
    const char *kv[] = {"path", dir, "records_per_file", rpf, "limit", limit, NULL};
    test_host th;
    th_init(&th, "dataset", kv);
    for (int split = 0; split < 2; split++) {
        void *ds = NULL;
        moco_error err;
        if (api->create(&th.host, split, &ds, &err) != MOCO_OK) continue;
        moco_dataset_info info;
        api->info(ds, &info);
        uint8_t pix[3 * 32 * 32];
        for (int64_t i = 0; i < info.count; i++) {
            int32_t label;
            api->get(ds, i, pix, &label, &err);
        }
        api->destroy(ds);
    }
    return 0;
}
