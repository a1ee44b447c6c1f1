/* The moco_host service table each plugin instance (and each host section)
 * receives: logging, its INI section, named RNG streams. */
#ifndef MOCO_HOST_SERVICES_H
#define MOCO_HOST_SERVICES_H

#include "inistore.h"
#include "moco/sdk.h"

typedef struct section_ctx {
    moco_host host;       /* must stay first: &ctx->host is what plugins get */
    ini_store *ini;
    const char *section;
    const char *label;    /* prefix for log lines, e.g. the plugin name */
    uint64_t seed;
    int32_t plugin;       /* a plugin's section (else one of the host's) */
} section_ctx;

/* ctx must outlive every plugin instance given &ctx->host. */
void section_ctx_init(section_ctx *ctx, ini_store *ini, const char *section,
                      const char *label, uint64_t run_seed, int32_t plugin);

/* Report the first key of the section nobody read as unknown. */
int32_t section_check_unknown(const section_ctx *ctx, moco_error *err);

/* Host-side logging: "moco: msg" on stderr, one line, thread-safe. */
void host_log(int32_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
extern int32_t host_log_level;

#endif
