/* cifar10 plugin internals: the record format and the parallel file reader. */
#ifndef CIFAR10_PLUGIN_H
#define CIFAR10_PLUGIN_H

#include <stdint.h>

#include "moco/sdk.h"

#define CIFAR_C 3
#define CIFAR_H 32
#define CIFAR_W 32
#define CIFAR_PIXELS (CIFAR_C * CIFAR_H * CIFAR_W) /* 3072 */
#define CIFAR_RECORD (1 + CIFAR_PIXELS)             /* 3073 */
#define CIFAR_CLASSES 10
#define CIFAR_MAX_FILES 8

#define HINT_GET "HINT: run scripts/get-cifar10.sh, or set path in the INI to the folder " \
                 "holding data_batch_1..5.bin and test_batch.bin"

/* Reads the first take[i] records of files[i], i = 0..nfiles-1 (at most
 * CIFAR_MAX_FILES), into pixels (the records' 3072 pixel bytes, one after the
 * other, file after file) and labels (one byte each), checking every label.
 * Files are read on up to 4 threads, one file per thread at a time, through
 * a small buffer, so no memory beyond pixels and labels is touched. On
 * failure the error is that of the first failing file in the list order,
 * whatever the threads did, and the output is garbage. */
int32_t cifar_read_files(const char *const *files, const int64_t *take, int32_t nfiles,
                         uint8_t *pixels, uint8_t *labels, moco_error *err);

#endif /* CIFAR10_PLUGIN_H */
