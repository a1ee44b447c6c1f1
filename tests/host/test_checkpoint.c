/* Checkpoints: a snapshot restores bit-exactly into a fresh run; damaged,
 * truncated and mismatched files are refused with a clear line and leave the
 * live state untouched. */
#include "checkpoint.h"
#include "crc32.h"
#include "mtest.h"
#include "run.h"
#include "tiny_run.h"

static const char *tmp;
static const char *plugin_dirs[] = {MOCO_TEST_PLUGIN_DIR};

static int setup(run *r, const char *name, const char *overrides) {
    moco_error err = {{0}};
    const char *path = tiny_ini(tmp, name, overrides);
    int32_t st = run_setup(r, path, plugin_dirs, 1, NULL, &err);
    MT_CHECK(st == 0, "setup: %s", err.msg);
    return st;
}

static void scramble(run *r) {
    /* make state distinguishable from a fresh run */
    for (int64_t i = 0; i < r->qinfo.params.count; i++) {
        r->qinfo.params.data[i] += 0.001f * (float)(i % 7);
        r->kinfo.params.data[i] -= 0.002f * (float)(i % 5);
        r->sgd_momentum[i] = 0.01f * (float)(i % 3);
    }
    for (int64_t i = 0; i < r->qinfo.buffers.count; i++) r->qinfo.buffers.data[i] += 0.5f;
    float *keys = calloc(r->cfg.batch * r->cfg.dim, sizeof(float));
    for (int i = 0; i < r->cfg.batch * r->cfg.dim; i++) keys[i] = (float)i;
    moco_error err;
    r->dict->enqueue(r->queue, keys, (int32_t)r->cfg.batch, &err);
    free(keys);
    r->epoch = 0;
    r->step_in_epoch = 2;
    r->global_step = 2;
}

static char ckpt[600];

static void test_roundtrip(void) {
    run a, b;
    if (setup(&a, "a", "")) return;
    scramble(&a);
    uint8_t *buf;
    size_t len;
    moco_error err = {{0}};
    MT_CHECK(ckpt_snapshot(&a, &buf, &len, &err) == 0, "%s", err.msg);
    snprintf(ckpt, sizeof ckpt, "%s/ck.bin", tmp);
    MT_CHECK(ckpt_write_file(ckpt, buf, len, &err) == 0, "%s", err.msg);
    free(buf);
    if (setup(&b, "b", "")) return;
    MT_CHECK(ckpt_load(&b, ckpt, &err) == 0, "load: %s", err.msg);
    MT_CHECK(!memcmp(a.qinfo.params.data, b.qinfo.params.data, a.qinfo.params.count * 4), "q");
    MT_CHECK(!memcmp(a.kinfo.params.data, b.kinfo.params.data, a.kinfo.params.count * 4), "k");
    MT_CHECK(!memcmp(a.qinfo.buffers.data, b.qinfo.buffers.data, a.qinfo.buffers.count * 4),
             "buffers");
    MT_CHECK(!memcmp(a.sgd_momentum, b.sgd_momentum, a.qinfo.params.count * 4), "momentum");
    const float *qa, *qb;
    int32_t ka, kb;
    a.dict->negatives(a.queue, &qa, &ka);
    b.dict->negatives(b.queue, &qb, &kb);
    MT_CHECK(ka == kb && !memcmp(qa, qb, ka * a.cfg.dim * 4), "queue");
    moco_tensor_desc pa, pb;
    a.dict->state(a.queue, 1, &pa);
    b.dict->state(b.queue, 1, &pb);
    MT_CHECK(*(int64_t *)pa.data == *(int64_t *)pb.data && *(int64_t *)pb.data == 8, "ptr");
    MT_CHECK(b.step_in_epoch == 2 && b.global_step == 2 && b.epoch == 0, "counters");
    run_teardown(&a);
    run_teardown(&b);
}

static void expect_refused(const char *file, const char *overrides, const char *needle) {
    run b;
    if (setup(&b, "c", overrides)) return;
    float first = b.qinfo.params.data[0];
    moco_error err = {{0}};
    MT_CHECK(ckpt_load(&b, file, &err) != 0, "accepted %s", file);
    MT_CHECK(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
    MT_CHECK(strstr(err.msg, file) != NULL, "file not named: %s", err.msg);
    MT_CHECK(b.qinfo.params.data[0] == first, "refused load changed the live state");
    run_teardown(&b);
}

static size_t file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fclose(f);
    return n;
}

static void copy_modified(const char *dst, size_t keep, long flip_at) {
    FILE *f = fopen(ckpt, "rb");
    size_t n = file_size(ckpt);
    uint8_t *b = malloc(n);
    size_t got = fread(b, 1, n, f);
    fclose(f);
    if (flip_at >= 0) b[flip_at] ^= 0x10;
    f = fopen(dst, "wb");
    fwrite(b, 1, keep < got ? keep : got, f);
    fclose(f);
    free(b);
}

/* Write the good checkpoint with bytes appended, or with one record's
 * declared payload size replaced (header CRC recomputed so only the size
 * check can refuse it). */
static void write_variant(const char *dst, size_t append, int64_t huge_size) {
    FILE *f = fopen(ckpt, "rb");
    size_t n = file_size(ckpt);
    uint8_t *b = calloc(n + append, 1);
    size_t got = fread(b, 1, n, f);
    fclose(f);
    if (huge_size) {
        uint8_t *rec = b + 36; /* first record header */
        memcpy(rec + 48, &huge_size, 8);
        uint32_t crc = moco_crc32(0, rec, 60);
        memcpy(rec + 60, &crc, 4);
    }
    f = fopen(dst, "wb");
    fwrite(b, 1, got + append, f);
    fclose(f);
    free(b);
}

static void test_refusals(void) {
    char p[700];
    size_t n = file_size(ckpt);
    snprintf(p, sizeof p, "%s/trunc.bin", tmp);
    copy_modified(p, n - 100, -1);
    expect_refused(p, "", "truncated");
    snprintf(p, sizeof p, "%s/flip.bin", tmp);
    copy_modified(p, n, (long)(n - 50));
    expect_refused(p, "", "checksum");
    snprintf(p, sizeof p, "%s/magic.bin", tmp);
    copy_modified(p, n, 0);
    expect_refused(p, "", "not a moco checkpoint");
    snprintf(p, sizeof p, "%s/missing.bin", tmp);
    expect_refused(p, "", "No such file");
    snprintf(p, sizeof p, "%s/oversized.bin", tmp);
    write_variant(p, 4096, 0);
    expect_refused(p, "", "header says");
    snprintf(p, sizeof p, "%s/huge.bin", tmp);
    write_variant(p, 0, (int64_t)1 << 60);
    expect_refused(p, "", "does not match its shape");
    expect_refused(ckpt, "backbone.width=8", "shape");
    expect_refused(ckpt, "dictionary.size=64", "dict.queue");
    expect_refused(ckpt, "run.seed=4", "seed");
}

int main(void) {
    tmp = tiny_tmpdir();
    if (!tmp) return 1;
    MT_RUN(test_roundtrip);
    MT_RUN(test_refusals);
    return mt_finish();
}
