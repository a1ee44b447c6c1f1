/* libFuzzer target: INI text through the store and the host's own section
 * validation (the part of config handling that sees raw user bytes). */
#include <stdint.h>
#include <stdlib.h>

#include "inistore.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ini_store s;
    moco_error err;
    if (ini_load_text(&s, "fuzz.ini", (const char *)data, size, &err) == MOCO_OK) {
        settings cfg;
        settings_load(&cfg, &s, &err);
    }
    ini_free(&s);
    return 0;
}
