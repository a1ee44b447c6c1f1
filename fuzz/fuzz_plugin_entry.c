/* libFuzzer target: plugin descriptor validation. The input decides the
 * entry's and the api table's versions, the kind, which strings are present
 * and which function pointers are NULL; validation must refuse or accept
 * without ever calling or dereferencing anything it has not checked. */
#include <stdint.h>
#include <string.h>

#include "plugin.h"

static int32_t dummy(void) { return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t b[24] = {0};
    memcpy(b, data, size < sizeof b ? size : sizeof b);
    /* The largest api table (backbone: version + 6 functions) as raw slots. */
    struct {
        moco_version v;
        void (*fn[8])(void);
    } api;
    api.v.major = b[0] % 4;
    api.v.minor = b[1] % 4;
    for (int i = 0; i < 8; i++) api.fn[i] = (b[2] >> i) & 1 ? (void (*)(void))dummy : NULL;
    moco_plugin_entry e;
    memset(&e, 0, sizeof e);
    e.sdk_version.major = b[3] % 4;
    e.sdk_version.minor = b[4] % 4;
    e.kind = (int32_t)(int8_t)b[5];
    e.name = b[6] & 1 ? "fuzz" : (b[6] & 2 ? "" : NULL);
    e.version = b[7] & 1 ? "1.0" : NULL;
    e.api = b[8] & 1 ? (const void *)&api : NULL;
    moco_error err;
    plugin_validate(&e, "fuzz.so", (int32_t)(b[9] % 7), &err);
    return 0;
}
