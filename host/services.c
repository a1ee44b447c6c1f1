/* The moco_host service table (see sdk.h). */
#include "services.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "moco/rng.h"

int32_t host_log_level = MOCO_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_tag(int32_t level) {
    switch (level) {
    case MOCO_LOG_DEBUG: return "debug: ";
    case MOCO_LOG_WARN: return "warning: ";
    case MOCO_LOG_ERROR: return "error: ";
    default: return "";
    }
}

static void emit(int32_t level, const char *label, const char *msg) {
    if (level < host_log_level) return;
    pthread_mutex_lock(&log_lock);
    if (label)
        fprintf(stderr, "moco: [%s] %s%s\n", label, level_tag(level), msg);
    else
        fprintf(stderr, "moco: %s%s\n", level_tag(level), msg);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void host_log(int32_t level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, NULL, buf);
}

static void svc_log(void *c, int32_t level, const char *msg) {
    emit(level, ((section_ctx *)c)->label, msg);
}

static int32_t svc_get(void *c, const char *key, const char **value, int32_t *line) {
    section_ctx *ctx = c;
    ini_entry *e = ini_find(ctx->ini, ctx->section, key);
    if (!e) return 0;
    *value = e->value;
    if (line) *line = e->line;
    return 1;
}

static const char *svc_file(void *c) { return ((section_ctx *)c)->ini->path; }
static const char *svc_section(void *c) { return ((section_ctx *)c)->section; }
static const char *svc_dir(void *c) { return ((section_ctx *)c)->ini->dir; }

static uint64_t hash_str(uint64_t h, const char *s) {
    for (; *s; s++) h = moco_seed_mix(h, (unsigned char)*s);
    return moco_seed_mix(h, 0xFF);
}

static uint64_t svc_rng(void *c, const char *name) {
    section_ctx *ctx = c;
    return hash_str(hash_str(ctx->seed, ctx->section), name);
}

void section_ctx_init(section_ctx *ctx, ini_store *ini, const char *section, const char *label,
                      uint64_t run_seed, int32_t plugin) {
    memset(ctx, 0, sizeof *ctx);
    ctx->host.sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    ctx->host.ctx = ctx;
    ctx->host.log = svc_log;
    ctx->host.config_get = svc_get;
    ctx->host.config_file = svc_file;
    ctx->host.config_section = svc_section;
    ctx->host.rng_stream = svc_rng;
    ctx->host.config_dir = svc_dir;
    ctx->ini = ini;
    ctx->section = section;
    ctx->label = label;
    ctx->seed = run_seed;
    ctx->plugin = plugin;
}

int32_t section_check_unknown(const section_ctx *ctx, moco_error *err) {
    const ini_entry *e = ini_first_unused(ctx->ini, ctx->section);
    if (!e) return MOCO_OK;
    if (ctx->plugin)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "%s:%d: [%s] unknown key '%s' for plugin '%s'. HINT: check its "
                           "spelling, or remove it if it belongs to another plugin; the keys "
                           "'%s' reads are in its documentation (moco-host --check-plugin %s)",
                           ctx->ini->path, e->line, e->section, e->key, ctx->label, ctx->label,
                           ctx->label);
    return moco_errorf(err, MOCO_ERR_INVALID,
                       "%s:%d: [%s] unknown key '%s'. HINT: check its spelling; the keys "
                       "[%s] accepts are listed in configs/cifar.ini and the README",
                       ctx->ini->path, e->line, e->section, e->key, e->section);
}
