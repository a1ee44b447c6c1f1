/* Reference fixtures (tests/ref/fixtures/NAME.bin, written by make_fixtures.py):
 * the reader, the deterministic weight generator shared with the script, and
 * the comparison/report helpers of the ref_* tests. Header-only; needs
 * mtest.h. The format is documented in docs/reference-tests.md:
 *
 *   file   := magic "MOCOREF\0" (8) | u32 version (1) | u32 count | entry*count
 *   entry  := u32 name_len | u32 dtype (1 f32, 2 i64, 3 u8) | u32 ndim (0..4)
 *             | u32 reserved (0) | i64 shape[ndim] | name, NUL-padded to a
 *             multiple of 8 (at least one NUL) | data, zero-padded to 8
 *
 * little-endian, row-major; every offset is a multiple of 8, so tensors are
 * used in place from one aligned buffer. The reader checks every size
 * against the file length before trusting it. */
#ifndef MOCO_REF_FIXTURE_H
#define MOCO_REF_FIXTURE_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtest.h"

#define REF_MAGIC "MOCOREF"          /* 8 bytes with its NUL */
#define REF_VERSION 1u
#define REF_MAX_DIMS 4
#define REF_MAX_NAME 256

enum { REF_F32 = 1, REF_I64 = 2, REF_U8 = 3 };

typedef struct ref_tensor {
    const char *name;
    int32_t dtype;                 /* REF_* */
    int32_t ndim;
    int64_t shape[REF_MAX_DIMS];
    int64_t numel;
    const void *data;              /* inside the fixture's buffer */
} ref_tensor;

typedef struct ref_fixture {
    char path[1024];
    unsigned char *buf;            /* the whole file, 8-aligned; owned */
    size_t size;
    int32_t count;
    ref_tensor *t;                 /* (count), owned */
} ref_fixture;

static inline size_t ref_dtype_size(int32_t dtype) {
    return dtype == REF_F32 ? 4 : dtype == REF_I64 ? 8 : dtype == REF_U8 ? 1 : 0;
}

static inline uint32_t ref_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline int64_t ref_i64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return (int64_t)v;
}

static inline void ref_fixture_free(ref_fixture *f) {
    free(f->buf);
    free(f->t);
    f->buf = NULL;
    f->t = NULL;
    f->count = 0;
}

/* Parse buf (size bytes, 8-aligned, ownership passes to f, freed on failure
 * too). Returns 0, or -1 with msg naming the entry and what is wrong. */
static inline int ref_fixture_parse(ref_fixture *f, unsigned char *buf, size_t size, char *msg,
                                    size_t msg_len) {
    f->buf = buf;
    f->size = size;
    f->count = 0;
    f->t = NULL;
#define REF_FAIL(...)                                                         \
    do {                                                                      \
        snprintf(msg, msg_len, __VA_ARGS__);                                  \
        ref_fixture_free(f);                                                  \
        return -1;                                                            \
    } while (0)
    if (size < 16) REF_FAIL("%s: %zu bytes, shorter than the 16-byte header", f->path, size);
    if (memcmp(buf, REF_MAGIC, 8) != 0) REF_FAIL("%s: bad magic (not a moco reference fixture)", f->path);
    uint32_t version = ref_u32(buf + 8), count = ref_u32(buf + 12);
    if (version != REF_VERSION)
        REF_FAIL("%s: format version %u, this reader knows %u. HINT: regenerate with "
                 "tests/ref/make_fixtures.py", f->path, version, REF_VERSION);
    /* each entry takes at least 24 bytes: bounds count before allocating */
    if (count > (size - 16) / 24) REF_FAIL("%s: %u entries cannot fit in %zu bytes", f->path, count, size);
    f->t = calloc(count ? count : 1, sizeof *f->t);
    if (!f->t) REF_FAIL("%s: out of memory", f->path);
    size_t off = 16;
    for (uint32_t i = 0; i < count; i++) {
        if (size - off < 16) REF_FAIL("%s: entry %u: header past the end of the file", f->path, i);
        uint32_t name_len = ref_u32(buf + off), dtype = ref_u32(buf + off + 4);
        uint32_t ndim = ref_u32(buf + off + 8);
        off += 16;
        if (ndim > REF_MAX_DIMS || ref_dtype_size((int32_t)dtype) == 0 || name_len == 0 ||
            name_len >= REF_MAX_NAME)
            REF_FAIL("%s: entry %u: dtype %u, ndim %u, name length %u out of range", f->path, i,
                     dtype, ndim, name_len);
        if (size - off < 8 * (size_t)ndim) REF_FAIL("%s: entry %u: shape past the end", f->path, i);
        ref_tensor *t = &f->t[i];
        t->dtype = (int32_t)dtype;
        t->ndim = (int32_t)ndim;
        t->numel = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            t->shape[d] = ref_i64(buf + off + 8 * d);
            if (t->shape[d] < 0 || (t->shape[d] > 0 && t->numel > INT64_MAX / 8 / t->shape[d]))
                REF_FAIL("%s: entry %u: bad dimension %lld", f->path, i, (long long)t->shape[d]);
            t->numel *= t->shape[d];
        }
        off += 8 * (size_t)ndim;
        size_t name_pad = ((size_t)name_len + 8) & ~(size_t)7;
        if (size - off < name_pad) REF_FAIL("%s: entry %u: name past the end", f->path, i);
        t->name = (const char *)buf + off;
        if (memchr(t->name, 0, name_len) || t->name[name_len] != 0)
            REF_FAIL("%s: entry %u: name is not %u bytes + NUL", f->path, i, name_len);
        off += name_pad;
        size_t bytes = (size_t)t->numel * ref_dtype_size(t->dtype);
        size_t padded = (bytes + 7) & ~(size_t)7;
        if ((uint64_t)t->numel > SIZE_MAX / 8 || size - off < padded)
            REF_FAIL("%s: entry %u (%s): %zu data bytes past the end of the file", f->path, i,
                     t->name, bytes);
        t->data = buf + off;
        off += padded;
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(f->t[j].name, t->name)) REF_FAIL("%s: entry %s repeated", f->path, t->name);
        f->count = (int32_t)i + 1;
    }
    if (off != size) REF_FAIL("%s: %zu trailing bytes after the last entry", f->path, size - off);
#undef REF_FAIL
    return 0;
}

/* Read and parse a file. Returns 0, or -1 with msg. */
static inline int ref_fixture_load(ref_fixture *f, const char *path, char *msg, size_t msg_len) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(msg, msg_len, "%s: %s. HINT: the fixtures are committed under tests/ref/fixtures; "
                 "regenerate with tests/ref/make_fixtures.py", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
        posix_memalign((void **)&buf, 64, (size_t)len + 8) != 0) {
        fclose(fp);
        snprintf(msg, msg_len, "%s: cannot size or allocate", path);
        return -1;
    }
    size_t got = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    if (got != (size_t)len) {
        free(buf);
        snprintf(msg, msg_len, "%s: short read (%zu of %ld bytes)", path, got, len);
        return -1;
    }
    return ref_fixture_parse(f, buf, (size_t)len, msg, msg_len);
}

/* Where the fixtures are: tests/ref/fixtures in the source tree, or
 * $MOCO_REF_FIXTURE_DIR (to try freshly generated fixtures before
 * committing them). Returns a static buffer. */
static inline const char *ref_fixture_dir(void) {
    static char dir[1024];
    const char *env = getenv("MOCO_REF_FIXTURE_DIR");
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "%s/tests/ref/fixtures", MOCO_TEST_SOURCE_DIR);
    return dir;
}

/* Fixture <dir>/<name>, or exit(2) (a missing fixture is a broken
 * checkout, not a numerical failure). */
static inline void ref_open(ref_fixture *f, const char *name) {
    char path[1200], msg[1400];
    snprintf(path, sizeof path, "%s/%s", ref_fixture_dir(), name);
    if (ref_fixture_load(f, path, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        exit(2);
    }
}

static inline const ref_tensor *ref_find(const ref_fixture *f, const char *name) {
    for (int32_t i = 0; i < f->count; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

/* Entry `name` of dtype with numel elements (numel < 0: any), or exit(2). */
static inline const void *ref_get(const ref_fixture *f, const char *name, int32_t dtype,
                                  int64_t numel) {
    const ref_tensor *t = ref_find(f, name);
    if (!t || t->dtype != dtype || (numel >= 0 && t->numel != numel)) {
        fprintf(stderr, "%s: entry %s %s (want dtype %d, %lld elements). HINT: regenerate the "
                "fixtures with tests/ref/make_fixtures.py\n", f->path, name,
                t ? "has another dtype or size" : "missing", (int)dtype, (long long)numel);
        exit(2);
    }
    return t->data;
}
static inline const float *ref_f32(const ref_fixture *f, const char *name, int64_t numel) {
    return (const float *)ref_get(f, name, REF_F32, numel);
}
static inline const int64_t *ref_i64s(const ref_fixture *f, const char *name, int64_t numel) {
    return (const int64_t *)ref_get(f, name, REF_I64, numel);
}

/* ---- deterministic weights: the script's init_values() ------------------ */

static inline uint64_t ref_fnv1a64(const char *s) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return h;
}

/* v[i] = float(offset + scale * u(name, i)), u in [-1, 1) exact 24-bit:
 * splitmix64(fnv1a64(name) + i * golden), top 24 bits. */
static inline void ref_init_fill(float *v, int64_t n, const char *name, float offset, float scale) {
    const uint64_t g = 0x9E3779B97F4A7C15ULL, key = ref_fnv1a64(name);
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = key + (uint64_t)i * g + g;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        double u = (double)((int64_t)(z >> 40) - (1 << 23)) / 8388608.0;
        v[i] = (float)((double)offset + (double)scale * u);
    }
}

/* ---- comparison and report ---------------------------------------------- */

/* One compared tensor group. Element i of a tensor passes when
 *   |ours - ref| <= atol * S + rtol * |ref|,   S = max |ref| over the tensor
 * (scale-aware: gradients of different layers differ by orders of
 * magnitude). Reported: worst absolute error, worst relative error
 * |ours - ref| / max(|ref|, 1e-3 S), and the tensor that used most of its
 * tolerance. */
typedef struct ref_stat {
    const char *group;
    double atol, rtol;
    double max_abs, max_rel, used;
    char worst[160];
    long tensors, values, bad;
} ref_stat;

static inline void ref_stat_init(ref_stat *s, const char *group, double atol, double rtol) {
    memset(s, 0, sizeof *s);
    s->group = group;
    s->atol = atol;
    s->rtol = rtol;
    snprintf(s->worst, sizeof s->worst, "-");
}

static inline void ref_cmp(ref_stat *s, const char *name, const float *ours, const float *ref,
                           int64_t n) {
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)ref[i]) > scale) scale = fabs((double)ref[i]);
    double floor = scale > 0 ? 1e-3 * scale : 1e-30;
    long bad = 0;
    int64_t first_bad = -1;
    double used = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = ours[i], b = ref[i], e = fabs(a - b);
        double tol = s->atol * scale + s->rtol * fabs(b);
        double rel = e / (fabs(b) > floor ? fabs(b) : floor);
        double u = tol > 0 ? e / tol : (e > 0 ? INFINITY : 0);
        if (e != e) u = e = rel = INFINITY;   /* NaN fails */
        if (e > s->max_abs) s->max_abs = e;
        if (rel > s->max_rel) s->max_rel = rel;
        if (u > used) used = u;
        if (!(u <= 1.0)) {
            if (first_bad < 0) first_bad = i;
            bad++;
        }
    }
    if (used > s->used || s->tensors == 0) {
        s->used = used > s->used ? used : s->used;
        snprintf(s->worst, sizeof s->worst, "%s", name);
    }
    if (bad)
        fprintf(stderr, "  MISMATCH %s: %s: %ld of %lld values out of tolerance; first at %lld: "
                "ours %.9g, reference %.9g\n", s->group, name, bad, (long long)n,
                (long long)first_bad, (double)ours[first_bad], (double)ref[first_bad]);
    s->tensors++;
    s->values += (long)n;
    s->bad += bad;
}

/* Exact comparison (integers, bit-for-bit floats). */
static inline void ref_cmp_exact(ref_stat *s, const char *name, const double *ours,
                                 const double *ref, int64_t n) {
    long bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(ours[i] - ref[i]);
        if (e > s->max_abs) s->max_abs = e;
        if (ours[i] != ref[i]) {
            if (!bad)
                fprintf(stderr, "  MISMATCH %s: %s[%lld]: ours %.17g, reference %.17g\n",
                        s->group, name, (long long)i, ours[i], ref[i]);
            bad++;
        }
    }
    if (bad && s->used < INFINITY) {
        s->used = INFINITY;
        snprintf(s->worst, sizeof s->worst, "%s", name);
    }
    s->tensors++;
    s->values += (long)n;
    s->bad += bad;
}

/* One line per group (grep "^REF " for the table in docs/reference-tests.md),
 * and the test verdict. */
static inline void ref_report(const ref_stat *s) {
    printf("REF %-40s %4ld tensors %7ld values  max abs %.2e  max rel %.2e  tol %.0e*S+%.0e*|ref|"
           "  used %5.1f%%  worst %s\n",
           s->group, s->tensors, s->values, s->max_abs, s->max_rel, s->atol, s->rtol,
           100.0 * s->used, s->worst);
    MT_CHECK(s->tensors > 0, "%s: nothing compared", s->group);
    MT_CHECK(s->bad == 0, "%s: %ld values out of tolerance (worst tensor %s)", s->group, s->bad,
             s->worst);
}

#endif
