/* The host's INI store: every section/key/value with its line number, read
 * with inih. It only stores; each owner (host sections, each plugin) reads
 * and validates its own keys, and unread keys are reported as unknown. */
#ifndef MOCO_HOST_INI_H
#define MOCO_HOST_INI_H

#include <stddef.h>
#include <stdint.h>

#include "moco/sdk.h"

typedef struct ini_entry {
    char *section, *key, *value;
    int32_t line;
    int32_t used;   /* set when an owner looked the key up */
} ini_entry;

typedef struct ini_section {
    char *name;
    int32_t line;
} ini_section;

typedef struct ini_store {
    char *path;
    char *dir;          /* folder of the file, for relative paths */
    char *text;         /* the whole file, kept for checkpoints */
    ini_entry *entries;
    int32_t count, cap;
    ini_section *sections;
    int32_t nsections, secap;
} ini_store;

/* Parse `path`. On error fills err with "path:line: what. HINT: ..." */
int32_t ini_load(ini_store *s, const char *path, moco_error *err);
/* Parse `len` bytes of INI text; `path` is used for messages and the
 * config directory. */
int32_t ini_load_text(ini_store *s, const char *path, const char *text, size_t len,
                      moco_error *err);
void ini_free(ini_store *s);
/* Returns the entry (and marks it used) or NULL. */
ini_entry *ini_find(ini_store *s, const char *section, const char *key);
int32_t ini_has_section(const ini_store *s, const char *section);
int32_t ini_section_line(const ini_store *s, const char *section);
/* First key of `section` (or of any section when NULL) nobody read. */
const ini_entry *ini_first_unused(const ini_store *s, const char *section);

#endif
