/* safetensors export: the file's header length, JSON tensor table (names,
 * dtypes, shapes, contiguous data offsets) and data match the query encoder
 * of the checkpoint; counters become I64 scalars; bad input is refused. */
#include "checkpoint.h"
#include "export.h"
#include "mtest.h"
#include "run.h"
#include "tiny_run.h"

static const char *tmp;
static const char *plugin_dirs[] = {MOCO_TEST_PLUGIN_DIR};

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len + 1);
    *len = fread(b, 1, *len, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

static void test_export_table_and_data(void) {
    run r;
    moco_error err = {{0}};
    const char *ini = tiny_ini(tmp, "exp", "");
    if (run_setup(&r, ini, plugin_dirs, 1, NULL, &err)) {
        MT_CHECK(0, "setup: %s", err.msg);
        return;
    }
    /* distinguishable query and key encoders, a counter of 7 */
    for (int64_t i = 0; i < r.qinfo.params.count; i++) r.qinfo.params.data[i] = (float)i * 1e-3f;
    char ck[600], out[600];
    snprintf(ck, sizeof ck, "%s/exp.ckpt", tmp);
    snprintf(out, sizeof out, "%s/exp.safetensors", tmp);
    uint8_t *buf;
    size_t len;
    MT_CHECK(ckpt_snapshot(&r, &buf, &len, &err) == 0, "%s", err.msg);
    MT_CHECK(ckpt_write_file(ck, buf, len, &err) == 0, "%s", err.msg);
    free(buf);
    int32_t n = 0;
    MT_CHECK(export_safetensors(ck, out, &n, &err) == 0, "export: %s", err.msg);
    MT_CHECK(n == r.qinfo.num_tensors, "exported %d of %d tensors", n, r.qinfo.num_tensors);

    size_t flen;
    uint8_t *f = slurp(out, &flen);
    MT_CHECK(f && flen > 8, "no output");
    if (!f) return;
    uint64_t hl;
    memcpy(&hl, f, 8);
    MT_CHECK(hl % 8 == 0 && 8 + hl <= flen, "header length %llu", (unsigned long long)hl);
    char *hdr = malloc(hl + 1);
    memcpy(hdr, f + 8, hl);
    hdr[hl] = 0;
    const uint8_t *data = f + 8 + hl;
    MT_CHECK(hdr[0] == '{' && strstr(hdr, "\"__metadata__\""), "header: %.60s", hdr);
    uint64_t expect_off = 0;
    for (int32_t i = 0; i < r.qinfo.num_tensors; i++) {
        moco_tensor_desc d;
        r.bb->tensor(r.enc_q, i, &d);
        char key[300];
        snprintf(key, sizeof key, "\"%s\":{\"dtype\":\"", d.name);
        char *at = strstr(hdr, key);
        MT_CHECK(at != NULL, "tensor %s missing", d.name);
        if (!at) continue;
        at += strlen(key);
        int counter = strstr(d.name, "num_batches_tracked") != NULL;
        MT_CHECK(!strncmp(at, counter ? "I64\"" : "F32\"", 4), "%s dtype %.4s", d.name, at);
        char *shape = strstr(at, "\"shape\":[");
        char want[128] = "";
        if (!counter)
            for (int k = 0; k < d.ndim; k++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", k ? "," : "",
                         (long long)d.shape[k]);
        MT_CHECK(shape && !strncmp(shape + 9, want, strlen(want)) &&
                     shape[9 + strlen(want)] == ']',
                 "%s shape [%s] expected", d.name, want);
        unsigned long long a = 0, b = 0;
        char *offs = strstr(at, "\"data_offsets\":[");
        MT_CHECK(offs && sscanf(offs, "\"data_offsets\":[%llu,%llu]", &a, &b) == 2, "%s offsets",
                 d.name);
        size_t bytes = counter ? 8 : (size_t)moco_numel(d.ndim, d.shape) * 4;
        MT_CHECK(a == expect_off && b - a == bytes, "%s offsets [%llu,%llu]", d.name, a, b);
        MT_CHECK(8 + hl + b <= flen, "%s data past the end", d.name);
        if (counter) {
            int64_t v;
            memcpy(&v, data + a, 8);
            MT_CHECK(v == (int64_t)((float *)d.data)[0], "%s = %lld", d.name, (long long)v);
        } else {
            MT_CHECK(!memcmp(data + a, d.data, bytes), "%s data differs", d.name);
        }
        expect_off = b;
    }
    MT_CHECK(8 + hl + expect_off == flen, "file has %zu bytes, table covers %llu", flen,
             (unsigned long long)(8 + hl + expect_off));
    free(hdr);
    free(f);
    run_teardown(&r);
}

static void test_export_refusals(void) {
    moco_error err = {{0}};
    char out[600];
    snprintf(out, sizeof out, "%s/none.safetensors", tmp);
    MT_CHECK(export_safetensors("/nonexistent/ck.bin", out, NULL, &err) != 0, "accepted");
    MT_CHECK(strstr(err.msg, "/nonexistent/ck.bin") != NULL, "%s", err.msg);
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.bin", tmp);
    FILE *f = fopen(junk, "wb");
    fputs("not a checkpoint", f);
    fclose(f);
    MT_CHECK(export_safetensors(junk, out, NULL, &err) != 0, "junk accepted");
    MT_CHECK(strstr(err.msg, "not a moco checkpoint") != NULL, "%s", err.msg);
    FILE *o = fopen(out, "rb");
    MT_CHECK(o == NULL, "output written on failure");
    if (o) fclose(o);
}

int main(void) {
    tmp = tiny_tmpdir();
    if (!tmp) return 1;
    MT_RUN(test_export_table_and_data);
    MT_RUN(test_export_refusals);
    return mt_finish();
}
