/* Tiny runs for host tests: synthetic CIFAR files (20 records per file) and
 * an INI with a reduced model (ResNet-18 at width 4, imagenet stem, 16x16
 * views, K 32, dim 16, batch 8), written from a base table plus overrides
 * "section.key=value;section.key=value" (value "-" removes the key). */
#ifndef MOCO_TINY_RUN_H
#define MOCO_TINY_RUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synth_cifar.h"
#include "tmpdir.h"

static const char *const TINY_BASE[][3] = {
    {"run", "dir", "@TMP@/run"},       {"run", "seed", "3"},
    {"run", "log_every", "1000"},      {"dataset", "plugin", "cifar10"},
    {"dataset", "path", "@TMP@/data"}, {"dataset", "records_per_file", "20"},
    {"augment", "plugin", "mocoaug"},  {"augment", "size", "16"},
    {"backbone", "plugin", "resnet18"}, {"backbone", "stem", "imagenet"},
    {"backbone", "width", "4"},        {"dictionary", "plugin", "queue"},
    {"dictionary", "size", "32"},      {"objective", "plugin", "infonce"},
    {"moco", "dim", "16"},             {"train", "epochs", "1"},
    {"train", "batch", "8"},           {"train", "steps_per_epoch", "3"},
    {"eval", "knn_k", "10"},           {"eval", "linear_epochs", "5"},
};

/* A fresh temp dir with data/ filled (removed at exit, tmpdir.h); returns
 * a static path. */
static inline const char *tiny_tmpdir(void) {
    const char *dir = mt_tmpdir("moco-test");
    if (!dir) return NULL;
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    if (synth_cifar_write(data, 20, 11)) return NULL;
    return dir;
}

static inline void tiny_subst(char *out, size_t n, const char *v, const char *tmp) {
    const char *at = strstr(v, "@TMP@");
    if (at)
        snprintf(out, n, "%.*s%s%s", (int)(at - v), v, tmp, at + 5);
    else
        snprintf(out, n, "%s", v);
}

/* Writes <tmp>/<name>.ini and returns its path (static buffer). */
static inline const char *tiny_ini(const char *tmp, const char *name, const char *overrides) {
    static char path[512];
    static const char *const sections[] = {"run", "dataset", "augment", "backbone",
                                           "dictionary", "objective", "moco", "train", "eval"};
    snprintf(path, sizeof path, "%s/%s.ini", tmp, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    char ov[2048];
    snprintf(ov, sizeof ov, "%s", overrides ? overrides : "");
    for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
        fprintf(f, "[%s]\n", sections[s]);
        for (size_t i = 0; i < sizeof TINY_BASE / sizeof *TINY_BASE; i++) {
            if (strcmp(TINY_BASE[i][0], sections[s])) continue;
            char want[128];
            snprintf(want, sizeof want, "%s.%s=", TINY_BASE[i][0], TINY_BASE[i][1]);
            const char *hit = strstr(ov, want);
            char val[512];
            if (hit) {
                const char *v = hit + strlen(want);
                size_t l = strcspn(v, ";");
                snprintf(val, sizeof val, "%.*s", (int)l, v);
                if (!strcmp(val, "-")) continue;
            } else {
                tiny_subst(val, sizeof val, TINY_BASE[i][2], tmp);
            }
            fprintf(f, "%s = %s\n", TINY_BASE[i][1], val);
        }
        /* overrides naming keys not in the base table are appended */
        char copy[2048];
        snprintf(copy, sizeof copy, "%s", ov);
        for (char *save = NULL, *tok = strtok_r(copy, ";", &save); tok;
             tok = strtok_r(NULL, ";", &save)) {
            char *dot = strchr(tok, '.'), *eq = strchr(tok, '=');
            if (!dot || !eq || (size_t)(dot - tok) != strlen(sections[s]) ||
                strncmp(tok, sections[s], (size_t)(dot - tok)))
                continue;
            int in_base = 0;
            for (size_t i = 0; i < sizeof TINY_BASE / sizeof *TINY_BASE; i++)
                in_base |= !strcmp(TINY_BASE[i][0], sections[s]) &&
                           strlen(TINY_BASE[i][1]) == (size_t)(eq - dot - 1) &&
                           !strncmp(TINY_BASE[i][1], dot + 1, (size_t)(eq - dot - 1));
            if (!in_base) fprintf(f, "%.*s = %s\n", (int)(eq - dot - 1), dot + 1, eq + 1);
        }
    }
    fclose(f);
    return path;
}

#endif
