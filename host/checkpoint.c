/* Checkpoint format, snapshot, atomic write and validated load (see
 * checkpoint.h for the layout). */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "crc32.h"

#define HEADER_BYTES 36
#define RECORD_BYTES 64
#define MAX_NAME 1024
enum { DT_F32 = MOCO_DTYPE_F32, DT_I64 = MOCO_DTYPE_I64, DT_BYTES = 3 };

static const char MAGIC[8] = {'M', 'O', 'C', 'O', 'C', 'K', 'P', 'T'};

/* ---- little-endian helpers (x86-64 and aarch64 are LE; assert it) ------ */
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- what a run persists ---------------------------------------------- */
typedef struct item {
    char name[MAX_NAME];
    int32_t dtype, ndim;
    int64_t shape[4];
    void *data;
    size_t bytes;
} item;

static size_t dtype_size(int32_t dt) { return dt == DT_F32 ? 4 : dt == DT_I64 ? 8 : 1; }

static item from_desc(const char *prefix, const moco_tensor_desc *d) {
    item it;
    memset(&it, 0, sizeof it);
    snprintf(it.name, sizeof it.name, "%s%s", prefix, d->name);
    it.dtype = d->dtype;
    it.ndim = d->ndim;
    for (int i = 0; i < d->ndim && i < 4; i++) it.shape[i] = d->shape[i];
    it.data = d->data;
    it.bytes = (size_t)moco_numel(d->ndim, d->shape) * dtype_size(d->dtype);
    return it;
}

static item flat(const char *name, int32_t dtype, void *data, int64_t count) {
    item it;
    memset(&it, 0, sizeof it);
    snprintf(it.name, sizeof it.name, "%s", name);
    it.dtype = dtype;
    it.ndim = 1;
    it.shape[0] = count;
    it.data = data;
    it.bytes = (size_t)count * dtype_size(dtype);
    return it;
}

/* The list of items of a run, in file order. `counters` (6) is filled by
 * the caller for writing and read back after loading. */
static int32_t collect(const run *r, int64_t *counters, item **out, int32_t *n) {
    int32_t cap = 8 + 2 * r->qinfo.num_tensors + r->dict->num_state(r->queue);
    item *v = calloc((size_t)cap, sizeof(item));
    if (!v) return MOCO_ERR_NOMEM;
    int32_t k = 0;
    v[k++] = flat("config", DT_BYTES, r->ini.text, (int64_t)strlen(r->ini.text));
    v[k++] = flat("counters", DT_I64, counters, 6);
    const char *bb = r->plugin[SLOT_BACKBONE].entry->name;
    v[k++] = flat("backbone", DT_BYTES, (void *)bb, (int64_t)strlen(bb));
    for (int32_t i = 0; i < r->qinfo.num_tensors; i++) {
        moco_tensor_desc d;
        r->bb->tensor(r->enc_q, i, &d);
        v[k++] = from_desc("q.", &d);
    }
    for (int32_t i = 0; i < r->kinfo.num_tensors; i++) {
        moco_tensor_desc d;
        r->bb->tensor(r->enc_k, i, &d);
        v[k++] = from_desc("k.", &d);
    }
    v[k++] = flat("sgd.momentum", DT_F32, r->sgd_momentum, r->qinfo.params.count);
    for (int32_t i = 0; i < r->dict->num_state(r->queue); i++) {
        moco_tensor_desc d;
        r->dict->state(r->queue, i, &d);
        v[k++] = from_desc("dict.", &d);
    }
    *out = v;
    *n = k;
    return MOCO_OK;
}

int32_t ckpt_snapshot(const run *r, uint8_t **buf, size_t *len, moco_error *err) {
    int64_t counters[6] = {r->epoch, r->step_in_epoch, r->global_step, (int64_t)r->seed,
                           r->steps_per_epoch, r->cfg.epochs};
    item *v;
    int32_t n;
    if (collect(r, counters, &v, &n)) return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory");
    size_t total = HEADER_BYTES;
    for (int32_t i = 0; i < n; i++) total += RECORD_BYTES + strlen(v[i].name) + v[i].bytes;
    uint8_t *b = malloc(total);
    if (!b) {
        free(v);
        return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for a %zu-byte checkpoint", total);
    }
    memcpy(b, MAGIC, 8);
    put32(b + 8, CKPT_FORMAT_VERSION);
    put32(b + 12, MOCO_SDK_VERSION_MAJOR);
    put32(b + 16, MOCO_SDK_VERSION_MINOR);
    put32(b + 20, (uint32_t)n);
    put64(b + 24, total);
    put32(b + 32, moco_crc32(0, b, 32));
    uint8_t *p = b + HEADER_BYTES;
    for (int32_t i = 0; i < n; i++) {
        size_t nl = strlen(v[i].name);
        memset(p, 0, RECORD_BYTES);
        put32(p, (uint32_t)nl);
        put32(p + 4, (uint32_t)v[i].dtype);
        put32(p + 8, (uint32_t)v[i].ndim);
        for (int d = 0; d < 4; d++) put64(p + 16 + 8 * d, (uint64_t)v[i].shape[d]);
        put64(p + 48, v[i].bytes);
        put32(p + 56, moco_crc32(0, v[i].data, v[i].bytes));
        put32(p + 60, moco_crc32(0, p, 60));
        memcpy(p + RECORD_BYTES, v[i].name, nl);
        memcpy(p + RECORD_BYTES + nl, v[i].data, v[i].bytes);
        p += RECORD_BYTES + nl + v[i].bytes;
    }
    free(v);
    *buf = b;
    *len = total;
    return MOCO_OK;
}

/* ---- atomic write ------------------------------------------------------ */
static void fsync_dir(const char *dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

int32_t ckpt_write_file(const char *path, const uint8_t *buf, size_t len, moco_error *err) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': cannot create: %s. HINT: check "
                           "that the run directory is writable", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': write failed after %zu of "
                               "%zu bytes: %s; the previous checkpoint is untouched. HINT: free "
                               "disk space", tmp, done, len, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': fsync failed: %s; the previous "
                           "checkpoint is untouched", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': rename failed: %s", path,
                           strerror(e));
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", path);
    fsync_dir(dirname(dir)); /* make the rename durable */
    return MOCO_OK;
}

static int numbered_step(const char *name, long long *step) {
    char tail[8];
    return sscanf(name, "checkpoint-%lld%7s", step, tail) == 2 && !strcmp(tail, ".bin");
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Delete numbered checkpoints older than the newest `keep`. */
static void prune(const char *dir, int32_t keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    long long steps[4096];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 4096) {
        long long st;
        if (numbered_step(de->d_name, &st)) steps[n++] = st;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof *steps, cmp_ll);
    for (int i = 0; i < n - keep; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/checkpoint-%08lld.bin", dir, steps[i]);
        unlink(p);
    }
}

int32_t ckpt_remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int32_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        int tmp = l > 4 && !strcmp(de->d_name + l - 4, ".tmp") &&
                  !strncmp(de->d_name, "checkpoint", 10);
        int lnk = !strcmp(de->d_name, CKPT_FILE_NAME ".link");
        if (!tmp && !lnk) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        n += unlink(p) == 0;
    }
    closedir(d);
    return n;
}

int32_t ckpt_save_in_dir(const char *dir, int64_t step, int32_t keep, const uint8_t *buf,
                         size_t len, char *saved_path, size_t saved_len, moco_error *err) {
    char numbered[1200], latest[1200], tmp[1300];
    snprintf(numbered, sizeof numbered, "%s/checkpoint-%08lld.bin", dir, (long long)step);
    snprintf(latest, sizeof latest, "%s/%s", dir, CKPT_FILE_NAME);
    snprintf(tmp, sizeof tmp, "%s.link", latest);
    int32_t st = ckpt_write_file(numbered, buf, len, err);
    if (st) return st;
    unlink(tmp);
    if (link(numbered, tmp) != 0 || rename(tmp, latest) != 0) {
        int e = errno;
        unlink(tmp);
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': cannot update %s: %s; the new "
                           "checkpoint is complete in %s", numbered, latest, strerror(e), numbered);
    }
    fsync_dir(dir);
    prune(dir, keep < 1 ? 1 : keep);
    if (saved_path) snprintf(saved_path, saved_len, "%s", numbered);
    return MOCO_OK;
}

/* ---- validated load ---------------------------------------------------- */
typedef ckpt_record record;

static int32_t read_all(const char *path, uint8_t **out, size_t *len, moco_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': %s. HINT: check the path; a run "
                           "keeps its checkpoint in <run dir>/%s", path, strerror(errno),
                           CKPT_FILE_NAME);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        close(fd);
        return moco_errorf(err, MOCO_ERR_NOMEM, "checkpoint '%s': out of memory for %zu bytes",
                           path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(b);
        return moco_errorf(err, MOCO_ERR_IO, "checkpoint '%s': short read", path);
    }
    *out = b;
    *len = n;
    return MOCO_OK;
}

static int32_t parse(const char *path, const uint8_t *b, size_t len, record **out,
                     uint32_t *count, moco_error *err) {
#define BAD(...) moco_errorf(err, MOCO_ERR_FORMAT, __VA_ARGS__)
    if (len < HEADER_BYTES || memcmp(b, MAGIC, 8) != 0)
        return BAD("checkpoint '%s': not a moco checkpoint (bad magic or shorter than its "
                   "header). HINT: pass a checkpoint.bin written by moco-host", path);
    if (get32(b + 32) != moco_crc32(0, b, 32))
        return BAD("checkpoint '%s': header checksum mismatch (damaged file)", path);
    if (get32(b + 8) != CKPT_FORMAT_VERSION)
        return BAD("checkpoint '%s': format version %u, this moco-host reads version %d",
                   path, get32(b + 8), CKPT_FORMAT_VERSION);
    if (get64(b + 24) != len)
        return BAD("checkpoint '%s': header says %llu bytes, file has %zu (truncated or "
                   "extended). HINT: use an older intact checkpoint", path,
                   (unsigned long long)get64(b + 24), len);
    uint32_t n = get32(b + 20);
    if (n > (len - HEADER_BYTES) / RECORD_BYTES)
        return BAD("checkpoint '%s': record count %u cannot fit in the file", path, n);
    record *rec = calloc(n ? n : 1, sizeof(record));
    if (!rec) return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory");
    int32_t st = MOCO_OK;
    size_t off = HEADER_BYTES;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < RECORD_BYTES) {
            st = BAD("checkpoint '%s': record %u: header runs past the end", path, i);
            goto fail;
        }
        const uint8_t *p = b + off;
        if (get32(p + 60) != moco_crc32(0, p, 60)) {
            st = BAD("checkpoint '%s': record %u: header checksum mismatch", path, i);
            goto fail;
        }
        record *r = &rec[i];
        r->name_len = get32(p);
        r->dtype = (int32_t)get32(p + 4);
        r->ndim = (int32_t)get32(p + 8);
        r->bytes = get64(p + 48);
        if (r->name_len == 0 || r->name_len > MAX_NAME || r->ndim < 0 || r->ndim > 4 ||
            (r->dtype != DT_F32 && r->dtype != DT_I64 && r->dtype != DT_BYTES)) {
            st = BAD("checkpoint '%s': record %u: bad name length, rank or dtype", path, i);
            goto fail;
        }
        uint64_t numel = 1;
        for (int d = 0; d < 4; d++) {
            r->shape[d] = (int64_t)get64(p + 16 + 8 * d);
            if (d < r->ndim) {
                if (r->shape[d] < 0 || (r->shape[d] && numel > UINT64_MAX / 8 / (uint64_t)r->shape[d])) {
                    st = BAD("checkpoint '%s': record %u: absurd shape", path, i);
                    goto fail;
                }
                numel *= (uint64_t)r->shape[d];
            }
        }
        if (numel * dtype_size(r->dtype) != r->bytes) {
            st = BAD("checkpoint '%s': record %u: size %llu does not match its shape", path, i,
                       (unsigned long long)r->bytes);
            goto fail;
        }
        off += RECORD_BYTES;
        if (len - off < r->name_len || len - off - r->name_len < r->bytes) {
            st = BAD("checkpoint '%s': record %u: data runs past the end of the file", path, i);
            goto fail;
        }
        r->name = (const char *)b + off;
        r->payload = b + off + r->name_len;
        if (get32(p + 56) != moco_crc32(0, r->payload, r->bytes)) {
            st = BAD("checkpoint '%s': tensor '%.*s': data checksum mismatch (damaged file). "
                       "HINT: use an older intact checkpoint", path, (int)r->name_len, r->name);
            goto fail;
        }
        off += r->name_len + r->bytes;
    }
    if (off != len) {
        st = BAD("checkpoint '%s': %zu trailing bytes after the last record", path, len - off);
        goto fail;
    }
    *out = rec;
    *count = n;
    return MOCO_OK;
fail: /* messages are formatted before rec is freed: they read from it */
    free(rec);
    return st;
#undef BAD
}

int32_t ckpt_open(ckpt_image *img, const char *path, moco_error *err) {
    memset(img, 0, sizeof *img);
    size_t len = 0;
    int32_t st = read_all(path, &img->data, &len, err);
    if (!st) st = parse(path, img->data, len, &img->records, &img->count, err);
    if (st) ckpt_close(img);
    return st;
}

void ckpt_close(ckpt_image *img) {
    free(img->records);
    free(img->data);
    memset(img, 0, sizeof *img);
}

int32_t ckpt_validate_buffer(const char *path, const uint8_t *buf, size_t len,
                             moco_error *err) {
    record *rec = NULL;
    uint32_t n = 0;
    int32_t st = parse(path, buf, len, &rec, &n, err);
    free(rec);
    return st;
}

static record *find(record *rec, uint32_t n, const char *name) {
    size_t l = strlen(name);
    for (uint32_t i = 0; i < n; i++)
        if (rec[i].name_len == l && !memcmp(rec[i].name, name, l)) return &rec[i];
    return NULL;
}

static int32_t apply(const run *r, const char *path, record *rec, uint32_t n, item *v,
                     int32_t nv, moco_error *err) {
    const record *bb = find(rec, n, "backbone");
    char saved_bb[128] = "?";
    if (bb) snprintf(saved_bb, sizeof saved_bb, "%.*s", (int)bb->bytes, (const char *)bb->payload);
    for (int32_t i = 0; i < nv; i++) {
        record *x = find(rec, n, v[i].name);
        if (!x)
            return moco_errorf(err, MOCO_ERR_FORMAT,
                               "checkpoint '%s': has no '%s' (it was written with backbone '%s', "
                               "this config uses '%s'). HINT: resume with the config the "
                               "checkpoint was made with, or start a new run in another [run] "
                               "dir / --run-dir", path, v[i].name, saved_bb,
                               r->plugin[SLOT_BACKBONE].entry->name);
        x->used = 1;
        if (!strcmp(v[i].name, "config") || !strcmp(v[i].name, "backbone")) continue;
        int same = x->dtype == v[i].dtype && x->ndim == v[i].ndim;
        for (int d = 0; same && d < v[i].ndim; d++) same = x->shape[d] == v[i].shape[d];
        if (!same) {
            char a[96] = "", b[96] = "";
            for (int d = 0; d < v[i].ndim; d++)
                snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? "x" : "",
                         (long long)v[i].shape[d]);
            for (int d = 0; d < x->ndim; d++)
                snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? "x" : "",
                         (long long)x->shape[d]);
            return moco_errorf(err, MOCO_ERR_FORMAT,
                               "checkpoint '%s': tensor %s: shape %s expected, got %s (the "
                               "backbone (stem, width, head), dim or K differ from this config). "
                               "HINT: resume with the config the checkpoint was made with, or "
                               "start a new run in another [run] dir / --run-dir", path,
                               v[i].name, a, b);
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (!rec[i].used)
            return moco_errorf(err, MOCO_ERR_FORMAT,
                               "checkpoint '%s': unexpected tensor '%.*s' (written with backbone "
                               "'%s'). HINT: resume with the config the checkpoint was made with",
                               path, (int)rec[i].name_len, rec[i].name, saved_bb);
    /* Everything matches: only now overwrite the live state. */
    for (int32_t i = 0; i < nv; i++) {
        if (!strcmp(v[i].name, "config") || !strcmp(v[i].name, "backbone")) continue;
        record *x = find(rec, n, v[i].name);
        memcpy(v[i].data, x->payload, v[i].bytes);
    }
    return MOCO_OK;
}

int32_t ckpt_load(run *r, const char *path, moco_error *err) {
    uint8_t *b = NULL;
    size_t len = 0;
    int32_t st = read_all(path, &b, &len, err);
    if (st) return st;
    record *rec = NULL;
    uint32_t n = 0;
    st = parse(path, b, len, &rec, &n, err);
    int64_t counters[6] = {0};
    item *v = NULL;
    int32_t nv = 0;
    if (!st) {
        /* Counters first: a run with another seed or data size is refused
         * before anything is overwritten. */
        const record *c = find(rec, n, "counters");
        if (!c || c->dtype != DT_I64 || c->ndim != 1 || c->shape[0] != 6)
            st = moco_errorf(err, MOCO_ERR_FORMAT, "checkpoint '%s': no valid 'counters' record",
                             path);
        else
            memcpy(counters, c->payload, sizeof counters);
    }
    if (!st && ((uint64_t)counters[3] != r->seed || counters[4] != r->steps_per_epoch))
        st = moco_errorf(err, MOCO_ERR_INVALID,
                         "checkpoint '%s': made with seed %lld and %lld steps per epoch, this "
                         "config has seed %llu and %lld. HINT: resume with the same [run] seed, "
                         "[train] batch and dataset limit", path, (long long)counters[3],
                         (long long)counters[4], (unsigned long long)r->seed,
                         (long long)r->steps_per_epoch);
    if (!st && (counters[0] < 0 || counters[1] < 0 || counters[1] > r->steps_per_epoch ||
                counters[2] < 0))
        st = moco_errorf(err, MOCO_ERR_FORMAT, "checkpoint '%s': counters out of range", path);
    int64_t scratch[6];
    if (!st && collect(r, scratch, &v, &nv))
        st = moco_errorf(err, MOCO_ERR_NOMEM, "out of memory");
    if (!st) st = apply(r, path, rec, n, v, nv, err);
    if (!st) {
        r->epoch = counters[0];
        r->step_in_epoch = counters[1];
        r->global_step = counters[2];
        if (r->step_in_epoch == r->steps_per_epoch) {
            r->epoch++;
            r->step_in_epoch = 0;
        }
    }
    free(v);
    free(rec);
    free(b);
    return st;
}

/* ---- asynchronous writer ----------------------------------------------- */
static void write_work(uv_work_t *req) {
    ckpt_writer *w = req->data;
    w->status = ckpt_save_in_dir(w->dir, w->step, w->keep, w->buf, w->len, w->path,
                                 sizeof w->path, &w->err);
}

static void write_done(uv_work_t *req, int status) {
    ckpt_writer *w = req->data;
    if (status == UV_ECANCELED) {
        w->status = moco_errorf(&w->err, MOCO_ERR_IO, "checkpoint write cancelled");
    }
    if (w->status) {
        w->failed = 1; /* reported once, by whoever waits for the writer */
    } else {
        host_log(MOCO_LOG_INFO, "checkpoint saved: %s (epoch %lld, step %lld, %.1f MB, %.2f s)",
                 w->path, (long long)w->epoch + 1, (long long)w->step, w->len / 1e6,
                 host_now() - w->started);
    }
    free(w->buf);
    w->buf = NULL;
    w->busy = 0;
}

void ckpt_writer_init(ckpt_writer *w, uv_loop_t *loop) {
    memset(w, 0, sizeof *w);
    w->loop = loop;
}

int32_t ckpt_writer_wait(ckpt_writer *w, moco_error *err) {
    while (w->busy) uv_run(w->loop, UV_RUN_ONCE);
    if (w->failed) {
        if (err) *err = w->err;
        return MOCO_ERR_IO;
    }
    return MOCO_OK;
}

int32_t ckpt_writer_save(ckpt_writer *w, const run *r, moco_error *err) {
    int32_t st = ckpt_writer_wait(w, err);
    if (st) return st;
    st = ckpt_snapshot(r, &w->buf, &w->len, err);
    if (st) return st;
    snprintf(w->dir, sizeof w->dir, "%s", r->run_dir);
    w->keep = (int32_t)r->cfg.keep_checkpoints;
    w->epoch = r->epoch;
    w->step = r->global_step;
    w->requested = 1;
    w->started = host_now();
    w->busy = 1;
    w->req.data = w;
    uv_queue_work(w->loop, &w->req, write_work, write_done);
    return MOCO_OK;
}
