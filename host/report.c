/* report.html from metrics.jsonl (see report.h). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct series {
    double *x, *y;
    int n, cap;
} series;

static void add(series *s, double x, double y) {
    /* A resumed run may redo steps: the later value for a step wins. */
    for (int i = s->n - 1; i >= 0 && i >= s->n - 4096; i--)
        if (s->x[i] == x) {
            s->y[i] = y;
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->x = realloc(s->x, (size_t)s->cap * sizeof(double));
        s->y = realloc(s->y, (size_t)s->cap * sizeof(double));
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

static int field(const char *line, const char *key, double *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat) && isfinite(*out);
}

static int cmp_x(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return (x > y) - (x < y);
}

/* Sort points by x (steps can arrive out of order after a resume). */
static void sort_series(series *s) {
    double *pairs = malloc((size_t)s->n * 2 * sizeof(double));
    if (!pairs) return;
    for (int i = 0; i < s->n; i++) {
        pairs[2 * i] = s->x[i];
        pairs[2 * i + 1] = s->y[i];
    }
    qsort(pairs, (size_t)s->n, 2 * sizeof(double), cmp_x);
    for (int i = 0; i < s->n; i++) {
        s->x[i] = pairs[2 * i];
        s->y[i] = pairs[2 * i + 1];
    }
    free(pairs);
}

/* All charts share the step axis [0, x_max] so they line up. */
static void chart(FILE *f, double x_max, const char *title, const char *unit, series *a,
                  const char *a_name, series *b, const char *b_name) {
    const double W = 600, H = 240, L = 64, R = 16, T = 28, B = 36;
    double x0 = 0, x1 = x_max, y0 = INFINITY, y1 = -INFINITY;
    series *all[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (int i = 0; all[k] && i < all[k]->n; i++) {
            y0 = fmin(y0, all[k]->y[i]);
            y1 = fmax(y1, all[k]->y[i]);
        }
    fprintf(f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n"
            "<text x=\"%.0f\" y=\"18\" class=\"t\">%s</text>\n", W, H, W, H, title, L, title);
    if (!isfinite(y0)) {
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"n\">no data yet</text></svg></figure>\n",
                L, H / 2);
        return;
    }
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) {
        y1 += fabs(y1) * 0.05 + 1e-9;
        y0 -= fabs(y0) * 0.05 + 1e-9;
    }
    double pw = W - L - R, ph = H - T - B;
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n",
            L, T, pw, ph);
    for (int t = 0; t <= 4; t++) {
        double yv = y0 + (y1 - y0) * t / 4, yp = T + ph - ph * t / 4;
        double xv = x0 + (x1 - x0) * t / 4, xp = L + pw * t / 4;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" class=\"ya\">%.4g%s</text>"
                "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n",
                L - 6, yp + 4, yv, unit, L, L + pw, yp, yp);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"xa\">%.0f</text>\n", xp, H - B + 16, xv);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"xa\">step</text>\n", L + pw / 2, H - 4);
    const char *cls[2] = {"a", "b"};
    const char *names[2] = {a_name, b_name};
    for (int k = 0; k < 2; k++) {
        if (!all[k] || all[k]->n == 0) continue;
        fprintf(f, "<polyline class=\"%s\" points=\"", cls[k]);
        for (int i = 0; i < all[k]->n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", L + pw * (all[k]->x[i] - x0) / (x1 - x0),
                    T + ph - ph * (all[k]->y[i] - y0) / (y1 - y0));
        fprintf(f, "\"/>\n");
        if (all[k]->n == 1)
            fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n", cls[k],
                    L + pw * (all[k]->x[0] - x0) / (x1 - x0),
                    T + ph - ph * (all[k]->y[0] - y0) / (y1 - y0));
        if (names[k])
            fprintf(f, "<text x=\"%.0f\" y=\"18\" class=\"leg %s\">%s</text>\n",
                    W - R - 120 + 70 * k, cls[k], names[k]);
    }
    fprintf(f, "</svg></figure>\n");
}

/* "31.25%", or "not evaluated yet" */
static const char *pct(char *buf, double v) {
    if (isfinite(v))
        snprintf(buf, 32, "%.2f%%", v);
    else
        snprintf(buf, 32, "not evaluated yet");
    return buf;
}

static void free_series(series *s) {
    free(s->x);
    free(s->y);
}

int32_t report_write(const char *dir, const char *title, moco_error *err) {
    char path[1200], tmp[1300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *in = fopen(path, "r");
    if (!in)
        return moco_errorf(err, MOCO_ERR_IO, "report: cannot read %s: %s", path, strerror(errno));
    series loss = {0}, lr = {0}, ips = {0}, knn = {0}, lin = {0};
    char line[4096];
    double last_loss = NAN, last_knn = NAN, last_lin = NAN, step = 0;
    while (fgets(line, sizeof line, in)) {
        double v;
        if (!field(line, "global_step", &step)) continue;
        if (strstr(line, "\"event\":\"train\"")) {
            if (field(line, "loss", &v)) add(&loss, step, last_loss = v);
            if (field(line, "lr", &v)) add(&lr, step, v);
            if (field(line, "images_per_s", &v)) add(&ips, step, v);
        } else if (strstr(line, "\"event\":\"eval\"")) {
            if (field(line, "knn_top1", &v) && v >= 0) add(&knn, step, last_knn = 100 * v);
            if (field(line, "linear_top1", &v) && v >= 0) add(&lin, step, last_lin = 100 * v);
        }
    }
    fclose(in);
    series *all[] = {&loss, &lr, &ips, &knn, &lin};
    double x_max = 1;
    for (int i = 0; i < 5; i++) {
        sort_series(all[i]);
        if (all[i]->n) x_max = fmax(x_max, all[i]->x[all[i]->n - 1]);
    }

    char knn_s[32], lin_s[32];
    snprintf(path, sizeof path, "%s/report.html", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int32_t st = MOCO_OK;
    if (!f) {
        st = moco_errorf(err, MOCO_ERR_IO, "report: cannot write %s: %s", tmp, strerror(errno));
    } else {
        fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>moco run: %s</title>\n<style>\n"
                "body{font:14px system-ui,sans-serif;margin:24px;color:#222}"
                "figure{display:inline-block;margin:8px}"
                ".t{font-weight:600;font-size:14px}.ya{text-anchor:end;font-size:11px}"
                ".xa{text-anchor:middle;font-size:11px}.n{fill:#888}"
                ".frame{fill:none;stroke:#999}.grid{stroke:#eee}"
                "polyline{fill:none;stroke-width:1.5}.a{stroke:#1f6feb;fill:#1f6feb}"
                ".b{stroke:#d9480f;fill:#d9480f}polyline.a,polyline.b{fill:none}"
                ".leg{font-size:12px;stroke:none}td{padding:2px 12px 2px 0}\n"
                "</style></head><body>\n<h1>moco run: %s</h1>\n<table>"
                "<tr><td>last step</td><td>%.0f</td></tr>"
                "<tr><td>last loss</td><td>%.4f</td></tr>"
                "<tr><td>last kNN top-1</td><td>%s</td></tr>"
                "<tr><td>last linear top-1</td><td>%s</td></tr></table>\n",
                title, title, step, last_loss, pct(knn_s, last_knn), pct(lin_s, last_lin));
        chart(f, x_max, "training loss", "", &loss, NULL, NULL, NULL);
        chart(f, x_max, "learning rate", "", &lr, NULL, NULL, NULL);
        chart(f, x_max, "images per second", "", &ips, NULL, NULL, NULL);
        chart(f, x_max, "top-1 accuracy (test)", "%", &knn, "kNN", &lin, "linear");
        fprintf(f, "</body></html>\n");
        if (fclose(f) != 0 || rename(tmp, path) != 0) {
            st = moco_errorf(err, MOCO_ERR_IO, "report: cannot write %s: %s", path,
                             strerror(errno));
            unlink(tmp);
        }
    }
    for (int i = 0; i < 5; i++) free_series(all[i]);
    return st;
}
