/* Typed readers for a plugin's INI section, on top of host->config_get.
 * Every bad value becomes "FILE:LINE: [section] key = 'value': why. HINT: ...". */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "moco/sdk.h"

static const char *lookup(const moco_host *h, const char *key, int32_t *line) {
    const char *v = NULL;
    *line = 0;
    if (!h || !h->config_get || !h->config_get(h->ctx, key, &v, line)) return NULL;
    return v;
}

static const char *file_of(const moco_host *h) {
    return h && h->config_file ? h->config_file(h->ctx) : "?";
}
static const char *section_of(const moco_host *h) {
    return h && h->config_section ? h->config_section(h->ctx) : "?";
}

int32_t moco_cfg_errorf(const moco_host *h, const char *key, moco_error *err,
                        const char *fmt, ...) {
    char why[MOCO_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    int32_t line = 0;
    const char *v = key ? lookup(h, key, &line) : NULL;
    if (v)
        return moco_errorf(err, MOCO_ERR_INVALID, "%s:%d: [%s] %s = '%.80s': %s", file_of(h),
                           (int)line, section_of(h), key, v, why);
    return moco_errorf(err, MOCO_ERR_INVALID, "%s: [%s]%s%s: %s", file_of(h), section_of(h),
                       key ? " " : "", key ? key : "", why);
}

int32_t moco_cfg_int(const moco_host *h, const char *key, int64_t def, int64_t lo,
                     int64_t hi, int64_t *out, moco_error *err) {
    int32_t line;
    const char *v = lookup(h, key, &line);
    if (!v) {
        *out = def;
        return MOCO_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != 0 || errno == ERANGE)
        return moco_cfg_errorf(h, key, err, "not an integer. HINT: write a whole number in [%lld, %lld]",
                               (long long)lo, (long long)hi);
    if (x < lo || x > hi)
        return moco_cfg_errorf(h, key, err, "out of range. HINT: use a value in [%lld, %lld]",
                               (long long)lo, (long long)hi);
    *out = x;
    return MOCO_OK;
}

int32_t moco_cfg_float(const moco_host *h, const char *key, double def, double lo, double hi,
                       double *out, moco_error *err) {
    int32_t line;
    const char *v = lookup(h, key, &line);
    if (!v) {
        *out = def;
        return MOCO_OK;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != 0 || errno == ERANGE || !isfinite(x))
        return moco_cfg_errorf(h, key, err, "not a finite number. HINT: write a number in [%g, %g]",
                               lo, hi);
    if (x < lo || x > hi)
        return moco_cfg_errorf(h, key, err, "out of range. HINT: use a value in [%g, %g]", lo, hi);
    *out = x;
    return MOCO_OK;
}

int32_t moco_cfg_bool(const moco_host *h, const char *key, int32_t def, int32_t *out,
                      moco_error *err) {
    int32_t line;
    const char *v = lookup(h, key, &line);
    if (!v) {
        *out = def;
        return MOCO_OK;
    }
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1")) {
        *out = 1;
        return MOCO_OK;
    }
    if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0")) {
        *out = 0;
        return MOCO_OK;
    }
    return moco_cfg_errorf(h, key, err, "not a boolean. HINT: write true or false");
}

int32_t moco_cfg_str(const moco_host *h, const char *key, const char *def, const char **out,
                     moco_error *err) {
    int32_t line;
    const char *v = lookup(h, key, &line);
    *out = v ? v : def;
    (void)err;
    return MOCO_OK;
}

int32_t moco_cfg_choice(const moco_host *h, const char *key, const char *const *choices,
                        int32_t def, int32_t *out, moco_error *err) {
    int32_t line;
    const char *v = lookup(h, key, &line);
    if (!v) {
        *out = def;
        return MOCO_OK;
    }
    char list[256] = "";
    for (int32_t i = 0; choices[i]; i++) {
        if (!strcmp(v, choices[i])) {
            *out = i;
            return MOCO_OK;
        }
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", choices[i]);
    }
    return moco_cfg_errorf(h, key, err, "unknown choice. HINT: use one of: %s", list);
}
