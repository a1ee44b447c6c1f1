/* Finding, loading and validating plugins (.so with one const entry). */
#ifndef MOCO_HOST_PLUGIN_H
#define MOCO_HOST_PLUGIN_H

#include <stdio.h>

#include "moco/moco.h"

#define MOCO_MAX_PLUGIN_DIRS 8

typedef struct plugin_path {
    const char *dirs[MOCO_MAX_PLUGIN_DIRS];
    int32_t count;
} plugin_path;

typedef struct loaded_plugin {
    void *handle;
    const moco_plugin_entry *entry;
    char path[1024];
} loaded_plugin;

/* Search order: --plugin-dir flags, $MOCO_PLUGIN_PATH (colon-separated),
 * the build tree's plugin folder, the install folder. */
void plugin_path_init(plugin_path *p, const char *const *cli_dirs, int32_t n_cli);

/* Load by name (searched as <dir>/<name>.so) or by explicit path (contains
 * '/' or ends in .so). Checks the entry: SDK version, kind (expect_kind or 0
 * for any), non-NULL required functions. */
int32_t plugin_load(loaded_plugin *out, const plugin_path *p, const char *name_or_path,
                    int32_t expect_kind, moco_error *err);
/* Validate an entry (also used by --check-plugin and tests). */
int32_t plugin_validate(const moco_plugin_entry *e, const char *path, int32_t expect_kind,
                        moco_error *err);
void plugin_unload(loaded_plugin *lp);

/* Print every plugin found on the path: name, kind, version, SDK, file. */
void plugin_list(const plugin_path *p, FILE *out);

#endif
