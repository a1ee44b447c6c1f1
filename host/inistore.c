/* INI store on top of inih. inih (as Debian builds it) does not pass line
 * numbers to the handler, so the reader callback counts lines; it also
 * catches what inih would accept silently: over-long lines, repeated
 * sections, NUL bytes. */
#include "inistore.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    ini_store *s;
    const char *p;     /* cursor in s->text */
    int32_t line;
    int32_t bad_line;  /* first line with a reader-level error */
    char why[240];
    char section[128];
} reader;

static char *xstrdup(const char *a) {
    size_t n = strlen(a) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, a, n);
    return r;
}

static void reader_fail(reader *r, const char *why) {
    if (!r->bad_line) {
        r->bad_line = r->line;
        snprintf(r->why, sizeof r->why, "%s", why);
    }
}

/* Track [section] headers to refuse repeats. */
static void note_section(reader *r, const char *line, size_t len) {
    const char *a = line;
    while (a < line + len && (*a == ' ' || *a == '\t')) a++;
    if (a >= line + len || *a != '[') return;
    const char *b = memchr(a, ']', (size_t)(line + len - a));
    if (!b) return;
    size_t n = (size_t)(b - a - 1);
    if (n >= sizeof r->section) n = sizeof r->section - 1;
    memcpy(r->section, a + 1, n);
    r->section[n] = 0;
    ini_store *s = r->s;
    for (int32_t i = 0; i < s->nsections; i++)
        if (!strcmp(s->sections[i].name, r->section)) {
            char why[200];
            snprintf(why, sizeof why, "section [%s] appears twice (first at line %d)", r->section,
                     s->sections[i].line);
            reader_fail(r, why);
            return;
        }
    if (s->nsections == s->secap) {
        s->secap = s->secap ? 2 * s->secap : 16;
        s->sections = realloc(s->sections, (size_t)s->secap * sizeof *s->sections);
    }
    s->sections[s->nsections].name = xstrdup(r->section);
    s->sections[s->nsections].line = r->line;
    s->nsections++;
}

static char *read_line(char *str, int num, void *stream) {
    reader *r = stream;
    if (!*r->p) return NULL;
    const char *nl = strchr(r->p, '\n');
    size_t len = nl ? (size_t)(nl - r->p) + 1 : strlen(r->p);
    r->line++;
    if (len >= (size_t)num) {
        char why[96];
        snprintf(why, sizeof why, "line longer than %d characters", num - 2);
        reader_fail(r, why);
        len = (size_t)num - 1;
        memcpy(str, r->p, len);
        str[len] = 0;
        r->p = nl ? nl + 1 : r->p + strlen(r->p);
        str[0] = ';'; /* hand inih a comment; the error is already recorded */
        return str;
    }
    memcpy(str, r->p, len);
    str[len] = 0;
    note_section(r, str, len);
    r->p += len;
    return str;
}

static int on_value(void *user, const char *section, const char *name, const char *value) {
    reader *r = user;
    ini_store *s = r->s;
    for (int32_t i = 0; i < s->count; i++)
        if (!strcmp(s->entries[i].section, section) && !strcmp(s->entries[i].key, name)) {
            char why[200];
            snprintf(why, sizeof why, "[%s] %s is set twice (first at line %d)", section, name,
                     s->entries[i].line);
            reader_fail(r, why);
            return 1;
        }
    if (!*section) {
        reader_fail(r, "key outside any [section]");
        return 1;
    }
    if (s->count == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->entries = realloc(s->entries, (size_t)s->cap * sizeof *s->entries);
    }
    ini_entry *e = &s->entries[s->count++];
    e->section = xstrdup(section);
    e->key = xstrdup(name);
    e->value = xstrdup(value);
    e->line = r->line;
    e->used = 0;
    return 1;
}

/* NUL bytes would end inih's lines silently: refuse them with their line. */
static int32_t check_nul(const char *path, const char *buf, size_t n, moco_error *err) {
    const char *z = memchr(buf, 0, n);
    if (!z) return MOCO_OK;
    int line = 1;
    for (const char *p = buf; p < z; p++) line += *p == '\n';
    return moco_errorf(err, MOCO_ERR_FORMAT,
                       "%s:%d: NUL byte in the config. HINT: save it as plain text", path, line);
}

static int32_t read_file(const char *path, char **out, size_t *len, moco_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return moco_errorf(err, MOCO_ERR_IO, "%s: cannot open config: %s. HINT: check the path",
                           path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
        if (n > (1u << 20)) {
            fclose(f);
            free(buf);
            return moco_errorf(err, MOCO_ERR_FORMAT,
                               "%s: config larger than 1 MiB. HINT: is this an INI file?", path);
        }
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return MOCO_OK;
}

static int32_t parse_text(ini_store *s, const char *path, moco_error *err) {
    reader r = {.s = s, .p = s->text};
    int rc = ini_parse_stream(read_line, &r, on_value, &r);
    if (r.bad_line && (rc <= 0 || r.bad_line <= rc))
        return moco_errorf(err, MOCO_ERR_INVALID, "%s:%d: %s. HINT: fix or remove this line", path,
                           r.bad_line, r.why);
    if (rc > 0)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "%s:%d: not a [section] or key = value line. HINT: write key = value, "
                           "or start the line with ; to comment it out",
                           path, rc);
    if (rc < 0)
        return moco_errorf(err, MOCO_ERR_NOMEM, "%s: out of memory parsing the config", path);
    return MOCO_OK;
}

static void init_store(ini_store *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = xstrdup(path);
    char *tmp = xstrdup(path);
    s->dir = xstrdup(dirname(tmp));
    free(tmp);
}

int32_t ini_load(ini_store *s, const char *path, moco_error *err) {
    init_store(s, path);
    size_t n = 0;
    int32_t st = read_file(path, &s->text, &n, err);
    if (!st) st = check_nul(path, s->text, n, err);
    return st ? st : parse_text(s, path, err);
}

int32_t ini_load_text(ini_store *s, const char *path, const char *text, size_t len,
                      moco_error *err) {
    init_store(s, path);
    int32_t st = check_nul(path, text, len, err);
    if (st) return st;
    s->text = malloc(len + 1);
    if (!s->text) return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory");
    memcpy(s->text, text, len);
    s->text[len] = 0;
    return parse_text(s, path, err);
}

void ini_free(ini_store *s) {
    for (int32_t i = 0; i < s->count; i++) {
        free(s->entries[i].section);
        free(s->entries[i].key);
        free(s->entries[i].value);
    }
    for (int32_t i = 0; i < s->nsections; i++) free(s->sections[i].name);
    free(s->entries);
    free(s->sections);
    free(s->path);
    free(s->dir);
    free(s->text);
    memset(s, 0, sizeof *s);
}

ini_entry *ini_find(ini_store *s, const char *section, const char *key) {
    for (int32_t i = 0; i < s->count; i++)
        if (!strcmp(s->entries[i].section, section) && !strcmp(s->entries[i].key, key)) {
            s->entries[i].used = 1;
            return &s->entries[i];
        }
    return NULL;
}

int32_t ini_has_section(const ini_store *s, const char *section) {
    return ini_section_line(s, section) > 0;
}

int32_t ini_section_line(const ini_store *s, const char *section) {
    for (int32_t i = 0; i < s->nsections; i++)
        if (!strcmp(s->sections[i].name, section)) return s->sections[i].line;
    return 0;
}

const ini_entry *ini_first_unused(const ini_store *s, const char *section) {
    for (int32_t i = 0; i < s->count; i++)
        if (!s->entries[i].used && (!section || !strcmp(s->entries[i].section, section)))
            return &s->entries[i];
    return NULL;
}
