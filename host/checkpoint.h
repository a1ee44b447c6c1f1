/* Checkpoints: one self-checking binary file holding everything needed to
 * continue a run exactly (both encoders, optimizer state, dictionary state,
 * counters, the config used).
 *
 * Layout (little-endian):
 *   header  : magic "MOCOCKPT" | u32 format version | u32 SDK major | u32 SDK
 *             minor | u32 record count | u64 file size | u32 CRC-32 of the
 *             header's preceding 28 bytes                       (36 bytes)
 *   records : u32 name length | u32 dtype (1 f32, 2 i64, 3 bytes) | u32 ndim |
 *             u32 0 | i64 shape[4] | u64 payload bytes | u32 payload CRC |
 *             u32 CRC of this record header's preceding 56 bytes |
 *             name | payload                                     (64 + ...)
 * The reader checks every size against the file length before using it. */
#ifndef MOCO_HOST_CHECKPOINT_H
#define MOCO_HOST_CHECKPOINT_H

#include <uv.h>

#include "run.h"

#define CKPT_FORMAT_VERSION 1
#define CKPT_DTYPE_BYTES 3   /* besides MOCO_DTYPE_F32 / MOCO_DTYPE_I64 */

/* One validated record of a checkpoint image (pointers into the image). */
typedef struct ckpt_record {
    const char *name;          /* not NUL-terminated: name_len bytes */
    uint32_t name_len;
    int32_t dtype, ndim;
    int64_t shape[4];
    const uint8_t *payload;
    uint64_t bytes;
    int used;
} ckpt_record;

/* A whole checkpoint file in memory, validated (sizes, CRCs). */
typedef struct ckpt_image {
    uint8_t *data;
    ckpt_record *records;
    uint32_t count;
} ckpt_image;

/* [any] Read and validate a checkpoint file without applying it. */
int32_t ckpt_open(ckpt_image *img, const char *path, moco_error *err);
void ckpt_close(ckpt_image *img);
#define CKPT_FILE_NAME "checkpoint.bin"

/* [main] Serialise the run's state into a new buffer (caller frees). */
int32_t ckpt_snapshot(const run *r, uint8_t **buf, size_t *len, moco_error *err);
/* [main] Remove temp files a killed writer left in a run directory
 * (checkpoint-*.bin.tmp, checkpoint.bin.link). Returns how many. */
int32_t ckpt_remove_stale(const char *dir);
/* [main] Restore a run from a checkpoint file; refuses any mismatch with
 * the current config and plugins (names, shapes, counts). */
int32_t ckpt_load(run *r, const char *path, moco_error *err);
/* [any] Check a checkpoint image (header, every record's sizes and CRCs)
 * without applying it; `path` names it in messages. */
int32_t ckpt_validate_buffer(const char *path, const uint8_t *buf, size_t len,
                             moco_error *err);
/* [any] Write buf atomically: temp file, write, fsync, rename, fsync dir. */
int32_t ckpt_write_file(const char *path, const uint8_t *buf, size_t len, moco_error *err);
/* [any] Save into a run directory: write checkpoint-<step>.bin atomically,
 * then point checkpoint.bin at it (hard link + rename, atomic), then delete
 * all but the newest `keep` numbered checkpoints. Nothing older is removed
 * before the new one is durable. */
int32_t ckpt_save_in_dir(const char *dir, int64_t step, int32_t keep, const uint8_t *buf,
                         size_t len, char *saved_path, size_t saved_len, moco_error *err);

/* Asynchronous writer on the libuv pool: one write in flight at a time. */
typedef struct ckpt_writer {
    uv_work_t req;
    uv_loop_t *loop;
    char dir[1100];
    char path[1200];         /* the numbered file last written */
    int32_t keep;
    uint8_t *buf;
    size_t len;
    int32_t busy;
    int32_t status;          /* of the last finished write */
    int32_t failed;          /* sticky: some write failed */
    moco_error err;
    int64_t epoch, step;     /* what is being (or was last) written */
    int32_t requested;       /* some save was requested */
    double started;
} ckpt_writer;

void ckpt_writer_init(ckpt_writer *w, uv_loop_t *loop);
/* [main] Snapshot now, write in the background (waits for a previous one). */
int32_t ckpt_writer_save(ckpt_writer *w, const run *r, moco_error *err);
/* [main] Block until no write is in flight; returns its status. */
int32_t ckpt_writer_wait(ckpt_writer *w, moco_error *err);

#endif
