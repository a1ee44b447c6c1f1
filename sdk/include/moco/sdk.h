/* moco SDK — version, status codes, errors, host services, plugin entry.
 *
 * Every plugin is a shared object exporting exactly one symbol: a const
 * moco_plugin_entry object named `moco_entry` (write it with MOCO_PLUGIN()).
 * The host reads the entry's sdk_version before calling anything; it refuses
 * a different major, or a newer minor than its own.
 *
 * History: 1.0 first release; 1.1 appended moco_backbone_info.memory_bytes.
 *
 * ABI rules (see docs/plugin-guide.md):
 *  - every struct crossing the boundary starts with a moco_version;
 *  - published structs are append-only: new members go at the end under a
 *    "since 1.N" comment; a NULL function pointer means "not supported";
 *  - enums cross as int32_t; only fixed-width types in ABI structs.
 *
 * Thread tags on each function: [main] only from the host's main thread,
 * [worker] from a libuv pool thread, [any] from any thread concurrently.
 */
#ifndef MOCO_SDK_H
#define MOCO_SDK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOCO_SDK_VERSION_MAJOR 1
#define MOCO_SDK_VERSION_MINOR 1

typedef struct moco_version {
    uint32_t major;
    uint32_t minor;
} moco_version;

#define MOCO_SDK_VERSION_INIT { MOCO_SDK_VERSION_MAJOR, MOCO_SDK_VERSION_MINOR }

/* Status codes: 0 is success, everything else fills a moco_error. */
enum {
    MOCO_OK = 0,
    MOCO_ERR_INVALID = 1,     /* bad configuration value or argument */
    MOCO_ERR_IO = 2,          /* file missing, short, unreadable, unwritable */
    MOCO_ERR_FORMAT = 3,      /* file contents inconsistent */
    MOCO_ERR_NOMEM = 4,
    MOCO_ERR_UNSUPPORTED = 5,
    MOCO_ERR_NUMERIC = 6      /* NaN / Inf */
};

#define MOCO_ERROR_LEN 512
/* A fixed-size error message; each layer may prefix context. */
typedef struct moco_error {
    char msg[MOCO_ERROR_LEN];
} moco_error;

/* Log levels. */
enum { MOCO_LOG_DEBUG = 0, MOCO_LOG_INFO = 1, MOCO_LOG_WARN = 2, MOCO_LOG_ERROR = 3 };

/* Services the host hands each plugin instance: a const vtable plus an
 * opaque context. Plugins never call host symbols directly.
 * The pointer is valid until the plugin instance is destroyed. */
typedef struct moco_host {
    moco_version sdk_version;
    void *ctx;                               /* opaque, pass back unchanged */

    /* [any] One log line (no trailing newline needed), prefixed by the host
     * with the plugin's name. */
    void (*log)(void *ctx, int32_t level, const char *msg);

    /* [main] Look up `key` in the plugin's own INI section. Returns 1 and
     * sets *value (valid until destroy) and *line when present, 0 when absent.
     * A key that is looked up is marked as known: after create() the host
     * refuses the section's first key nobody looked up, as unknown. */
    int32_t (*config_get)(void *ctx, const char *key, const char **value, int32_t *line);

    /* [any] Path of the INI file and the plugin's section name, for messages. */
    const char *(*config_file)(void *ctx);
    const char *(*config_section)(void *ctx);

    /* [any] Seed of a named, reproducible RNG stream: a pure function of the
     * run's seed and the name. Use with moco_rng_seed(). */
    uint64_t (*rng_stream)(void *ctx, const char *name);

    /* [any] Directory for relative paths in the config (the INI's folder). */
    const char *(*config_dir)(void *ctx);
} moco_host;

/* Errors from a plugin's create(): when the message does not start with the
 * config file's path (as moco_cfg_* messages do), the host prefixes it with
 * "FILE:LINE: [section] plugin-name: ", so do not repeat the plugin's name. */

/* Plugin kinds. */
enum {
    MOCO_KIND_DATASET = 1,
    MOCO_KIND_AUGMENT = 2,
    MOCO_KIND_BACKBONE = 3,
    MOCO_KIND_DICTIONARY = 4,
    MOCO_KIND_OBJECTIVE = 5
};

/* The one exported symbol of a plugin. `vtable` points to the kind's const
 * struct (moco_dataset_api, ...) which itself starts with a moco_version. */
typedef struct moco_plugin_entry {
    moco_version sdk_version;
    int32_t kind;
    int32_t reserved0;
    const char *name;        /* short name used in INI files, e.g. "resnet18" */
    const char *version;     /* the plugin's own version, e.g. "1.0.0" */
    const char *description; /* one line */
    const void *api;         /* kind-specific vtable */
} moco_plugin_entry;

#define MOCO_PLUGIN_ENTRY_SYMBOL "moco_entry"

#if defined(__GNUC__)
#define MOCO_EXPORT __attribute__((visibility("default")))
#else
#define MOCO_EXPORT
#endif

/* Writes the plugin's entry. Build plugins with -fvisibility=hidden so this
 * is the only exported symbol. */
#define MOCO_PLUGIN(KIND, NAME, VERSION, DESCRIPTION, API_PTR)                \
    MOCO_EXPORT extern const moco_plugin_entry moco_entry;                    \
    MOCO_EXPORT const moco_plugin_entry moco_entry = {                        \
        MOCO_SDK_VERSION_INIT, (KIND), 0, (NAME), (VERSION), (DESCRIPTION),   \
        (API_PTR)}

/* ---- SDK library (libmoco_sdk) helpers ---------------------------------- */

/* Version of the SDK library actually loaded. */
moco_version moco_sdk_version(void);
const char *moco_kind_name(int32_t kind);

/* printf into err (truncating). Returns `status` so callers can
 * `return moco_errorf(err, MOCO_ERR_IO, "...")`. err may be NULL. */
int32_t moco_errorf(moco_error *err, int32_t status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Prefix existing message with context: "ctx: old". */
int32_t moco_error_prefix(moco_error *err, int32_t status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Programmer errors: abort with file:line. Never for user input. */
void moco_assert_fail(const char *expr, const char *file, int line);
#define MOCO_ASSERT(x) ((x) ? (void)0 : moco_assert_fail(#x, __FILE__, __LINE__))

/* Typed config readers on top of host->config_get. On a bad value they fill
 * err with "FILE:LINE: [section] key = 'v': <why>. HINT: <what to do>" and
 * return MOCO_ERR_INVALID. When the key is absent *out = default. */
int32_t moco_cfg_int(const moco_host *h, const char *key, int64_t def, int64_t lo,
                     int64_t hi, int64_t *out, moco_error *err);
int32_t moco_cfg_float(const moco_host *h, const char *key, double def, double lo,
                       double hi, double *out, moco_error *err);
int32_t moco_cfg_bool(const moco_host *h, const char *key, int32_t def, int32_t *out,
                      moco_error *err);
/* *out points into host storage (valid until destroy) or to def. */
int32_t moco_cfg_str(const moco_host *h, const char *key, const char *def,
                     const char **out, moco_error *err);
/* One of a list of choices (NULL-terminated); *out is the index. */
int32_t moco_cfg_choice(const moco_host *h, const char *key, const char *const *choices,
                        int32_t def, int32_t *out, moco_error *err);
/* Prefix an error with the file:line of `key` (or the section if absent). */
int32_t moco_cfg_errorf(const moco_host *h, const char *key, moco_error *err,
                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void moco_logf(const moco_host *h, int32_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* MOCO_SDK_H */
