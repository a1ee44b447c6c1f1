/* data_cifar10: the cifar10 dataset plugin on small synthetic files in the
 * official record format (1 label byte + 3072 pixel bytes), written to a
 * temporary folder. No real CIFAR data is used. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtest.h"
#include "test_host.h"
#include "tmpdir.h"

#define REC 3073
#define PIX 3072
#define RPF 100 /* records per synthetic file */

static const moco_dataset_api *api;
static char root[256]; /* temp folder holding the synthetic sets */

static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

/* Pixel p of record k of file f (f = 0..4 train, 5 test); label likewise. */
static uint8_t pixel_of(int f, int k, int p) {
    return (uint8_t)((f * 131 + k * 31 + p * 7 + (p >> 10) * 59) & 255);
}
static uint8_t label_of(int f, int k) { return (uint8_t)((f * 7 + k * 3) % 10); }

static void write_set(const char *dir, int records) {
    mkdir(dir, 0755);
    uint8_t rec[REC];
    for (int f = 0; f < 6; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        FILE *fp = fopen(path, "wb");
        if (!fp) {
            fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
            exit(2);
        }
        for (int k = 0; k < records; k++) {
            rec[0] = label_of(f, k);
            for (int p = 0; p < PIX; p++) rec[1 + p] = pixel_of(f, k, p);
            fwrite(rec, 1, REC, fp);
        }
        fclose(fp);
    }
}

static void remove_set(const char *dir) {
    for (int f = 0; f < 6; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        unlink(path);
    }
    rmdir(dir);
}

static void set_path(char *out, size_t cap, const char *sub) {
    snprintf(out, cap, "%s/%s", root, sub);
}

/* Create a split from key/value pairs; returns status, fills err. */
static int32_t open_split(test_host *t, const char *const *kv, int32_t split, void **ds,
                          moco_error *err) {
    th_init(t, "dataset", kv);
    err->msg[0] = 0;
    *ds = NULL;
    return api->create(&t->host, split, ds, err);
}

static int all_keys_used(const test_host *t) {
    for (int i = 0; i < t->nkeys; i++)
        if (!t->used[i]) return 0;
    return 1;
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

static void test_entry(void) {
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "cifar10");
    MT_CHECK(e != NULL, "plugin cifar10 loads");
    if (!e) exit(1);
    MT_CHECK(e->kind == MOCO_KIND_DATASET, "kind %d", (int)e->kind);
    MT_CHECK(e->sdk_version.major == MOCO_SDK_VERSION_MAJOR, "major %u", e->sdk_version.major);
    MT_CHECK(strcmp(e->name, "cifar10") == 0, "name %s", e->name);
    api = e->api;
    MT_CHECK(api->sdk_version.major == MOCO_SDK_VERSION_MAJOR, "api major");
}

static void test_roundtrip(void) {
    char dir[512];
    set_path(dir, sizeof dir, "good");
    const char *kv[] = {"path", dir, "records_per_file", "100", "limit", "0", "limit_test", "0",
                        NULL};
    test_host t;
    moco_error err;
    void *ds;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "train create: %s", err.msg);
    if (rc) return;
    MT_CHECK(all_keys_used(&t), "every key is read (none would be reported unknown)");
    moco_dataset_info info;
    api->info(ds, &info);
    MT_CHECK(info.count == 5 * RPF, "train count %lld", (long long)info.count);
    MT_CHECK(info.channels == 3 && info.height == 32 && info.width == 32, "shape %d %d %d",
             info.channels, info.height, info.width);
    MT_CHECK(info.num_classes == 10, "classes %d", info.num_classes);
    uint8_t px[PIX];
    int bad_px = 0, bad_label = 0;
    for (int64_t g = 0; g < info.count; g++) {
        int32_t label = -1;
        if (api->get(ds, g, px, &label, &err) != MOCO_OK) {
            bad_px++;
            continue;
        }
        int f = (int)(g / RPF), k = (int)(g % RPF);
        if (label != label_of(f, k)) bad_label++;
        for (int p = 0; p < PIX; p++)
            if (px[p] != pixel_of(f, k, p)) {
                bad_px++;
                break;
            }
    }
    MT_CHECK(bad_px == 0, "%d train images differ from the file", bad_px);
    MT_CHECK(bad_label == 0, "%d train labels differ from the file", bad_label);
    int32_t label;
    MT_CHECK(api->get(ds, info.count, px, &label, &err) != MOCO_OK, "index == count refused");
    MT_CHECK(api->get(ds, -1, px, &label, &err) != MOCO_OK, "index -1 refused");
    api->destroy(ds);

    rc = open_split(&t, kv, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "test create: %s", err.msg);
    if (rc) return;
    MT_CHECK(all_keys_used(&t), "every key is read for the test split too");
    api->info(ds, &info);
    MT_CHECK(info.count == RPF, "test count %lld", (long long)info.count);
    bad_px = bad_label = 0;
    for (int64_t k = 0; k < info.count; k++) {
        api->get(ds, k, px, &label, &err);
        if (label != label_of(5, (int)k)) bad_label++;
        if (px[0] != pixel_of(5, (int)k, 0) || px[PIX - 1] != pixel_of(5, (int)k, PIX - 1) ||
            px[1500] != pixel_of(5, (int)k, 1500))
            bad_px++;
    }
    MT_CHECK(bad_px == 0 && bad_label == 0, "test split: %d images, %d labels differ", bad_px,
             bad_label);
    api->destroy(ds);
    api->destroy(NULL);
}

static void test_limit(void) {
    char dir[512];
    set_path(dir, sizeof dir, "good");
    /* 250 crosses a file boundary: 2.5 files of 100. */
    const char *kv[] = {"path", dir, "records_per_file", "100", "limit", "250", "limit_test",
                        "30", NULL};
    test_host t;
    moco_error err;
    void *ds;
    moco_dataset_info info;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "create with limit: %s", err.msg);
    if (rc) return;
    api->info(ds, &info);
    MT_CHECK(info.count == 250, "limited train count %lld", (long long)info.count);
    uint8_t px[PIX];
    int32_t label;
    MT_CHECK(api->get(ds, 249, px, &label, &err) == MOCO_OK, "last image: %s", err.msg);
    MT_CHECK(label == label_of(2, 49) && px[77] == pixel_of(2, 49, 77),
             "image 249 is record 49 of data_batch_3");
    MT_CHECK(api->get(ds, 250, px, &label, &err) != MOCO_OK, "image 250 is beyond the limit");
    api->destroy(ds);

    rc = open_split(&t, kv, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "test split with limit_test: %s", err.msg);
    if (rc) return;
    api->info(ds, &info);
    MT_CHECK(info.count == 30, "limited test count %lld", (long long)info.count);
    api->destroy(ds);

    const char *too_many[] = {"path", dir, "records_per_file", "100", "limit", "501", NULL};
    rc = open_split(&t, too_many, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc != MOCO_OK && contains(err.msg, "limit") && contains(err.msg, "500"),
             "limit above the split size refused naming the key: %s", err.msg);
    const char *negative[] = {"path", dir, "records_per_file", "100", "limit", "-1", NULL};
    rc = open_split(&t, negative, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc != MOCO_OK && contains(err.msg, "limit"), "negative limit refused: %s", err.msg);
}

static void test_official_size_check(void) {
    /* Without records_per_file the loader expects the official 30,730,000 bytes. */
    char dir[512];
    set_path(dir, sizeof dir, "good");
    const char *kv[] = {"path", dir, NULL};
    test_host t;
    moco_error err;
    void *ds;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_FORMAT, "small file refused under the official layout (rc %d)", rc);
    MT_CHECK(contains(err.msg, "data_batch_1.bin") && contains(err.msg, "size 307300 bytes") &&
                 contains(err.msg, "expected 30730000") && contains(err.msg, "HINT"),
             "message names file, size and expected size: %s", err.msg);
}

static void test_truncated(void) {
    char dir[512], file[600];
    set_path(dir, sizeof dir, "truncated");
    write_set(dir, RPF);
    snprintf(file, sizeof file, "%s/data_batch_3.bin", dir);
    MT_CHECK(truncate(file, (off_t)RPF * REC - 5) == 0, "truncate");
    const char *kv[] = {"path", dir, "records_per_file", "100", NULL};
    test_host t;
    moco_error err;
    void *ds;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc != MOCO_OK, "truncated file refused");
    MT_CHECK(contains(err.msg, file) && contains(err.msg, "size 307295 bytes") &&
                 contains(err.msg, "expected 307300"),
             "message names the file, its size and the expected size: %s", err.msg);
    MT_CHECK(contains(err.msg, "not a whole number of 3073-byte records"), "says why: %s",
             err.msg);
    /* The test split does not need data_batch_3. */
    rc = open_split(&t, kv, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "test split unaffected: %s", err.msg);
    if (rc == MOCO_OK) api->destroy(ds);

    /* A missing file is named too. */
    snprintf(file, sizeof file, "%s/test_batch.bin", dir);
    unlink(file);
    rc = open_split(&t, kv, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_IO && contains(err.msg, file) && contains(err.msg, "get-cifar10.sh"),
             "missing test_batch.bin refused with a hint: %s", err.msg);
    remove_set(dir);
}

static void test_bad_label(void) {
    char dir[512], file[600];
    set_path(dir, sizeof dir, "badlabel");
    write_set(dir, RPF);
    snprintf(file, sizeof file, "%s/data_batch_2.bin", dir);
    FILE *fp = fopen(file, "r+b");
    MT_CHECK(fp != NULL, "open %s", file);
    if (!fp) return;
    fseek(fp, 42L * REC, SEEK_SET);
    fputc(255, fp);
    fclose(fp);
    const char *kv[] = {"path", dir, "records_per_file", "100", NULL};
    test_host t;
    moco_error err;
    void *ds;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_FORMAT, "label 255 refused (rc %d)", rc);
    char offset[32];
    snprintf(offset, sizeof offset, "byte offset %d", 42 * REC);
    MT_CHECK(contains(err.msg, file) && contains(err.msg, "record 42") &&
                 contains(err.msg, offset) && contains(err.msg, "255"),
             "message names file, record and offset: %s", err.msg);
    /* With a limit that stops before the bad record it is never read. */
    const char *kv2[] = {"path", dir, "records_per_file", "100", "limit", "142", NULL};
    rc = open_split(&t, kv2, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "records past the limit are not read: %s", err.msg);
    if (rc == MOCO_OK) api->destroy(ds);
    const char *kv3[] = {"path", dir, "records_per_file", "100", "limit", "143", NULL};
    rc = open_split(&t, kv3, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_FORMAT, "record 42 of data_batch_2 is image 142 (rc %d)", rc);
    remove_set(dir);
}

/* Files longer than the reader's ~1 MiB buffer (341 records), read on
 * several threads: every image and label lands in its place, with a limit
 * that ends inside a buffer of the third file. */
static void test_large_files_threads(void) {
    enum { N = 700 };
    char dir[512];
    set_path(dir, sizeof dir, "large");
    write_set(dir, N);
    const char *kv[] = {"path", dir, "records_per_file", "700", "limit", "1750", NULL};
    test_host t;
    moco_error err;
    void *ds;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "create: %s", err.msg);
    if (rc) return;
    moco_dataset_info info;
    api->info(ds, &info);
    MT_CHECK(info.count == 1750, "count %lld", (long long)info.count);
    uint8_t px[PIX];
    int bad = 0;
    for (int64_t g = 0; g < info.count; g++) {
        int f = (int)(g / N), k = (int)(g % N);
        int32_t label = -1;
        if (api->get(ds, g, px, &label, &err) != MOCO_OK || label != label_of(f, k)) {
            bad++;
            continue;
        }
        for (int p = 0; p < PIX; p += 97)
            if (px[p] != pixel_of(f, k, p)) {
                bad++;
                break;
            }
    }
    MT_CHECK(bad == 0, "%d of 1750 images or labels differ from the files", bad);
    api->destroy(ds);
    remove_set(dir);
}

/* Two bad files: the error is always the first one's in file order, however
 * the reader threads were scheduled. */
static void test_first_error_in_file_order(void) {
    char dir[512];
    set_path(dir, sizeof dir, "twobad");
    write_set(dir, RPF);
    const char *bad_files[2] = {"data_batch_2.bin", "data_batch_5.bin"};
    for (int i = 0; i < 2; i++) {
        char file[600];
        snprintf(file, sizeof file, "%s/%s", dir, bad_files[i]);
        FILE *fp = fopen(file, "r+b");
        MT_CHECK(fp != NULL, "open %s", file);
        if (!fp) return;
        fseek(fp, (long)(RPF - 1) * REC, SEEK_SET); /* the last record of each */
        fputc(10 + i, fp);
        fclose(fp);
    }
    const char *kv[] = {"path", dir, "records_per_file", "100", NULL};
    int wrong = 0;
    for (int rep = 0; rep < 20; rep++) {
        test_host t;
        moco_error err;
        void *ds;
        int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
        if (rc != MOCO_ERR_FORMAT || !contains(err.msg, "data_batch_2.bin: record 99") ||
            !contains(err.msg, "label byte 10 ")) {
            if (!wrong) fprintf(stderr, "  rep %d: rc %d: %s\n", rep, rc, err.msg);
            wrong++;
        }
        if (rc == MOCO_OK) api->destroy(ds);
    }
    MT_CHECK(wrong == 0, "%d of 20 opens did not report data_batch_2's record 99", wrong);
    remove_set(dir);
}

static void test_paths(void) {
    char dir[512];
    set_path(dir, sizeof dir, "missing-folder");
    const char *kv[] = {"path", dir, "records_per_file", "100", NULL};
    test_host t;
    moco_error err;
    void *ds;
    int32_t rc = open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_IO && contains(err.msg, dir) && contains(err.msg, "HINT"),
             "missing folder refused naming it: %s", err.msg);

    const char *none[] = {"records_per_file", "100", NULL};
    rc = open_split(&t, none, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && contains(err.msg, "path") && contains(err.msg, "HINT"),
             "missing path key refused: %s", err.msg);

    unsetenv("MOCO_TEST_SURELY_UNSET_DIR");
    const char *unset[] = {"path", "${MOCO_TEST_SURELY_UNSET_DIR}/x", NULL};
    rc = open_split(&t, unset, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && contains(err.msg, "MOCO_TEST_SURELY_UNSET_DIR is not set") &&
                 contains(err.msg, "HINT: export MOCO_TEST_SURELY_UNSET_DIR="),
             "unset ${VAR} refused naming it with a hint: %s", err.msg);
    MT_CHECK(contains(err.msg, "test.ini:1: [dataset] path"), "points at the INI line: %s",
             err.msg);
    const char *unset2[] = {"path", "$MOCO_TEST_SURELY_UNSET_DIR", NULL};
    rc = open_split(&t, unset2, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && contains(err.msg, "MOCO_TEST_SURELY_UNSET_DIR"),
             "unset $VAR refused: %s", err.msg);
    const char *malformed[] = {"path", "${MOCO_TEST_X", NULL};
    rc = open_split(&t, malformed, MOCO_SPLIT_TRAIN, &ds, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && contains(err.msg, "malformed"), "unclosed ${: %s",
             err.msg);

    /* ${VAR} and $VAR expand, with text around them. */
    setenv("MOCO_TEST_CIFAR_ROOT", root, 1);
    const char *braced[] = {"path", "${MOCO_TEST_CIFAR_ROOT}/good", "records_per_file", "100",
                            NULL};
    rc = open_split(&t, braced, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "${VAR}/good: %s", err.msg);
    if (rc == MOCO_OK) api->destroy(ds);
    const char *bare[] = {"path", "$MOCO_TEST_CIFAR_ROOT/good", "records_per_file", "100", NULL};
    rc = open_split(&t, bare, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "$VAR/good: %s", err.msg);
    if (rc == MOCO_OK) api->destroy(ds);
}

static const char *root_dir(void *ctx) { (void)ctx; return root; }

static void test_relative_path(void) {
    /* Relative paths resolve against the host's config_dir. */
    const char *kv[] = {"path", "good", "records_per_file", "100", NULL};
    test_host t;
    moco_error err;
    void *ds = NULL;
    th_init(&t, "dataset", kv);
    t.host.config_dir = root_dir;
    int32_t rc = api->create(&t.host, MOCO_SPLIT_TEST, &ds, &err);
    MT_CHECK(rc == MOCO_OK, "relative path against config_dir: %s", err.msg);
    if (rc == MOCO_OK) api->destroy(ds);
}

typedef struct reader {
    void *ds;
    int64_t count;
    int bad;
} reader;

static void *read_all(void *arg) {
    reader *r = arg;
    uint8_t px[PIX];
    moco_error err;
    for (int pass = 0; pass < 4; pass++)
        for (int64_t g = r->count - 1; g >= 0; g--) {
            int32_t label;
            if (api->get(r->ds, g, px, &label, &err) != MOCO_OK) r->bad++;
            int f = (int)(g / RPF), k = (int)(g % RPF);
            if (label != label_of(f, k) || px[PIX / 2] != pixel_of(f, k, PIX / 2)) r->bad++;
        }
    return NULL;
}

static void test_concurrent_get(void) {
    char dir[512];
    set_path(dir, sizeof dir, "good");
    const char *kv[] = {"path", dir, "records_per_file", "100", NULL};
    test_host t;
    moco_error err;
    void *ds;
    if (open_split(&t, kv, MOCO_SPLIT_TRAIN, &ds, &err) != MOCO_OK) {
        MT_CHECK(0, "create: %s", err.msg);
        return;
    }
    reader r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (reader){ds, 5 * RPF, 0};
        pthread_create(&th[i], NULL, read_all, &r[i]);
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += r[i].bad;
    }
    MT_CHECK(bad == 0, "%d wrong reads from 4 threads", bad);
    api->destroy(ds);
}

int main(void) {
    const char *tmp = mt_tmpdir("moco_data_test");   /* removed at exit */
    if (!tmp) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(root, sizeof root, "%s", tmp);
    char good[512];
    set_path(good, sizeof good, "good");
    write_set(good, RPF);

    MT_RUN(test_entry);
    MT_RUN(test_roundtrip);
    MT_RUN(test_limit);
    MT_RUN(test_official_size_check);
    MT_RUN(test_truncated);
    MT_RUN(test_bad_label);
    MT_RUN(test_large_files_threads);
    MT_RUN(test_first_error_in_file_order);
    MT_RUN(test_paths);
    MT_RUN(test_relative_path);
    MT_RUN(test_concurrent_get);

    remove_set(good);
    rmdir(root);
    return mt_finish();
}
