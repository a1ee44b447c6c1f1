/* libFuzzer target: the checkpoint reader's validation of a whole file image. */
#include <stdint.h>

#include "checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    moco_error err;
    ckpt_validate_buffer("fuzz.bin", data, size, &err);
    return 0;
}
