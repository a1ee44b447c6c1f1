/* CRC-32 (IEEE 802.3, the zlib polynomial), incremental. */
#ifndef MOCO_HOST_CRC32_H
#define MOCO_HOST_CRC32_H
#include <stddef.h>
#include <stdint.h>
/* crc = moco_crc32(0, buf, n) for a whole buffer; chain for pieces. */
uint32_t moco_crc32(uint32_t crc, const void *buf, size_t n);
#endif
