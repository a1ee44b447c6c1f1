/* Config errors: every bad INI gives one line with file:line and a hint. */
#include "checkpoint.h"
#include "mtest.h"
#include "run.h"
#include "tiny_run.h"

static const char *tmp;
static const char *plugin_dirs[] = {MOCO_TEST_PLUGIN_DIR};

/* Runs setup on `text` (or on a tiny ini with overrides) and checks that
 * the error mentions every needle. */
static void expect_error_text(const char *text, const char *const *needles) {
    char path[512];
    snprintf(path, sizeof path, "%s/raw.ini", tmp);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    run r;
    moco_error err = {{0}};
    int32_t st = run_setup(&r, path, plugin_dirs, 1, NULL, &err);
    MT_CHECK(st != 0, "setup accepted a bad config: %s", text);
    for (; *needles; needles++)
        MT_CHECK(strstr(err.msg, *needles) != NULL, "'%s' not in: %s", *needles, err.msg);
    MT_CHECK(strchr(err.msg, '\n') == NULL, "multi-line error: %s", err.msg);
    run_teardown(&r);
}

static void expect_error(const char *overrides, const char *const *needles) {
    const char *path = tiny_ini(tmp, "case", overrides);
    run r;
    moco_error err = {{0}};
    int32_t st = run_setup(&r, path, plugin_dirs, 1, NULL, &err);
    MT_CHECK(st != 0, "setup accepted: %s", overrides);
    for (; *needles; needles++)
        MT_CHECK(strstr(err.msg, *needles) != NULL, "'%s' not in: %s", *needles, err.msg);
    MT_CHECK(strstr(err.msg, "HINT") != NULL, "no hint in: %s", err.msg);
    run_teardown(&r);
}

static void test_syntax_errors(void) {
    expect_error_text("[run]\nseed = 1\nthis line has no equals\n",
                      (const char *[]){"raw.ini:3:", "key = value", NULL});
    expect_error_text("[run]\nseed = 1\n[run]\nlog_every = 2\n",
                      (const char *[]){"raw.ini:3:", "appears twice", NULL});
    expect_error_text("[run]\nseed = 1\nseed = 2\n",
                      (const char *[]){"raw.ini:3:", "set twice", NULL});
    expect_error_text("seed = 1\n[run]\n", (const char *[]){"raw.ini:1:", "outside", NULL});
    char longline[600] = "[run]\ndir = ";
    memset(longline + strlen(longline), 'x', 400);
    expect_error_text(longline, (const char *[]){"raw.ini:2:", "longer than", NULL});
    expect_error_text("[run]\nseed = 1\n[bogus]\nx = 1\n",
                      (const char *[]){"raw.ini:3:", "unknown section [bogus]", NULL});
    /* a NUL byte in the file */
    char path[512];
    snprintf(path, sizeof path, "%s/nul.ini", tmp);
    FILE *f = fopen(path, "wb");
    fwrite("[run]\nseed = 1\x00\n", 1, 16, f);
    fclose(f);
    run r;
    moco_error err = {{0}};
    MT_CHECK(run_setup(&r, path, plugin_dirs, 1, NULL, &err) != 0, "NUL accepted");
    MT_CHECK(strstr(err.msg, "nul.ini:2:") && strstr(err.msg, "NUL"), "%s", err.msg);
    run_teardown(&r);
}

static void test_value_errors(void) {
    /* line numbers: tiny_ini writes [run] at 1, dir 2, seed 3, log_every 4 */
    expect_error("run.seed=abc", (const char *[]){"case.ini:3:", "[run] seed", "integer", NULL});
    expect_error("train.batch=0", (const char *[]){"[train] batch", "out of range", NULL});
    expect_error("train.batch=3\xff\xfe", (const char *[]){"[train] batch", "integer", NULL});
    expect_error("train.lr=nan", (const char *[]){"[train] lr", "finite", NULL});
    expect_error("train.epochs=99999999999999999999",
                 (const char *[]){"[train] epochs", "integer", NULL});
    expect_error("moco.momentum=1.5", (const char *[]){"[moco] momentum", "range", NULL});
    expect_error("train.schedule=linear", (const char *[]){"[train] schedule", "cosine", NULL});
    expect_error("dictionary.size=-5", (const char *[]){"[dictionary] size", NULL});
    expect_error("dictionary.size=36", (const char *[]){"[dictionary] size", "multiple", NULL});
    expect_error("objective.temperature=0", (const char *[]){"[objective] temperature", NULL});
    expect_error("backbone.stem=tiny", (const char *[]){"[backbone] stem", "imagenet", NULL});
}

static void test_unknown_keys(void) {
    expect_error("train.learning_rate=0.1",
                 (const char *[]){"case.ini:", "[train] unknown key 'learning_rate'", NULL});
    expect_error("backbone.colour=red",
                 (const char *[]){"case.ini:", "[backbone] unknown key 'colour'", NULL});
}

static void test_plugin_errors(void) {
    expect_error("backbone.plugin=nosuchnet",
                 (const char *[]){"case.ini:", "[backbone] plugin", "'nosuchnet' not found",
                                  "--list-plugins", NULL});
    expect_error("backbone.plugin=queue",
                 (const char *[]){"of kind dictionary", "needs kind backbone", NULL});
    expect_error("dataset.path=@NOPE@", (const char *[]){"@NOPE@", NULL});
    expect_error("backbone.plugin=-",
                 (const char *[]){"case.ini:", "[backbone] has no 'plugin' key", NULL});
}

static void test_good_config(void) {
    const char *path = tiny_ini(tmp, "good", "");
    run r;
    moco_error err = {{0}};
    int32_t st = run_setup(&r, path, plugin_dirs, 1, NULL, &err);
    MT_CHECK(st == 0, "tiny config refused: %s", err.msg);
    if (!st) {
        MT_CHECK(r.cfg.batch == 8 && r.cfg.dim == 16 && r.steps_per_epoch == 3, "settings");
        MT_CHECK(r.train_info.count == 100 && r.test_info.count == 20, "synthetic split sizes");
    }
    run_teardown(&r);
}

int main(void) {
    tmp = tiny_tmpdir();
    if (!tmp) return 1;
    MT_RUN(test_syntax_errors);
    MT_RUN(test_value_errors);
    MT_RUN(test_unknown_keys);
    MT_RUN(test_plugin_errors);
    MT_RUN(test_good_config);
    return mt_finish();
}
