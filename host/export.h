/* Exporting trained weights for other frameworks. */
#ifndef MOCO_HOST_EXPORT_H
#define MOCO_HOST_EXPORT_H

#include "moco/sdk.h"

/* Write the query encoder of checkpoint `ckpt` to `out` in the safetensors
 * format (8-byte little-endian header length, JSON header, raw data) with
 * torchvision's names and layouts: float32 tensors as F32, the BN
 * `num_batches_tracked` counters as I64 scalars (shape []), as
 * torchvision's state_dict holds them. Written atomically (temp + rename).
 * *count receives the number of tensors written. */
int32_t export_safetensors(const char *ckpt, const char *out, int32_t *count, moco_error *err);

/* `moco-host export CHECKPOINT --format safetensors OUT` */
int export_main(int argc, char **argv);

#endif
