/* cifar10: the CIFAR-10 binary version as a dataset plugin.
 *
 * Files: data_batch_1..5.bin (train) and test_batch.bin (test) in `path`.
 * A record is 1 label byte (0..9) and 3072 pixel bytes: the red, green and
 * blue 32x32 planes, row-major. The needed records are read into memory at
 * create (read.c: one file per thread) and kept as (count, 3, 32, 32) uint8,
 * exactly the file's layout without the label bytes; get() is a memcpy, safe
 * from any thread.
 *
 * INI keys (defaults):
 *   path             (required) folder with the six .bin files; relative to
 *                    the INI's folder; ${VAR} / $VAR expand from the environment
 *   limit = 0        train split: use only the first N images (0 = all)
 *   limit_test = 0   test split: same
 *   records_per_file = 10000
 *                    records in each file; the official files have 10000.
 *                    Only for tests and hand-made subsets: every file must
 *                    be exactly records_per_file * 3073 bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cifar10.h"
#include "moco/dataset.h"

#define CIFAR_OFFICIAL_RECORDS 10000
#define PATH_LEN 4096

typedef struct cifar10 {
    int64_t count;
    uint8_t *pixels; // (count, 3, 32, 32)
    uint8_t *labels; // (count)
} cifar10;

static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                          "data_batch_3.bin", "data_batch_4.bin",
                                          "data_batch_5.bin"};
static const char *const test_files[] = {"test_batch.bin"};

static int is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Expand ${VAR} and $VAR from the environment into out. A '$' not followed
 * by a name or '{' is kept. */
static int32_t expand_env(const moco_host *h, const char *in, char *out, size_t cap,
                          moco_error *err) {
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *val = NULL;
        if (p[0] == '$' && (p[1] == '{' || is_name_start(p[1]))) {
            int braced = p[1] == '{';
            const char *name = p + 1 + braced, *e = name;
            while (is_name_char(*e)) e++;
            if (e == name || (braced && *e != '}'))
                return moco_cfg_errorf(h, "path", err,
                                       "malformed variable reference at '%.40s'. HINT: write "
                                       "${NAME} or $NAME with NAME made of letters, digits and _",
                                       p);
            char var[256];
            size_t len = (size_t)(e - name);
            if (len >= sizeof var)
                return moco_cfg_errorf(h, "path", err,
                                       "variable name too long. HINT: use a shorter name");
            memcpy(var, name, len);
            var[len] = 0;
            val = getenv(var);
            if (!val || !*val)
                return moco_cfg_errorf(
                    h, "path", err,
                    "environment variable %s is %s. HINT: export %s=/path/to/cifar-10-batches-bin "
                    "(scripts/get-cifar10.sh prints the line), or write the folder in path",
                    var, val ? "empty" : "not set", var);
            p = e + braced;
        } else {
            if (o + 1 >= cap) goto too_long;
            out[o++] = *p++;
            continue;
        }
        size_t vl = strlen(val);
        if (o + vl >= cap) goto too_long;
        memcpy(out + o, val, vl);
        o += vl;
    }
    out[o] = 0;
    return MOCO_OK;
too_long:
    return moco_cfg_errorf(h, "path", err, "longer than %d bytes after expansion. HINT: use a "
                           "shorter path", (int)cap - 1);
}

/* Check one file's existence and size; returns its record count in *records. */
static int32_t check_file(const char *file, int64_t records_per_file, moco_error *err) {
    struct stat st;
    if (stat(file, &st) != 0)
        return moco_errorf(err, MOCO_ERR_IO, "%s: %s. %s", file, strerror(errno), HINT_GET);
    if (!S_ISREG(st.st_mode))
        return moco_errorf(err, MOCO_ERR_IO, "%s: not a regular file. %s", file, HINT_GET);
    int64_t size = (int64_t)st.st_size, want = records_per_file * CIFAR_RECORD;
    if (size != want) {
        const char *why = size % CIFAR_RECORD
                              ? "not a whole number of 3073-byte records (truncated or not the "
                                "CIFAR-10 binary version)"
                              : "a different number of records";
        if (records_per_file == CIFAR_OFFICIAL_RECORDS)
            return moco_errorf(err, MOCO_ERR_FORMAT,
                               "%s: size %lld bytes, expected %lld (10000 records of 3073 "
                               "bytes): %s. HINT: download the official files again with "
                               "scripts/get-cifar10.sh",
                               file, (long long)size, (long long)want, why);
        return moco_errorf(err, MOCO_ERR_FORMAT,
                           "%s: size %lld bytes, expected %lld (records_per_file = %lld "
                           "records of 3073 bytes): %s. HINT: set records_per_file to the "
                           "records in each file, or remove it for the official files",
                           file, (long long)size, (long long)want,
                           (long long)records_per_file, why);
    }
    return MOCO_OK;
}

static void cifar_destroy(void *p) {
    cifar10 *d = p;
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    free(d);
}

static int32_t cifar_create(const moco_host *h, int32_t split, void **out, moco_error *err) {
    const char *path_cfg;
    int64_t limit, limit_test, rpf;
    int32_t rc;
    if ((rc = moco_cfg_str(h, "path", NULL, &path_cfg, err)) ||
        (rc = moco_cfg_int(h, "limit", 0, 0, INT64_MAX / CIFAR_RECORD, &limit, err)) ||
        (rc = moco_cfg_int(h, "limit_test", 0, 0, INT64_MAX / CIFAR_RECORD, &limit_test, err)) ||
        (rc = moco_cfg_int(h, "records_per_file", CIFAR_OFFICIAL_RECORDS, 1,
                           INT64_MAX / CIFAR_RECORD / 8, &rpf, err)))
        return rc;
    if (split != MOCO_SPLIT_TRAIN && split != MOCO_SPLIT_TEST)
        return moco_errorf(err, MOCO_ERR_INVALID, "cifar10: unknown split %d. HINT: this is "
                           "a host bug; splits are train (0) and test (1)", (int)split);
    if (!path_cfg || !*path_cfg)
        return moco_cfg_errorf(h, "path", err,
                               "missing: the folder with the CIFAR-10 binary files is not set. "
                               "HINT: add path = /data/cifar-10-batches-bin or "
                               "path = ${MOCO_CIFAR10_DIR}; scripts/get-cifar10.sh downloads it");

    char expanded[PATH_LEN], dir[PATH_LEN];
    if ((rc = expand_env(h, path_cfg, expanded, sizeof expanded, err))) return rc;
    const char *base = h->config_dir ? h->config_dir(h->ctx) : NULL;
    int n;
    if (expanded[0] == '/' || !base || !*base)
        n = snprintf(dir, sizeof dir, "%s", expanded);
    else
        n = snprintf(dir, sizeof dir, "%s/%s", base, expanded);
    if (n < 0 || (size_t)n >= sizeof dir)
        return moco_cfg_errorf(h, "path", err, "too long. HINT: use a shorter path");

    struct stat st;
    int st_rc = stat(dir, &st);
    if (st_rc != 0 || !S_ISDIR(st.st_mode))
        return moco_errorf(err, MOCO_ERR_IO, "%s: %s (from path = '%s' in [%s] of %s). %s", dir,
                           st_rc != 0 ? strerror(errno) : "not a directory", path_cfg,
                           h->config_section ? h->config_section(h->ctx) : "?",
                           h->config_file ? h->config_file(h->ctx) : "?", HINT_GET);

    const char *const *files = split == MOCO_SPLIT_TRAIN ? train_files : test_files;
    int nfiles = split == MOCO_SPLIT_TRAIN ? 5 : 1;
    int64_t want = split == MOCO_SPLIT_TRAIN ? limit : limit_test;
    char file[PATH_LEN + 32];
    for (int i = 0; i < nfiles; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, files[i]);
        if ((rc = check_file(file, rpf, err))) return rc;
    }
    int64_t total = (int64_t)nfiles * rpf;
    if (want > total)
        return moco_cfg_errorf(h, split == MOCO_SPLIT_TRAIN ? "limit" : "limit_test", err,
                               "the %s split has only %lld images. HINT: use 0 for all or a "
                               "value <= %lld",
                               split == MOCO_SPLIT_TRAIN ? "train" : "test", (long long)total,
                               (long long)total);
    int64_t count = want ? want : total;

    cifar10 *d = calloc(1, sizeof *d);
    if (d) {
        d->pixels = malloc((size_t)count * CIFAR_PIXELS);
        d->labels = malloc((size_t)count);
    }
    if (!d || !d->pixels || !d->labels) {
        cifar_destroy(d);
        return moco_errorf(err, MOCO_ERR_NOMEM,
                           "cifar10: out of memory for %lld images (%lld MB). HINT: set limit "
                           "to use fewer images",
                           (long long)count, (long long)(count * CIFAR_PIXELS >> 20));
    }
    char paths[CIFAR_MAX_FILES][PATH_LEN + 32];
    const char *names[CIFAR_MAX_FILES];
    int64_t take[CIFAR_MAX_FILES];
    int32_t used = 0;
    for (int64_t done = 0; used < nfiles && done < count; used++) {
        snprintf(paths[used], sizeof paths[used], "%s/%s", dir, files[used]);
        names[used] = paths[used];
        take[used] = count - done < rpf ? count - done : rpf;
        done += take[used];
    }
    if ((rc = cifar_read_files(names, take, used, d->pixels, d->labels, err))) {
        cifar_destroy(d);
        return rc;
    }
    d->count = count;
    moco_logf(h, MOCO_LOG_DEBUG, "cifar10: %s split: %lld images from %s",
              split == MOCO_SPLIT_TRAIN ? "train" : "test", (long long)count, dir);
    *out = d;
    return MOCO_OK;
}

static void cifar_info(void *p, moco_dataset_info *out) {
    const cifar10 *d = p;
    out->sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    out->count = d->count;
    out->channels = CIFAR_C;
    out->height = CIFAR_H;
    out->width = CIFAR_W;
    out->num_classes = CIFAR_CLASSES;
}

static int32_t cifar_get(void *p, int64_t index, uint8_t *pixels, int32_t *label,
                         moco_error *err) {
    const cifar10 *d = p;
    if (index < 0 || index >= d->count)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "cifar10: image index %lld out of range [0, %lld). HINT: this is a "
                           "caller bug; use info() for the count",
                           (long long)index, (long long)d->count);
    memcpy(pixels, d->pixels + index * CIFAR_PIXELS, CIFAR_PIXELS);
    *label = d->labels[index];
    return MOCO_OK;
}

static const moco_dataset_api cifar10_api = {
    MOCO_SDK_VERSION_INIT, cifar_create, cifar_destroy, cifar_info, cifar_get,
};

MOCO_PLUGIN(MOCO_KIND_DATASET, "cifar10", "1.0.0",
            "CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin), held in memory",
            &cifar10_api);
