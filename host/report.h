/* A self-contained HTML report of a run (no network, no JavaScript): SVG
 * plots of loss, learning rate, images/s and kNN / linear top-1 against the
 * global step, drawn from <run dir>/metrics.jsonl. */
#ifndef MOCO_HOST_REPORT_H
#define MOCO_HOST_REPORT_H

#include "moco/sdk.h"

/* [main] (Re)write <dir>/report.html atomically from <dir>/metrics.jsonl. */
int32_t report_write(const char *dir, const char *title, moco_error *err);

#endif
