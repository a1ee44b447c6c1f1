/* Plugin loading. The host reads the entry's version before touching any
 * function pointer, refuses a different SDK major or a newer minor, and
 * checks every required function is present, so a bad plugin is one clear
 * line and never a crash. */
/* realpath() */
#define _XOPEN_SOURCE 700
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MOCO_BUILD_PLUGIN_DIR
#define MOCO_BUILD_PLUGIN_DIR ""
#endif
#ifndef MOCO_INSTALL_PLUGIN_DIR
#define MOCO_INSTALL_PLUGIN_DIR ""
#endif

static char env_path_copy[4096];
static char exe_relative_dir[4096];

/* <dir of the running executable>/<MOCO_PLUGIN_DIR_FROM_BIN>, or "" */
static const char *installed_plugin_dir(void) {
#ifdef MOCO_PLUGIN_DIR_FROM_BIN
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return "";
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return "";
    *slash = 0;
    snprintf(exe_relative_dir, sizeof exe_relative_dir, "%s/%s", exe, MOCO_PLUGIN_DIR_FROM_BIN);
    return exe_relative_dir;
#else
    return "";
#endif
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Add a directory once (same real path = same directory). */
static void add_dir(plugin_path *p, const char *dir) {
    if (!*dir || p->count >= MOCO_MAX_PLUGIN_DIRS) return;
    char a[4096], b[4096];
    for (int32_t i = 0; i < p->count; i++)
        if (realpath(dir, a) && realpath(p->dirs[i], b) && !strcmp(a, b)) return;
    p->dirs[p->count++] = dir;
}

void plugin_path_init(plugin_path *p, const char *const *cli_dirs, int32_t n_cli) {
    p->count = 0;
    for (int32_t i = 0; i < n_cli && p->count < MOCO_MAX_PLUGIN_DIRS; i++)
        p->dirs[p->count++] = cli_dirs[i];
    const char *env = getenv("MOCO_PLUGIN_PATH");
    if (env && *env) {
        snprintf(env_path_copy, sizeof env_path_copy, "%s", env);
        for (char *save = NULL, *tok = strtok_r(env_path_copy, ":", &save); tok;
             tok = strtok_r(NULL, ":", &save))
            if (p->count < MOCO_MAX_PLUGIN_DIRS) p->dirs[p->count++] = tok;
    }
    /* An installed host uses the plugins installed beside it; a host in the
     * build tree (no such folder) uses the build tree's. */
    const char *rel = installed_plugin_dir();
    if (*rel && is_dir(rel)) {
        add_dir(p, rel);
    } else {
        add_dir(p, MOCO_BUILD_PLUGIN_DIR);
        if (is_dir(MOCO_INSTALL_PLUGIN_DIR)) add_dir(p, MOCO_INSTALL_PLUGIN_DIR);
    }
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The functions each kind must provide. Checked through the kind's struct
 * so a NULL required pointer is refused at load time, not at first call. */
static const char *missing_function(const moco_plugin_entry *e) {
    const void *a = e->api;
    switch (e->kind) {
    case MOCO_KIND_DATASET: {
        const moco_dataset_api *x = a;
        if (!x->create) return "create";
        if (!x->destroy) return "destroy";
        if (!x->info) return "info";
        if (!x->get) return "get";
        return NULL;
    }
    case MOCO_KIND_AUGMENT: {
        const moco_augment_api *x = a;
        if (!x->create) return "create";
        if (!x->destroy) return "destroy";
        if (!x->output_shape) return "output_shape";
        if (!x->apply) return "apply";
        if (!x->apply_eval) return "apply_eval";
        return NULL;
    }
    case MOCO_KIND_BACKBONE: {
        const moco_backbone_api *x = a;
        if (!x->create) return "create";
        if (!x->destroy) return "destroy";
        if (!x->info) return "info";
        if (!x->tensor) return "tensor";
        if (!x->forward) return "forward";
        if (!x->backward) return "backward";
        return NULL;
    }
    case MOCO_KIND_DICTIONARY: {
        const moco_dictionary_api *x = a;
        if (!x->create) return "create";
        if (!x->destroy) return "destroy";
        if (!x->negatives) return "negatives";
        if (!x->enqueue) return "enqueue";
        if (!x->num_state) return "num_state";
        if (!x->state) return "state";
        return NULL;
    }
    case MOCO_KIND_OBJECTIVE: {
        const moco_objective_api *x = a;
        if (!x->create) return "create";
        if (!x->destroy) return "destroy";
        if (!x->loss) return "loss";
        return NULL;
    }
    }
    return NULL;
}

static int32_t check_version(moco_version v, const char *path, const char *what,
                             moco_error *err) {
    if (v.major != MOCO_SDK_VERSION_MAJOR || v.minor > MOCO_SDK_VERSION_MINOR)
        return moco_errorf(err, MOCO_ERR_UNSUPPORTED,
                           "%s: %s built for SDK %u.%u, this host has SDK %d.%d. HINT: rebuild "
                           "the plugin against SDK %d.x (minor <= %d)",
                           path, what, v.major, v.minor, MOCO_SDK_VERSION_MAJOR,
                           MOCO_SDK_VERSION_MINOR, MOCO_SDK_VERSION_MAJOR,
                           MOCO_SDK_VERSION_MINOR);
    return MOCO_OK;
}

int32_t plugin_validate(const moco_plugin_entry *e, const char *path, int32_t expect_kind,
                        moco_error *err) {
    int32_t st = check_version(e->sdk_version, path, "plugin", err);
    if (st) return st;
    if (e->kind < MOCO_KIND_DATASET || e->kind > MOCO_KIND_OBJECTIVE)
        return moco_errorf(err, MOCO_ERR_FORMAT, "%s: unknown plugin kind %d. HINT: use one of "
                           "the MOCO_KIND_* values", path, (int)e->kind);
    if (!e->name || !*e->name || !e->version || !e->api)
        return moco_errorf(err, MOCO_ERR_FORMAT,
                           "%s: plugin entry lacks a name, version or api table. HINT: declare "
                           "it with MOCO_PLUGIN()", path);
    st = check_version(*(const moco_version *)e->api, path, "api table", err);
    if (st) return st;
    const char *miss = missing_function(e);
    if (miss)
        return moco_errorf(err, MOCO_ERR_FORMAT,
                           "%s: %s plugin '%s' has no '%s' function (NULL). HINT: implement it",
                           path, moco_kind_name(e->kind), e->name, miss);
    if (expect_kind && e->kind != expect_kind)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "%s: plugin '%s' is of kind %s, this section needs kind %s. HINT: "
                           "use a plugin of kind %s (moco-host --list-plugins)",
                           path, e->name, moco_kind_name(e->kind), moco_kind_name(expect_kind),
                           moco_kind_name(expect_kind));
    return MOCO_OK;
}

static int32_t open_file(loaded_plugin *out, const char *path, int32_t expect_kind,
                         moco_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    if (!is_file(path))
        return moco_errorf(err, MOCO_ERR_IO, "%s: no such plugin file. HINT: check the path",
                           path);
    /* dlopen() searches the library path for a name without '/': give it
     * the file we checked. */
    char abs[4096];
    void *h = dlopen(realpath(path, abs) ? abs : path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return moco_errorf(err, MOCO_ERR_FORMAT, "%s: cannot load: %s. HINT: is it a moco "
                           "plugin built for this machine?", path, dlerror());
    const moco_plugin_entry *e = dlsym(h, MOCO_PLUGIN_ENTRY_SYMBOL);
    if (!e) {
        dlclose(h);
        return moco_errorf(err, MOCO_ERR_FORMAT,
                           "%s: not a moco plugin (no '%s' symbol). HINT: declare the entry "
                           "with MOCO_PLUGIN() from moco/sdk.h",
                           path, MOCO_PLUGIN_ENTRY_SYMBOL);
    }
    int32_t st = plugin_validate(e, path, expect_kind, err);
    if (st) {
        dlclose(h);
        return st;
    }
    out->handle = h;
    out->entry = e;
    return MOCO_OK;
}

int32_t plugin_load(loaded_plugin *out, const plugin_path *p, const char *name,
                    int32_t expect_kind, moco_error *err) {
    size_t n = strlen(name);
    if (strchr(name, '/') || (n > 3 && !strcmp(name + n - 3, ".so")))
        return open_file(out, name, expect_kind, err);
    char tried[600] = "";
    for (int32_t i = 0; i < p->count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.so", p->dirs[i], name);
        if (is_file(path)) return open_file(out, path, expect_kind, err);
        size_t t = strlen(tried);
        snprintf(tried + t, sizeof tried - t, "%s%s", t ? ":" : "", p->dirs[i]);
    }
    return moco_errorf(err, MOCO_ERR_IO,
                       "plugin '%s' not found in %s. HINT: check the name with moco-host "
                       "--list-plugins, or add its folder with --plugin-dir / MOCO_PLUGIN_PATH",
                       name, *tried ? tried : "(empty search path)");
}

void plugin_unload(loaded_plugin *lp) {
    if (lp->handle) dlclose(lp->handle);
    memset(lp, 0, sizeof *lp);
}

void plugin_list(const plugin_path *p, FILE *out) {
    fprintf(out, "%-12s %-11s %-9s %-5s %s\n", "NAME", "KIND", "VERSION", "SDK", "FILE");
    for (int32_t i = 0; i < p->count; i++) {
        DIR *d = opendir(p->dirs[i]);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t n = strlen(de->d_name);
            if (n < 4 || strcmp(de->d_name + n - 3, ".so")) continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", p->dirs[i], de->d_name);
            loaded_plugin lp;
            moco_error err;
            if (open_file(&lp, path, 0, &err)) {
                fprintf(out, "%-12s %-11s %-9s %-5s %s (unusable: %s)\n", "-", "-", "-", "-",
                        path, err.msg);
                continue;
            }
            const moco_plugin_entry *e = lp.entry;
            fprintf(out, "%-12s %-11s %-9s %u.%-3u %s\n", e->name, moco_kind_name(e->kind),
                    e->version, e->sdk_version.major, e->sdk_version.minor, path);
            plugin_unload(&lp);
        }
        closedir(d);
    }
}
