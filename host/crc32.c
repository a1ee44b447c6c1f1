#include "crc32.h"

#include <pthread.h>

/* Slicing-by-1 table built on first use; fast enough for checkpoints
 * (~500 MB/s) and small. */
static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

uint32_t moco_crc32(uint32_t crc, const void *buf, size_t n) {
    pthread_once(&once, build);
    const unsigned char *p = buf;
    crc = ~crc;
    while (n--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
