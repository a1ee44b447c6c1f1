/* cifar10 plugin — reading record files into pixel planes and labels, one
 * file per thread. Reading 50,000 records costs about as much in page
 * faults on the destination as in copying, and both scale with threads. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cifar10.h"

#define CHUNK_RECORDS 341 /* ~1 MiB staging buffer per thread */
#define MAX_THREADS 4

typedef struct read_job {
    const char *const *files;
    const int64_t *take;
    int32_t nfiles;
    uint8_t *pixels, *labels;
    atomic_int next;
    int32_t rc[CIFAR_MAX_FILES];
    moco_error err[CIFAR_MAX_FILES];
} read_job;

/* Reads exactly want bytes unless the file ends or fails first; *got tells. */
static int read_full(int fd, uint8_t *buf, size_t want, size_t *got) {
    size_t have = 0;
    while (have < want) {
        ssize_t r = read(fd, buf + have, want - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            *got = have;
            return -1;
        }
        if (r == 0) break;
        have += (size_t)r;
    }
    *got = have;
    return 0;
}

static int32_t read_one(const char *file, int64_t take, uint8_t *pixels, uint8_t *labels,
                        uint8_t *buf, moco_error *err) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return moco_errorf(err, MOCO_ERR_IO, "%s: %s. %s", file, strerror(errno), HINT_GET);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    const size_t total = (size_t)take * CIFAR_RECORD;
    size_t done = 0;
    for (int64_t k0 = 0; k0 < take; k0 += CHUNK_RECORDS) {
        int64_t n = take - k0 < CHUNK_RECORDS ? take - k0 : CHUNK_RECORDS;
        size_t got;
        int failed = read_full(fd, buf, (size_t)n * CIFAR_RECORD, &got);
        if (failed || got != (size_t)n * CIFAR_RECORD) {
            int e = errno;
            close(fd);
            return moco_errorf(err, MOCO_ERR_IO,
                               "%s: %s after %zu of %zu bytes. HINT: check the file is "
                               "readable and not being written; re-run scripts/get-cifar10.sh",
                               file, failed ? strerror(e) : "unexpected end of file",
                               done + got, total);
        }
        for (int64_t j = 0; j < n; j++) {
            const uint8_t *rec = buf + j * CIFAR_RECORD;
            if (rec[0] >= CIFAR_CLASSES) {
                int64_t k = k0 + j;
                close(fd);
                return moco_errorf(err, MOCO_ERR_FORMAT,
                                   "%s: record %lld (byte offset %lld): label byte %u is not "
                                   "in 0..9. HINT: the file is corrupt or not CIFAR-10 (the "
                                   "CIFAR-100 binary has 2 label bytes); re-run "
                                   "scripts/get-cifar10.sh",
                                   file, (long long)k, (long long)(k * CIFAR_RECORD),
                                   (unsigned)rec[0]);
            }
            labels[k0 + j] = rec[0];
            memcpy(pixels + (size_t)(k0 + j) * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
        }
        done += got;
    }
    close(fd);
    return MOCO_OK;
}

static void *worker(void *arg) {
    read_job *job = arg;
    uint8_t *buf = malloc((size_t)CHUNK_RECORDS * CIFAR_RECORD);
    for (;;) {
        int i = atomic_fetch_add(&job->next, 1);
        if (i >= job->nfiles) break;
        if (!buf) {
            job->rc[i] = moco_errorf(&job->err[i], MOCO_ERR_NOMEM,
                                     "cifar10: out of memory for a read buffer");
            continue;
        }
        int64_t first = 0;
        for (int32_t f = 0; f < i; f++) first += job->take[f];
        job->rc[i] = read_one(job->files[i], job->take[i],
                              job->pixels + (size_t)first * CIFAR_PIXELS, job->labels + first,
                              buf, &job->err[i]);
    }
    free(buf);
    return NULL;
}

int32_t cifar_read_files(const char *const *files, const int64_t *take, int32_t nfiles,
                         uint8_t *pixels, uint8_t *labels, moco_error *err) {
    if (nfiles < 0 || nfiles > CIFAR_MAX_FILES)
        return moco_errorf(err, MOCO_ERR_INVALID, "cifar10: %d files. HINT: this is a plugin "
                           "bug", (int)nfiles);
    read_job job = {.files = files, .take = take, .nfiles = nfiles, .pixels = pixels,
                    .labels = labels};
    atomic_init(&job.next, 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int32_t want = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int32_t)cpus;
    if (want > nfiles) want = nfiles;
    pthread_t th[MAX_THREADS];
    int32_t started = 0;
    while (started + 1 < want && pthread_create(&th[started], NULL, worker, &job) == 0)
        started++;
    worker(&job); /* the caller is one of the readers; it alone if threads fail */
    for (int32_t t = 0; t < started; t++) pthread_join(th[t], NULL);
    for (int32_t i = 0; i < nfiles; i++)
        if (job.rc[i]) {
            if (err) *err = job.err[i];
            return job.rc[i];
        }
    return MOCO_OK;
}
