/* Errors, assertions, logging and version helpers of the SDK library. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moco/sdk.h"

moco_version moco_sdk_version(void) {
    moco_version v = MOCO_SDK_VERSION_INIT;
    return v;
}

const char *moco_kind_name(int32_t kind) {
    switch (kind) {
    case MOCO_KIND_DATASET: return "dataset";
    case MOCO_KIND_AUGMENT: return "augment";
    case MOCO_KIND_BACKBONE: return "backbone";
    case MOCO_KIND_DICTIONARY: return "dictionary";
    case MOCO_KIND_OBJECTIVE: return "objective";
    default: return "unknown";
    }
}

int32_t moco_errorf(moco_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

int32_t moco_error_prefix(moco_error *err, int32_t status, const char *fmt, ...) {
    if (!err) return status;
    char prefix[MOCO_ERROR_LEN], old[MOCO_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return status;
}

void moco_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "moco: internal error: assertion '%s' failed at %s:%d\n", expr, file,
            line);
    abort();
}

void moco_logf(const moco_host *h, int32_t level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (h && h->log)
        h->log(h->ctx, level, buf);
    else
        fprintf(stderr, "%s\n", buf);
}
