/* The fixture reader (fixture.h): a well-formed file parses to the right
 * names, shapes and values; every truncation, a bad magic, an unknown
 * version, an impossible entry count, a bad dtype/ndim, trailing bytes and a
 * repeated name are refused with a message and no out-of-bounds read (run
 * under ASan too). The committed fixtures all parse, hold the entries the
 * tests use, and stay under the 2 MiB budget. */
#include <sys/stat.h>

#include "fixture.h"

static const char *const FIXTURES[] = {"resnet18_cifar_w8.bin", "resnet18_imagenet_w4_mlp.bin",
                                       "infonce.bin", "moco_step_w4.bin", "augment.bin",
                                       "knn.bin"};
#define FIXTURE_BUDGET (2L * 1024 * 1024)

typedef struct wbuf {
    unsigned char b[4096];
    size_t n;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) {
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void put_u32(wbuf *w, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(w, b, 4);
}
static void put_i64(wbuf *w, int64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    put(w, b, 8);
}
static void put_entry(wbuf *w, const char *name, uint32_t dtype, uint32_t ndim,
                      const int64_t *shape, const void *data, size_t bytes) {
    size_t len = strlen(name);
    put_u32(w, (uint32_t)len);
    put_u32(w, dtype);
    put_u32(w, ndim);
    put_u32(w, 0);
    for (uint32_t d = 0; d < ndim; d++) put_i64(w, shape[d]);
    static const unsigned char zero[8];
    put(w, name, len);
    put(w, zero, 8 - len % 8);
    put(w, data, bytes);
    put(w, zero, (8 - bytes % 8) % 8);
}

/* A small valid file: "a" f32 (2, 3), "bb" i64 (2), "scalar" u8 () */
static void make_valid(wbuf *w, uint32_t version, uint32_t count) {
    w->n = 0;
    put(w, "MOCOREF", 8);
    put_u32(w, version);
    put_u32(w, count);
    const float a[6] = {1, 2, 3, 4, 5, -6.5f};
    const int64_t sa[2] = {2, 3}, bb[2] = {-7, 1LL << 40}, sb[1] = {2};
    const unsigned char sc = 200;
    put_entry(w, "a", 1, 2, sa, a, sizeof a);
    put_entry(w, "bb", 2, 1, sb, bb, sizeof bb);
    put_entry(w, "scalar", 3, 0, NULL, &sc, 1);
}

/* Parse a private, 8-aligned copy of w (so ASan sees the exact length). */
static int parse(const wbuf *w, size_t n, ref_fixture *f, char *msg, size_t len) {
    unsigned char *buf = NULL;
    if (posix_memalign((void **)&buf, 64, n ? n : 1)) return -2;
    memcpy(buf, w->b, n);
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "mem");
    return ref_fixture_parse(f, buf, n, msg, len);
}

static void test_valid_file(void) {
    wbuf w;
    make_valid(&w, REF_VERSION, 3);
    ref_fixture f;
    char msg[256] = "";
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == 0, "valid file refused: %s", msg);
    MT_CHECK(f.count == 3, "count %d", f.count);
    const ref_tensor *a = ref_find(&f, "a"), *b = ref_find(&f, "bb"), *s = ref_find(&f, "scalar");
    MT_CHECK(a && a->dtype == REF_F32 && a->ndim == 2 && a->shape[1] == 3 && a->numel == 6, "a");
    MT_CHECK(a && ((const float *)a->data)[5] == -6.5f, "a[5]");
    MT_CHECK(a && ((uintptr_t)a->data % 8) == 0, "data not 8-aligned");
    MT_CHECK(b && b->numel == 2 && ((const int64_t *)b->data)[1] == 1LL << 40, "bb");
    MT_CHECK(s && s->ndim == 0 && s->numel == 1 && *(const unsigned char *)s->data == 200, "scalar");
    MT_CHECK(ref_find(&f, "missing") == NULL, "found a missing name");
    ref_fixture_free(&f);
}

static void test_damaged_files(void) {
    wbuf w;
    ref_fixture f;
    char msg[256];
    make_valid(&w, REF_VERSION, 3);
    long refused = 0;
    for (size_t n = 0; n < w.n; n++) refused += parse(&w, n, &f, msg, sizeof msg) == -1;
    MT_CHECK(refused == (long)w.n, "%ld of %zu truncations refused", refused, w.n);

    make_valid(&w, REF_VERSION, 3);
    w.b[0] = 'X';
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1 && strstr(msg, "magic"), "bad magic: %s", msg);
    make_valid(&w, REF_VERSION + 1, 3);
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1 && strstr(msg, "version"), "version: %s", msg);
    make_valid(&w, REF_VERSION, 4);
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1, "count too large accepted");
    make_valid(&w, REF_VERSION, 0xFFFFFFFFu);
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1, "huge count accepted");
    make_valid(&w, REF_VERSION, 2);
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1 && strstr(msg, "trailing"),
             "trailing bytes: %s", msg);
    make_valid(&w, REF_VERSION, 3);
    w.b[16 + 4] = 9;   /* dtype of the first entry */
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1, "bad dtype accepted");
    make_valid(&w, REF_VERSION, 3);
    w.b[16 + 8] = 5;   /* ndim of the first entry */
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1, "ndim 5 accepted");
    make_valid(&w, REF_VERSION, 3);
    w.b[16 + 16 + 7] = 0x40;   /* first dimension of "a" becomes huge */
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1, "huge dimension accepted");
    /* a repeated name */
    w.n = 0;
    put(&w, "MOCOREF", 8);
    put_u32(&w, REF_VERSION);
    put_u32(&w, 2);
    const float one = 1;
    const int64_t s1[1] = {1};
    put_entry(&w, "x", 1, 1, s1, &one, 4);
    put_entry(&w, "x", 1, 1, s1, &one, 4);
    MT_CHECK(parse(&w, w.n, &f, msg, sizeof msg) == -1 && strstr(msg, "repeated"), "dup: %s", msg);
}

static void test_committed_fixtures(void) {
    long total = 0;
    for (size_t i = 0; i < sizeof FIXTURES / sizeof *FIXTURES; i++) {
        char path[1200], msg[1400];
        snprintf(path, sizeof path, "%s/%s", ref_fixture_dir(), FIXTURES[i]);
        struct stat st;
        MT_CHECK(stat(path, &st) == 0, "%s missing", path);
        total += (long)st.st_size;
        ref_fixture f;
        int rc = ref_fixture_load(&f, path, msg, sizeof msg);
        MT_CHECK(rc == 0, "%s", msg);
        if (!rc) {
            printf("REF fixture %-30s %8.1f KiB, %4d entries\n", FIXTURES[i],
                   (double)st.st_size / 1024.0, (int)f.count);
            ref_fixture_free(&f);
        }
    }
    printf("REF fixtures total %.1f KiB (budget %ld KiB)\n", (double)total / 1024.0,
           FIXTURE_BUDGET / 1024);
    MT_CHECK(total <= FIXTURE_BUDGET, "fixtures take %ld bytes, over the %ld budget", total,
             FIXTURE_BUDGET);
}

static void test_missing_file(void) {
    ref_fixture f;
    char msg[1400];
    MT_CHECK(ref_fixture_load(&f, "/nonexistent/x.bin", msg, sizeof msg) == -1 &&
                 strstr(msg, "make_fixtures.py"),
             "missing file: %s", msg);
}

int main(void) {
    MT_RUN(test_valid_file);
    MT_RUN(test_damaged_files);
    MT_RUN(test_committed_fixtures);
    MT_RUN(test_missing_file);
    return mt_finish();
}
