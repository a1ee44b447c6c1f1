/* Machine-readable run log: one JSON object per line in <run dir>/metrics.jsonl,
 * appended (a resumed run continues the same file). */
#ifndef MOCO_HOST_METRICS_H
#define MOCO_HOST_METRICS_H

#include <stdio.h>

typedef struct metrics {
    FILE *f;
} metrics;

/* Opens <dir>/metrics.jsonl for appending. Returns 0 or errno. */
int metrics_open(metrics *m, const char *dir);
/* Write one line: `fields` is the body of a JSON object without braces,
 * e.g. "\"event\":\"step\",\"loss\":6.1". Flushed at once. */
void metrics_write(metrics *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void metrics_close(metrics *m);

#endif
