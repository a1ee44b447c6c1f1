/* Temporary directories for tests: mt_tmpdir("moco-test") makes
 * /tmp/moco-test-XXXXXX and removes it, with everything in it, when the
 * process exits (atexit), so test runs leave nothing behind in /tmp. Set
 * MOCO_TEST_KEEP_TMP=1 to keep them for a look after a failure. */
#ifndef MOCO_TEST_TMPDIR_H
#define MOCO_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MT_TMPDIR_MAX 16

static char mt_tmpdirs[MT_TMPDIR_MAX][128];
static int mt_ntmpdirs;

/* rm -r path (symbolic links removed, not followed) */
static void mt_rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[1024];
                if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
                    mt_rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
        return;
    }
    unlink(path);
}

static void mt_tmpdirs_remove(void) {
    const char *keep = getenv("MOCO_TEST_KEEP_TMP");
    for (int i = 0; i < mt_ntmpdirs; i++) {
        if (keep && *keep && strcmp(keep, "0")) {
            fprintf(stderr, "kept %s (MOCO_TEST_KEEP_TMP)\n", mt_tmpdirs[i]);
            continue;
        }
        mt_rm_tree(mt_tmpdirs[i]);
    }
}

/* A new directory /tmp/<prefix>-XXXXXX (a static buffer, valid until exit),
 * or NULL. */
static inline const char *mt_tmpdir(const char *prefix) {
    if (mt_ntmpdirs == MT_TMPDIR_MAX) return NULL;
    char *dir = mt_tmpdirs[mt_ntmpdirs];
    snprintf(dir, sizeof mt_tmpdirs[0], "/tmp/%s-XXXXXX", prefix);
    if (!mkdtemp(dir)) return NULL;
    if (mt_ntmpdirs++ == 0) atexit(mt_tmpdirs_remove);
    return dir;
}

#endif
