/* data_augment: the mocoaug plugin and its torchvision-equivalent operations.
 * Reference values are computed by hand from PyTorch's formulas
 * (F.interpolate bilinear, align_corners=False; torchvision's tensor colour
 * ops); each is written next to its derivation. Ends with a throughput
 * figure (printed, not asserted). */
#include <time.h>

#include "aug_ops.h"
#include "mtest.h"
#include "test_host.h"

#define S 32
#define N (S * S)

static const moco_augment_api *api;
static const float MEAN[3] = {0.4914f, 0.4822f, 0.4465f};
static const float STD[3] = {0.2470f, 0.2435f, 0.2616f};

static void random_image(uint8_t *img, int n, uint64_t seed) {
    moco_rng r;
    moco_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) img[i] = (uint8_t)(moco_rng_u64(&r) >> 56);
}

static void *make_aug(const char *const *kv, int32_t h, int32_t w, moco_error *err) {
    static test_host t; /* the host must outlive the instance */
    th_init(&t, "augment", kv);
    moco_image_shape in = {3, h, w, 0};
    void *aug = NULL;
    err->msg[0] = 0;
    if (api->create(&t.host, &in, &aug, err) != MOCO_OK) return NULL;
    return aug;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int count_diff(const float *a, const float *b, int n) {
    int d = 0;
    for (int i = 0; i < n; i++) d += a[i] != b[i];
    return d;
}

/* ---- operations ---------------------------------------------------------- */

static void test_bilinear_upsample(void) {
    /* 2x2 -> 4x4. scale = 0.5; src = 0.5 (d + 0.5) - 0.5 = -0.25 (clamped to 0),
     * 0.25, 0.75, 1.25 (index 1, no right neighbour). Per axis the weights on
     * (a, b) are (1,0), (.75,.25), (.25,.75), (0,1). */
    const uint8_t img[4] = {0, 100, 200, 255};
    const float want[16] = {0,   25,       75,       100,    50,  72.1875f, 116.5625f, 138.75f,
                            150, 166.5625f, 199.6875f, 216.25f, 200, 213.75f,  241.25f,   255};
    float out[16];
    aug_box box = {0, 0, 2, 2};
    aug_resize_crop(out, img, 1, 2, 2, box, 4, 4, 0, 0);
    long worst = 0;
    MT_CHECK(mt_max_rel(out, want, 16, 1e-4, 0, &worst) <= 1, "element %ld: %g vs %g", worst,
             out[worst], want[worst]);
    /* Quantised like torchvision on uint8: torch.round (half to even) then /255. */
    const float rounded[16] = {0, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214,
                               241, 255};
    aug_resize_crop(out, img, 1, 2, 2, box, 4, 4, 0, 1);
    int bad = 0;
    for (int i = 0; i < 16; i++) bad += out[i] != rounded[i] / 255.0f;
    MT_CHECK(bad == 0, "%d rounded values differ", bad);
}

static void test_bilinear_downsample(void) {
    /* 1x5 -> 1x3: scale = 5/3; src = 1/3, 2, 11/3. Row 0,10,20,30,40 gives
     * 3.3333, 20, 36.6667 (what F.interpolate returns). */
    const uint8_t img[5] = {0, 10, 20, 30, 40};
    const float want[3] = {10.0f / 3.0f, 20.0f, 110.0f / 3.0f};
    float out[3];
    aug_box box = {0, 0, 1, 5};
    aug_resize_crop(out, img, 1, 1, 5, box, 1, 3, 0, 0);
    for (int i = 0; i < 3; i++) MT_CLOSE(out[i], want[i], 1e-4, 0);
}

static void test_round_half_even(void) {
    /* 1x2 (0, 1) -> 1x4 gives 0, 0.25, 0.75, 1; scaled by 2 via (0, 2):
     * 0, 0.5, 1.5, 2 -> torch.round -> 0, 0, 2, 2. */
    const uint8_t img[2] = {0, 2};
    float out[4];
    aug_box box = {0, 0, 1, 2};
    aug_resize_crop(out, img, 1, 1, 2, box, 1, 4, 0, 0);
    MT_CLOSE(out[1], 0.5, 0, 0);
    MT_CLOSE(out[2], 1.5, 0, 0);
    aug_resize_crop(out, img, 1, 1, 2, box, 1, 4, 0, 1);
    MT_CHECK(out[0] == 0 && out[1] == 0 && out[2] == 2 / 255.0f && out[3] == 2 / 255.0f,
             "half to even: %g %g %g %g", out[0] * 255, out[1] * 255, out[2] * 255, out[3] * 255);
}

static void test_crop_box_and_flip(void) {
    /* A crop the size of the output is copied exactly; flip mirrors it. */
    uint8_t img[3 * 16];
    for (int i = 0; i < 48; i++) img[i] = (uint8_t)(i * 5);
    aug_box box = {1, 1, 2, 2}; /* rows 1-2, columns 1-2 of a 4x4 */
    float out[12], fl[12];
    aug_resize_crop(out, img, 3, 4, 4, box, 2, 2, 0, 0);
    aug_resize_crop(fl, img, 3, 4, 4, box, 2, 2, 1, 0);
    int bad = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++) {
                float v = img[c * 16 + (1 + y) * 4 + 1 + x];
                bad += out[c * 4 + y * 2 + x] != v;
                bad += fl[c * 4 + y * 2 + (1 - x)] != v;
            }
    MT_CHECK(bad == 0, "%d values differ from the crop / its mirror", bad);
}

static void test_crop_params(void) {
    moco_rng r;
    int bad = 0;
    double area_sum = 0;
    for (uint64_t s = 0; s < 2000; s++) {
        moco_rng_seed(&r, s);
        aug_box b = aug_crop_params(&r, 32, 32, 0.2, 1.0, 0.75, 4.0 / 3.0);
        if (b.top < 0 || b.left < 0 || b.height < 1 || b.width < 1 || b.top + b.height > 32 ||
            b.left + b.width > 32)
            bad++;
        double frac = b.height * b.width / 1024.0, ratio = (double)b.width / b.height;
        /* rounding w and h to integers moves area and ratio a little */
        if (frac < 0.15 || frac > 1.0 || ratio < 0.6 || ratio > 1.6) bad++;
        area_sum += frac;
    }
    MT_CHECK(bad == 0, "%d boxes out of bounds or range", bad);
    /* The mean area fraction is near (0.2 + 1) / 2 minus the rejections. */
    MT_CHECK(area_sum / 2000 > 0.5 && area_sum / 2000 < 0.65, "mean area %g", area_sum / 2000);
    moco_rng_seed(&r, 7);
    aug_box full = aug_crop_params(&r, 32, 32, 1.0, 1.0, 1.0, 1.0);
    MT_CHECK(full.top == 0 && full.left == 0 && full.height == 32 && full.width == 32,
             "scale 1 ratio 1 is the whole image");
}

static void test_crop_fallback(void) {
    /* torchvision: in_ratio = 1 < min(ratio) = 4 -> w = width, h = round(w / 4). */
    moco_rng r;
    moco_rng_seed(&r, 3);
    aug_box fb = aug_crop_params(&r, 32, 32, 1.0, 1.0, 4.0, 4.0);
    MT_CHECK(fb.width == 32 && fb.height == 8 && fb.top == 12 && fb.left == 0,
             "fallback box %d,%d %dx%d", fb.top, fb.left, fb.height, fb.width);
    /* in_ratio = 1 > max(ratio) = 0.5 -> h = height, w = round(h * 0.5). */
    aug_box fb2 = aug_crop_params(&r, 32, 32, 1.0, 1.0, 0.5, 0.5);
    MT_CHECK(fb2.height == 32 && fb2.width == 16 && fb2.top == 0 && fb2.left == 8,
             "fallback box %d,%d %dx%d", fb2.top, fb2.left, fb2.height, fb2.width);
}

static void test_hue_identity(void) {
    /* RGB -> HSV -> RGB with a zero shift returns the input (float32). */
    enum { M = 4096 };
    static float img[3 * M], orig[3 * M];
    moco_rng r;
    moco_rng_seed(&r, 11);
    for (int i = 0; i < 3 * M; i++) orig[i] = img[i] = (float)moco_rng_uniform(&r);
    /* include grays, primaries, black and white */
    float special[8][3] = {{0, 0, 0}, {1, 1, 1}, {1, 0, 0}, {0, 1, 0},
                           {0, 0, 1}, {0.5f, 0.5f, 0.5f}, {1, 1, 0}, {0.2f, 0.2f, 0.9f}};
    for (int k = 0; k < 8; k++)
        for (int c = 0; c < 3; c++) orig[c * M + k] = img[c * M + k] = special[k][c];
    aug_hue(img, M, 0.0f);
    double worst = 0;
    for (int i = 0; i < 3 * M; i++) worst = fmax(worst, fabs((double)img[i] - orig[i]));
    MT_CHECK(worst <= 1e-6, "hue shift 0 changed a value by %g", worst);
}

static void test_hue_shift(void) {
    /* Red (h = 0) shifted by 1/3 turn is green, by 1/2 is cyan, by -1/3 blue. */
    float px[3];
    px[0] = 1, px[1] = 0, px[2] = 0;
    aug_hue(px, 1, 1.0f / 3.0f);
    MT_CHECK(fabsf(px[0]) < 1e-5f && fabsf(px[1] - 1) < 1e-5f && fabsf(px[2]) < 1e-5f,
             "red + 1/3 = %g %g %g", px[0], px[1], px[2]);
    px[0] = 1, px[1] = 0, px[2] = 0;
    aug_hue(px, 1, 0.5f);
    MT_CHECK(fabsf(px[0]) < 1e-5f && fabsf(px[1] - 1) < 1e-5f && fabsf(px[2] - 1) < 1e-5f,
             "red + 1/2 = %g %g %g", px[0], px[1], px[2]);
    px[0] = 1, px[1] = 0, px[2] = 0;
    aug_hue(px, 1, -1.0f / 3.0f);
    MT_CHECK(fabsf(px[0]) < 1e-5f && fabsf(px[1]) < 1e-5f && fabsf(px[2] - 1) < 1e-5f,
             "red - 1/3 = %g %g %g", px[0], px[1], px[2]);
    /* (0.8, 0.4, 0.2): h = (g-b)/(6 cr) = 0.2/3.6 = 1/18, s = 0.75, v = 0.8.
     * + 0.25 -> h = 11/36, h6 = 1.8333: sector 1, f = 0.8333:
     * (q, v, p) = (0.8 (1 - 0.75 * 0.8333), 0.8, 0.2) = (0.3, 0.8, 0.2). */
    px[0] = 0.8f, px[1] = 0.4f, px[2] = 0.2f;
    aug_hue(px, 1, 0.25f);
    MT_CLOSE(px[0], 0.3, 1e-5, 0);
    MT_CLOSE(px[1], 0.8, 1e-5, 0);
    MT_CLOSE(px[2], 0.2, 1e-5, 0);
}

static void test_colour_ops(void) {
    /* one pixel (r, g, b) = (0.8, 0.4, 0.2): gray = 0.2989*0.8 + 0.587*0.4
     * + 0.114*0.2 = 0.49792 */
    const double gray = 0.2989 * 0.8 + 0.587 * 0.4 + 0.114 * 0.2;
    float px[3] = {0.8f, 0.4f, 0.2f};
    aug_brightness(px, 1, 0.5f);
    MT_CLOSE(px[0], 0.4, 1e-6, 0);
    MT_CLOSE(px[2], 0.1, 1e-6, 0);
    aug_brightness(px, 1, 3.0f); /* 1.2 clamps to 1 */
    MT_CHECK(px[0] == 1.0f, "brightness clamps at 1: %g", px[0]);
    float sat[3] = {0.8f, 0.4f, 0.2f};
    aug_saturation(sat, 1, 0.0f);
    for (int c = 0; c < 3; c++) MT_CLOSE(sat[c], gray, 1e-6, 0);
    float sat2[3] = {0.8f, 0.4f, 0.2f};
    aug_saturation(sat2, 1, 1.5f); /* 1.5 x - 0.5 gray */
    MT_CLOSE(sat2[0], 1.5 * 0.8 - 0.5 * gray, 1e-6, 0);
    MT_CLOSE(sat2[1], 1.5 * 0.4 - 0.5 * gray, 1e-6, 0);
    /* contrast on two pixels: mean of gray over the image */
    float two[6] = {0.8f, 0.0f, 0.4f, 0.0f, 0.2f, 1.0f}; /* planes r, g, b for 2 pixels */
    double g0 = gray, g1 = 0.114, mean = (g0 + g1) / 2;
    aug_contrast(two, 2, 0.5f);
    MT_CLOSE(two[0], 0.5 * 0.8 + 0.5 * mean, 1e-6, 0);
    MT_CLOSE(two[5], 0.5 * 1.0 + 0.5 * mean, 1e-6, 0);
    MT_CLOSE(two[1], 0.5 * mean, 1e-6, 0);
    float gs[3] = {0.8f, 0.4f, 0.2f};
    aug_grayscale(gs, 1);
    for (int c = 0; c < 3; c++) MT_CLOSE(gs[c], gray, 1e-6, 0);
}

/* ---- plugin -------------------------------------------------------------- */

static void test_entry(void) {
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "mocoaug");
    MT_CHECK(e != NULL, "plugin mocoaug loads");
    if (!e) exit(1);
    MT_CHECK(e->kind == MOCO_KIND_AUGMENT, "kind %d", (int)e->kind);
    MT_CHECK(strcmp(e->name, "mocoaug") == 0, "name %s", e->name);
    api = e->api;
}

static void test_determinism(void) {
    moco_error err;
    void *aug = make_aug(NULL, S, S, &err);
    MT_CHECK(aug != NULL, "create with defaults: %s", err.msg);
    if (!aug) return;
    moco_image_shape os;
    api->output_shape(aug, &os);
    MT_CHECK(os.channels == 3 && os.height == 32 && os.width == 32, "output %dx%dx%d",
             os.channels, os.height, os.width);
    uint8_t img[3 * N];
    random_image(img, 3 * N, 5);
    static float a[3 * N], b[3 * N], c[3 * N];
    api->apply(aug, a, img, 1, &err);
    api->apply(aug, b, img, 2, &err);
    MT_CHECK(count_diff(a, b, 3 * N) > N, "two seeds give different views (%d values differ)",
             count_diff(a, b, 3 * N));
    api->apply(aug, c, img, 1, &err);
    MT_CHECK(memcmp(a, c, sizeof a) == 0, "the same seed gives bit-identical views");
    /* The host's derivation: seed = mix(mix(mix(run, epoch), index), view). */
    uint64_t run = 42;
    uint64_t e0 = moco_seed_mix(moco_seed_mix(moco_seed_mix(run, 0), 17), 0);
    uint64_t e1 = moco_seed_mix(moco_seed_mix(moco_seed_mix(run, 1), 17), 0);
    uint64_t v1 = moco_seed_mix(moco_seed_mix(moco_seed_mix(run, 0), 17), 1);
    api->apply(aug, a, img, e0, &err);
    api->apply(aug, b, img, e1, &err);
    api->apply(aug, c, img, v1, &err);
    MT_CHECK(count_diff(a, b, 3 * N) > N, "epochs 0 and 1 differ");
    MT_CHECK(count_diff(a, c, 3 * N) > N, "views 0 and 1 differ");
    /* Values stay within the normalised range of [0, 1]. */
    int out_of_range = 0;
    for (uint64_t s = 0; s < 200; s++) {
        api->apply(aug, a, img, s, &err);
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < N; i++) {
                float x = a[ch * N + i] * STD[ch] + MEAN[ch];
                out_of_range += !(x >= -1e-6f && x <= 1 + 1e-6f);
            }
    }
    MT_CHECK(out_of_range == 0, "%d values outside [0, 1] before normalisation", out_of_range);
    api->destroy(aug);
}

/* Fraction of views whose three channels are equal (grayscale applied). */
static void test_grayscale_rate(void) {
    moco_error err;
    void *aug = make_aug(NULL, S, S, &err);
    if (!aug) return;
    uint8_t img[3 * N];
    random_image(img, 3 * N, 9);
    static float v[3 * N];
    int gray = 0, total = 2000;
    for (int s = 0; s < total; s++) {
        api->apply(aug, v, img, (uint64_t)s * 7919u, &err);
        int equal = 1;
        for (int i = 0; i < N && equal; i++) {
            float r = v[i] * STD[0] + MEAN[0], g = v[N + i] * STD[1] + MEAN[1];
            equal = fabsf(r - g) < 1e-5f;
        }
        gray += equal;
    }
    double rate = (double)gray / total;
    /* p = 0.2: 3 standard deviations of 2000 draws = 0.027 */
    MT_CHECK(rate > 0.173 && rate < 0.227, "grayscale rate %g, expected 0.2", rate);
    api->destroy(aug);
}

static void test_eval_constant(void) {
    moco_error err;
    void *aug = make_aug(NULL, S, S, &err);
    if (!aug) return;
    static uint8_t img[3 * N];
    static float out[3 * N];
    memset(img, 100, sizeof img);
    MT_CHECK(api->apply_eval(aug, out, img, &err) == MOCO_OK, "apply_eval: %s", err.msg);
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        float want = (100.0f / 255.0f - MEAN[c]) / STD[c];
        for (int i = 0; i < N; i++) bad += fabsf(out[c * N + i] - want) > 1e-6f;
    }
    MT_CHECK(bad == 0, "%d values differ from (100/255 - mean) / std", bad);
    api->destroy(aug);

    /* size = 16 from a 32x32 input: resized, shape (3, 16, 16), constant stays constant. */
    const char *kv[] = {"size", "16", NULL};
    aug = make_aug(kv, S, S, &err);
    MT_CHECK(aug != NULL, "size 16: %s", err.msg);
    if (!aug) return;
    moco_image_shape os;
    api->output_shape(aug, &os);
    MT_CHECK(os.channels == 3 && os.height == 16 && os.width == 16, "output %dx%d", os.height,
             os.width);
    memset(out, 0, sizeof out);
    api->apply_eval(aug, out, img, &err);
    bad = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 256; i++)
            bad += fabsf(out[c * 256 + i] - (100.0f / 255.0f - MEAN[c]) / STD[c]) > 1e-6f;
    MT_CHECK(bad == 0 && out[3 * 256] == 0, "resized constant image: %d bad", bad);
    /* Downsampling 2x with align_corners=False averages 2x2 blocks exactly:
     * src = 2 (d + 0.5) - 0.5 = 2d + 0.5. */
    uint8_t ramp[3 * N];
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) ramp[c * N + y * S + x] = (uint8_t)(4 * x + 2 * y + c);
    api->apply_eval(aug, out, ramp, &err);
    bad = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++) {
                /* mean of 4(2x), 4(2x+1), 2(2y), 2(2y+1): 8x + 2 + 4y + 1 + c */
                float want = ((float)(8 * x + 4 * y + 3 + c) / 255.0f - MEAN[c]) / STD[c];
                bad += fabsf(out[c * 256 + y * 16 + x] - want) > 1e-6f;
            }
    MT_CHECK(bad == 0, "%d values differ from the 2x2 block means", bad);
    api->destroy(aug);
}

static void test_whole_crop_equals_eval(void) {
    const char *kv[] = {"crop_scale_min", "1", "crop_scale_max", "1", "crop_ratio_min", "1",
                        "crop_ratio_max", "1", "flip", "false", "jitter", "false",
                        "grayscale_p", "0", NULL};
    moco_error err;
    void *aug = make_aug(kv, S, S, &err);
    MT_CHECK(aug != NULL, "create: %s", err.msg);
    if (!aug) return;
    uint8_t img[3 * N];
    random_image(img, 3 * N, 21);
    static float a[3 * N], e[3 * N];
    api->apply_eval(aug, e, img, &err);
    int differ = 0;
    for (uint64_t s = 0; s < 20; s++) {
        api->apply(aug, a, img, s, &err);
        differ += memcmp(a, e, sizeof a) != 0;
    }
    MT_CHECK(differ == 0, "%d of 20 views differ from apply_eval", differ);
    /* and eval is x/255 normalised, pixel by pixel */
    int bad = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < N; i++)
            bad += e[c * N + i] != ((float)img[c * N + i] / 255.0f - MEAN[c]) / STD[c];
    MT_CHECK(bad == 0, "%d eval values differ from (x/255 - mean)/std", bad);
    api->destroy(aug);
}

static void test_flip_only(void) {
    const char *kv[] = {"crop", "false", "flip", "true", "flip_p", "1", "jitter", "false",
                        "grayscale_p", "0", NULL};
    moco_error err;
    void *aug = make_aug(kv, S, S, &err);
    MT_CHECK(aug != NULL, "create: %s", err.msg);
    if (!aug) return;
    uint8_t img[3 * N];
    random_image(img, 3 * N, 33);
    static float a[3 * N], e[3 * N];
    api->apply_eval(aug, e, img, &err);
    int bad = 0;
    for (uint64_t s = 0; s < 5; s++) {
        api->apply(aug, a, img, s, &err);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    bad += a[c * N + y * S + x] != e[c * N + y * S + (S - 1 - x)];
    }
    MT_CHECK(bad == 0, "%d values are not the mirror image", bad);
    api->destroy(aug);
}

static void test_grayscale_only(void) {
    const char *kv[] = {"crop", "false", "flip", "false", "jitter", "false", "grayscale_p", "1",
                        NULL};
    moco_error err;
    void *aug = make_aug(kv, S, S, &err);
    MT_CHECK(aug != NULL, "create: %s", err.msg);
    if (!aug) return;
    uint8_t img[3 * N];
    random_image(img, 3 * N, 44);
    static float a[3 * N];
    api->apply(aug, a, img, 99, &err);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        float r = a[i] * STD[0] + MEAN[0], g = a[N + i] * STD[1] + MEAN[1],
              b = a[2 * N + i] * STD[2] + MEAN[2];
        float want = 0.2989f * (img[i] / 255.0f) + 0.587f * (img[N + i] / 255.0f) +
                     0.114f * (img[2 * N + i] / 255.0f);
        bad += fabsf(r - g) > 1e-5f || fabsf(g - b) > 1e-5f || fabsf(r - want) > 1e-5f;
    }
    MT_CHECK(bad == 0, "%d pixels are not gray = 0.2989 R + 0.587 G + 0.114 B", bad);
    api->destroy(aug);
}

static void test_jitter_always(void) {
    /* jitter_p = 1 with only brightness: every view is a brightness scaling
     * of the eval view, by one factor in [0.6, 1.4]. */
    const char *kv[] = {"crop", "false", "flip", "false", "jitter_p", "1", "contrast", "0",
                        "saturation", "0", "hue", "0", "grayscale_p", "0", NULL};
    moco_error err;
    void *aug = make_aug(kv, S, S, &err);
    MT_CHECK(aug != NULL, "create: %s", err.msg);
    if (!aug) return;
    static uint8_t img[3 * N];
    for (int i = 0; i < 3 * N; i++) img[i] = (uint8_t)(60 + i % 100); /* < 160: no clamping */
    static float a[3 * N];
    double lo = 9, hi = 0;
    int inconsistent = 0;
    for (uint64_t s = 0; s < 300; s++) {
        api->apply(aug, a, img, s, &err);
        double f0 = (a[0] * STD[0] + MEAN[0]) / (img[0] / 255.0);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < N; i += 37) {
                double f = (a[c * N + i] * STD[c] + MEAN[c]) / (img[c * N + i] / 255.0);
                inconsistent += fabs(f - f0) > 1e-4;
            }
        lo = fmin(lo, f0);
        hi = fmax(hi, f0);
    }
    MT_CHECK(inconsistent == 0, "%d pixels scaled by another factor", inconsistent);
    MT_CHECK(lo >= 0.6 - 1e-4 && hi <= 1.4 + 1e-4 && lo < 0.7 && hi > 1.3,
             "brightness factors span [%g, %g], expected within and near [0.6, 1.4]", lo, hi);
    api->destroy(aug);
}

static void test_throughput(void) {
    moco_error err;
    void *aug = make_aug(NULL, S, S, &err);
    if (!aug) return;
    uint8_t img[3 * N];
    random_image(img, 3 * N, 55);
    static float v[3 * N];
    int views = 0;
    double t0 = now(), t1;
    double sink = 0;
    do {
        for (int i = 0; i < 500; i++, views++) {
            api->apply(aug, v, img, (uint64_t)views, &err);
            sink += v[views % (3 * N)];
        }
        t1 = now();
    } while (t1 - t0 < 1.0);
    double rate = views / (t1 - t0);
    int evals = 0;
    double t2 = now(), t3;
    do {
        for (int i = 0; i < 2000; i++, evals++) {
            api->apply_eval(aug, v, img, &err);
            sink += v[evals % (3 * N)];
        }
        t3 = now();
    } while (t3 - t2 < 0.5);
    printf("mocoaug throughput (default MoCo pipeline, 32x32, one thread): %.0f views/s "
           "(%.1f us/view); apply_eval %.0f images/s [checksum %g]\n",
           rate, 1e6 / rate, evals / (t3 - t2), sink);
    MT_CHECK(rate > 0, "measured");
    api->destroy(aug);
}

int main(void) {
    MT_RUN(test_bilinear_upsample);
    MT_RUN(test_bilinear_downsample);
    MT_RUN(test_round_half_even);
    MT_RUN(test_crop_box_and_flip);
    MT_RUN(test_crop_params);
    MT_RUN(test_crop_fallback);
    MT_RUN(test_hue_identity);
    MT_RUN(test_hue_shift);
    MT_RUN(test_colour_ops);
    MT_RUN(test_entry);
    MT_RUN(test_determinism);
    MT_RUN(test_grayscale_rate);
    MT_RUN(test_eval_constant);
    MT_RUN(test_whole_crop_equals_eval);
    MT_RUN(test_flip_only);
    MT_RUN(test_grayscale_only);
    MT_RUN(test_jitter_always);
    MT_RUN(test_throughput);
    return mt_finish();
}
