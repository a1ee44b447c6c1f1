/* report.html: four SVG charts drawn from metrics.jsonl, steps redone after a
 * resume counted once, nothing fetched from the network, no scripts. */
#include "mtest.h"
#include "report.h"
#include "tmpdir.h"

#include <stdlib.h>
#include <unistd.h>

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_report(void) {
    const char *dir = mt_tmpdir("moco-report");   /* removed at exit */
    MT_CHECK(dir != NULL, "mkdtemp");
    if (!dir) return;
    char path[256];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "w");
    for (int s = 1; s <= 6; s++)
        fprintf(f, "{\"time\":1,\"event\":\"train\",\"epoch\":1,\"step\":%d,\"global_step\":%d,"
                "\"loss\":%.2f,\"acc\":0.1,\"lr\":0.03,\"images_per_s\":50}\n", s, s, 7.0 - s * 0.1);
    /* a resume that redid steps 5 and 6, then went on */
    for (int s = 5; s <= 8; s++)
        fprintf(f, "{\"time\":2,\"event\":\"train\",\"epoch\":1,\"step\":%d,\"global_step\":%d,"
                "\"loss\":%.2f,\"acc\":0.1,\"lr\":0.02,\"images_per_s\":60}\n", s, s, 6.0);
    fprintf(f, "{\"time\":3,\"event\":\"eval\",\"global_step\":8,\"knn_top1\":0.31250,"
            "\"linear_top1\":0.35000,\"linear_train_top1\":0.5,\"seconds\":1}\n");
    fprintf(f, "{\"time\":3,\"event\":\"epoch\",\"epoch\":1,\"seconds\":3}\n");
    fclose(f);
    moco_error err = {{0}};
    MT_CHECK(report_write(dir, "unit", &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/report.html", dir);
    f = fopen(path, "r");
    MT_CHECK(f != NULL, "no report.html");
    if (!f) return;
    static char html[1 << 16];
    size_t n = fread(html, 1, sizeof html - 1, f);
    html[n] = 0;
    fclose(f);
    MT_CHECK(count(html, "<svg") == 4, "%d charts", count(html, "<svg"));
    /* loss: 8 distinct steps -> one polyline with 8 points */
    const char *pl = strstr(html, "<polyline class=\"a\" points=\"");
    int pts = 0;
    if (pl)
        for (const char *p = pl + 28; *p && *p != '"'; p++) pts += *p == ',';
    MT_CHECK(pts == 8, "loss points %d, want 8 (redone steps once)", pts);
    MT_CHECK(strstr(html, "31.25%") != NULL, "last kNN shown");
    MT_CHECK(strstr(html, "35.00%") != NULL, "last linear shown");
    MT_CHECK(!strstr(html, "<script") && !strstr(html, "src=") && !strstr(html, "href="),
             "report must be self-contained");
    snprintf(path, sizeof path, "rm -rf %s", dir);
    MT_CHECK(system(path) == 0, "cleanup");
}

static void test_missing_metrics(void) {
    moco_error err = {{0}};
    MT_CHECK(report_write("/nonexistent-dir", "x", &err) != 0, "accepted");
    MT_CHECK(strstr(err.msg, "/nonexistent-dir/metrics.jsonl") != NULL, "%s", err.msg);
}

int main(void) {
    MT_RUN(test_report);
    MT_RUN(test_missing_metrics);
    return mt_finish();
}
