/* data_augment_config: mocoaug refuses bad INI values with one line that
 * names the file, line and key and says what to do; every supported key is
 * read (so the host would not report it unknown). */
#include "mtest.h"
#include "test_host.h"

static const moco_augment_api *api;

static int32_t try_create(const char *const *kv, int32_t channels, moco_error *err,
                          test_host *t) {
    th_init(t, "augment", kv);
    moco_image_shape in = {channels, 32, 32, 0};
    void *aug = NULL;
    err->msg[0] = 0;
    int32_t rc = api->create(&t->host, &in, &aug, err);
    if (rc == MOCO_OK) api->destroy(aug);
    return rc;
}

/* The create fails and the message names `key` as "[augment] key" plus a HINT. */
static void expect_refused(const char *key, const char *value, const char *why_part) {
    const char *kv[] = {key, value, NULL};
    test_host t;
    moco_error err;
    int32_t rc = try_create(kv, 3, &err, &t);
    char want[128];
    snprintf(want, sizeof want, "test.ini:1: [augment] %s = '%s'", key, value);
    MT_CHECK(rc == MOCO_ERR_INVALID, "%s = %s refused (rc %d)", key, value, rc);
    MT_CHECK(strstr(err.msg, want) != NULL, "message names the key: %s", err.msg);
    MT_CHECK(strstr(err.msg, "HINT:") != NULL, "message has a hint: %s", err.msg);
    MT_CHECK(!why_part || strstr(err.msg, why_part) != NULL, "message says '%s': %s", why_part,
             err.msg);
    MT_CHECK(strchr(err.msg, '\n') == NULL, "one line: %s", err.msg);
    printf("  %s = %s -> %s\n", key, value, err.msg);
}

static void test_entry(void) {
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "mocoaug");
    MT_CHECK(e != NULL, "plugin mocoaug loads");
    if (!e) exit(1);
    api = e->api;
}

static void test_bad_values(void) {
    expect_refused("hue", "0.7", "[0, 0.5]");
    expect_refused("hue", "-0.1", "[0, 0.5]");
    expect_refused("std", "0.2,0.3", "2 numbers, expected 3");
    expect_refused("std", "0.2,0.3,0.4,0.5", "more than 3");
    expect_refused("std", "0.2,0,0.3", "not positive");
    expect_refused("mean", "0.5;0.5;0.5", "commas");
    expect_refused("mean", "red,green,blue", "3 comma-separated");
    expect_refused("size", "0", NULL);
    expect_refused("size", "32.5", NULL);
    expect_refused("jitter_p", "1.5", NULL);
    expect_refused("grayscale_p", "-0.2", NULL);
    expect_refused("brightness", "-1", NULL);
    expect_refused("crop", "maybe", NULL);
    expect_refused("crop_scale_min", "0", NULL);
    expect_refused("crop_scale_max", "1.5", NULL);
    /* default crop_scale_min 0.2 > 0.1: blame the key that was written */
    expect_refused("crop_scale_max", "0.1", "greater than crop_scale_max");
}

static void test_min_above_max(void) {
    const char *kv[] = {"crop_scale_min", "0.9", "crop_scale_max", "0.5", NULL};
    test_host t;
    moco_error err;
    int32_t rc = try_create(kv, 3, &err, &t);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "[augment] crop_scale_min = '0.9'") &&
                 strstr(err.msg, "crop_scale_max = 0.5") && strstr(err.msg, "HINT:"),
             "crop_scale_min > crop_scale_max refused naming the key: %s", err.msg);
    printf("  %s\n", err.msg);
    const char *kv2[] = {"crop_ratio_min", "2", "crop_ratio_max", "1.5", NULL};
    rc = try_create(kv2, 3, &err, &t);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "crop_ratio_min = '2'"),
             "crop_ratio_min > crop_ratio_max refused: %s", err.msg);
}

static void test_bad_input_shape(void) {
    test_host t;
    moco_error err;
    int32_t rc = try_create(NULL, 1, &err, &t);
    MT_CHECK(rc == MOCO_ERR_UNSUPPORTED && strstr(err.msg, "HINT:"),
             "1-channel input refused: %s", err.msg);
}

static void test_all_keys_read(void) {
    const char *kv[] = {"crop", "true", "crop_scale_min", "0.2", "crop_scale_max", "1.0",
                        "crop_ratio_min", "0.75", "crop_ratio_max", "1.3333333", "size", "32",
                        "flip", "true", "flip_p", "0.5", "jitter", "true", "jitter_p", "0.8",
                        "brightness", "0.4", "contrast", "0.4", "saturation", "0.4", "hue",
                        "0.4", "grayscale_p", "0.2", "mean", "0.4914, 0.4822, 0.4465", "std",
                        "0.2470,0.2435,0.2616", NULL};
    test_host t;
    moco_error err;
    int32_t rc = try_create(kv, 3, &err, &t);
    MT_CHECK(rc == MOCO_OK, "every key at its default value: %s", err.msg);
    for (int i = 0; i < t.nkeys; i++) MT_CHECK(t.used[i], "key %s was not read", t.keys[i]);
}

int main(void) {
    MT_RUN(test_entry);
    MT_RUN(test_bad_values);
    MT_RUN(test_min_above_max);
    MT_RUN(test_bad_input_shape);
    MT_RUN(test_all_keys_read);
    return mt_finish();
}
