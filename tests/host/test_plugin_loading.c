/* Plugin loading: good plugins load; wrong SDK major, newer minor, missing
 * entry, NULL required function, missing file and wrong kind are refused
 * with one line naming the file (and both versions where relevant). */
#include "mtest.h"
#include "plugin.h"

static void expect_refused(const char *file, int32_t kind, const char *const *needles) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", MOCO_TEST_FAKE_DIR, file);
    plugin_path none = {0};
    loaded_plugin lp;
    moco_error err = {{0}};
    int32_t st = plugin_load(&lp, &none, path, kind, &err);
    MT_CHECK(st != 0, "%s loaded", file);
    MT_CHECK(strstr(err.msg, path) != NULL, "file not named: %s", err.msg);
    for (; *needles; needles++)
        MT_CHECK(strstr(err.msg, *needles) != NULL, "'%s' not in: %s", *needles, err.msg);
    if (!st) plugin_unload(&lp);
}

static void test_refusals(void) {
    expect_refused("fake_major.so", 0, (const char *[]){"SDK 99.0", "SDK 1.", NULL});
    expect_refused("fake_minor.so", 0, (const char *[]){"SDK 1.99", "minor", NULL});
    expect_refused("fake_noentry.so", 0, (const char *[]){"not a moco plugin", NULL});
    expect_refused("fake_nullfn.so", 0, (const char *[]){"'loss'", "NULL", NULL});
    expect_refused("does_not_exist.so", 0, (const char *[]){"no such plugin file", NULL});
    expect_refused("text_file.so", 0, (const char *[]){"cannot load", NULL});
    expect_refused("fake_ok.so", MOCO_KIND_BACKBONE,
                   (const char *[]){"of kind objective", "needs kind backbone", NULL});
}

static void test_accepts_good(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fake_ok.so", MOCO_TEST_FAKE_DIR);
    plugin_path none = {0};
    loaded_plugin lp;
    moco_error err = {{0}};
    MT_CHECK(plugin_load(&lp, &none, path, MOCO_KIND_OBJECTIVE, &err) == 0, "%s", err.msg);
    plugin_unload(&lp);
    /* built-in plugins by name through the search path */
    plugin_path p;
    const char *dirs[] = {MOCO_TEST_PLUGIN_DIR};
    plugin_path_init(&p, dirs, 1);
    const char *names[] = {"cifar10", "mocoaug", "resnet18", "queue", "infonce"};
    const int32_t kinds[] = {MOCO_KIND_DATASET, MOCO_KIND_AUGMENT, MOCO_KIND_BACKBONE,
                             MOCO_KIND_DICTIONARY, MOCO_KIND_OBJECTIVE};
    for (int i = 0; i < 5; i++) {
        int32_t st = plugin_load(&lp, &p, names[i], kinds[i], &err);
        MT_CHECK(st == 0, "%s: %s", names[i], err.msg);
        if (!st) {
            MT_CHECK(!strcmp(lp.entry->name, names[i]), "name %s", lp.entry->name);
            plugin_unload(&lp);
        }
    }
}

int main(void) {
    MT_RUN(test_refusals);
    MT_RUN(test_accepts_good);
    return mt_finish();
}
