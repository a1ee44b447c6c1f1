#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>

int metrics_open(metrics *m, const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    m->f = fopen(path, "a");
    return m->f ? 0 : errno;
}

void metrics_write(metrics *m, const char *fmt, ...) {
    if (!m->f) return;
    fprintf(m->f, "{\"time\":%lld,", (long long)time(NULL));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(m->f, fmt, ap);
    va_end(ap);
    fputs("}\n", m->f);
    fflush(m->f);
}

void metrics_close(metrics *m) {
    if (m->f) fclose(m->f);
    m->f = NULL;
}
