/* mocoaug: the MoCo v1/v2 augmentation pipeline as an augment plugin.
 *
 *   RandomResizedCrop(size, scale, ratio)   [crop]
 *   RandomHorizontalFlip(flip_p)            [flip]
 *   RandomApply([ColorJitter(b, c, s, h)], p=jitter_p)   [jitter]
 *   RandomGrayscale(grayscale_p)
 *   ToTensor (/255), Normalize(mean, std)
 *
 * Semantics follow torchvision on uint8 tensors (see aug_ops.h); flip is
 * folded into the resize's column table. The flip commutes with every later
 * step, so its place in the list only fixes the order of random draws.
 * All randomness comes from a moco_rng seeded with `seed`: a view is a pure
 * function of (src, seed, config).
 *
 * INI keys (defaults): crop = true, crop_scale_min = 0.2, crop_scale_max = 1.0,
 * crop_ratio_min = 0.75, crop_ratio_max = 1.3333333 (4/3), size = 32,
 * flip = true, flip_p = 0.5, jitter = true, jitter_p = 0.8, brightness = 0.4,
 * contrast = 0.4, saturation = 0.4, hue = 0.4, grayscale_p = 0.2,
 * mean = 0.4914,0.4822,0.4465, std = 0.2470,0.2435,0.2616. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aug_ops.h"
#include "moco/augment.h"
#include "moco/rng.h"

typedef struct mocoaug {
    int32_t in_c, in_h, in_w;
    int32_t size;
    int32_t crop, flip, jitter;
    double scale_min, scale_max, ratio_min, ratio_max;
    double flip_p, jitter_p, grayscale_p;
    double brightness, contrast, saturation, hue;
    float mean[3], std[3];
} mocoaug;

/* "a,b,c" -> three finite floats; errors name the key. */
static int32_t cfg_triple(const moco_host *h, const char *key, const char *def, int positive,
                          float out[3], moco_error *err) {
    const char *v;
    moco_cfg_str(h, key, def, &v, err);
    const char *p = v;
    int n = 0;
    for (;;) {
        char *end;
        double x = strtod(p, &end);
        if (end == p || !isfinite(x))
            return moco_cfg_errorf(h, key, err,
                                   "expected 3 comma-separated numbers (one per RGB channel). "
                                   "HINT: write e.g. %s = %s",
                                   key, def);
        if (n == 3)
            return moco_cfg_errorf(h, key, err,
                                   "more than 3 numbers. HINT: give one per RGB channel, "
                                   "e.g. %s = %s",
                                   key, def);
        if (positive && !(x > 0))
            return moco_cfg_errorf(h, key, err,
                                   "%g is not positive. HINT: standard deviations must be > 0",
                                   x);
        out[n++] = (float)x;
        while (*end == ' ' || *end == '\t') end++;
        if (*end == 0) break;
        if (*end != ',')
            return moco_cfg_errorf(h, key, err,
                                   "unexpected '%c'. HINT: separate the numbers with commas, "
                                   "e.g. %s = %s",
                                   *end, key, def);
        p = end + 1;
    }
    if (n != 3)
        return moco_cfg_errorf(h, key, err,
                               "%d number%s, expected 3 (one per RGB channel). HINT: write e.g. "
                               "%s = %s",
                               n, n == 1 ? "" : "s", key, def);
    return MOCO_OK;
}

/* Whether the section sets `key` (to blame the key the user wrote). */
static int present(const moco_host *h, const char *key) {
    const char *v;
    int32_t line;
    return h && h->config_get && h->config_get(h->ctx, key, &v, &line);
}

static int32_t read_config(mocoaug *a, const moco_host *h, moco_error *err) {
    int64_t size;
    int32_t rc;
    if ((rc = moco_cfg_bool(h, "crop", 1, &a->crop, err)) ||
        (rc = moco_cfg_float(h, "crop_scale_min", 0.2, 1e-6, 1.0, &a->scale_min, err)) ||
        (rc = moco_cfg_float(h, "crop_scale_max", 1.0, 1e-6, 1.0, &a->scale_max, err)) ||
        (rc = moco_cfg_float(h, "crop_ratio_min", 0.75, 1e-3, 1e3, &a->ratio_min, err)) ||
        (rc = moco_cfg_float(h, "crop_ratio_max", 4.0 / 3.0, 1e-3, 1e3, &a->ratio_max, err)) ||
        (rc = moco_cfg_int(h, "size", 32, 1, AUG_MAX_SIDE, &size, err)) ||
        (rc = moco_cfg_bool(h, "flip", 1, &a->flip, err)) ||
        (rc = moco_cfg_float(h, "flip_p", 0.5, 0.0, 1.0, &a->flip_p, err)) ||
        (rc = moco_cfg_bool(h, "jitter", 1, &a->jitter, err)) ||
        (rc = moco_cfg_float(h, "jitter_p", 0.8, 0.0, 1.0, &a->jitter_p, err)) ||
        (rc = moco_cfg_float(h, "brightness", 0.4, 0.0, 1e3, &a->brightness, err)) ||
        (rc = moco_cfg_float(h, "contrast", 0.4, 0.0, 1e3, &a->contrast, err)) ||
        (rc = moco_cfg_float(h, "saturation", 0.4, 0.0, 1e3, &a->saturation, err)) ||
        (rc = moco_cfg_float(h, "hue", 0.4, -1e9, 1e9, &a->hue, err)) ||
        (rc = moco_cfg_float(h, "grayscale_p", 0.2, 0.0, 1.0, &a->grayscale_p, err)) ||
        (rc = cfg_triple(h, "mean", "0.4914,0.4822,0.4465", 0, a->mean, err)) ||
        (rc = cfg_triple(h, "std", "0.2470,0.2435,0.2616", 1, a->std, err)))
        return rc;
    a->size = (int32_t)size;
    if (a->scale_min > a->scale_max)
        return moco_cfg_errorf(h, present(h, "crop_scale_min") ? "crop_scale_min" : "crop_scale_max",
                               err,
                               "crop_scale_min = %g is greater than crop_scale_max = %g. HINT: "
                               "the area fraction range needs crop_scale_min <= crop_scale_max "
                               "(MoCo uses 0.2 and 1.0)",
                               a->scale_min, a->scale_max);
    if (a->ratio_min > a->ratio_max)
        return moco_cfg_errorf(h, present(h, "crop_ratio_min") ? "crop_ratio_min" : "crop_ratio_max",
                               err,
                               "crop_ratio_min = %g is greater than crop_ratio_max = %g. HINT: "
                               "the aspect ratio range needs crop_ratio_min <= crop_ratio_max "
                               "(MoCo uses 0.75 and 4/3)",
                               a->ratio_min, a->ratio_max);
    if (!(a->hue >= 0.0 && a->hue <= 0.5))
        return moco_cfg_errorf(h, "hue", err,
                               "out of range: the hue shift is a fraction of the colour wheel "
                               "drawn from [-hue, hue] and must lie in [0, 0.5]. HINT: use a "
                               "value in [0, 0.5] (MoCo v1 uses 0.4, v2 0.1)");
    return MOCO_OK;
}

static int32_t aug_create(const moco_host *host, const moco_image_shape *in, void **out,
                          moco_error *err) {
    mocoaug cfg;
    memset(&cfg, 0, sizeof cfg);
    int32_t rc = read_config(&cfg, host, err);
    if (rc) return rc;
    if (!in || in->channels != 3 || in->height < 1 || in->width < 1)
        return moco_errorf(err, MOCO_ERR_UNSUPPORTED,
                           "mocoaug: input images of shape (%d, %d, %d) are not supported: "
                           "colour jitter needs RGB (3, H, W). HINT: use a dataset with "
                           "3-channel images",
                           in ? (int)in->channels : 0, in ? (int)in->height : 0,
                           in ? (int)in->width : 0);
    cfg.in_c = in->channels;
    cfg.in_h = in->height;
    cfg.in_w = in->width;
    mocoaug *a = malloc(sizeof *a);
    if (!a) return moco_errorf(err, MOCO_ERR_NOMEM, "mocoaug: out of memory");
    *a = cfg;
    moco_logf(host, MOCO_LOG_DEBUG,
              "mocoaug: %dx%d -> %dx%d, crop %d [%g, %g] ratio [%g, %g], flip %d (p %g), "
              "jitter %d (p %g: %g %g %g %g), grayscale p %g",
              a->in_h, a->in_w, a->size, a->size, a->crop, a->scale_min, a->scale_max,
              a->ratio_min, a->ratio_max, a->flip, a->flip_p, a->jitter, a->jitter_p,
              a->brightness, a->contrast, a->saturation, a->hue, a->grayscale_p);
    *out = a;
    return MOCO_OK;
}

static void aug_destroy(void *p) { free(p); }

static void aug_output_shape(void *p, moco_image_shape *out) {
    const mocoaug *a = p;
    out->channels = 3;
    out->height = a->size;
    out->width = a->size;
    out->reserved0 = 0;
}

static void normalize(const mocoaug *a, float *dst) {
    int64_t n = (int64_t)a->size * a->size;
    for (int c = 0; c < 3; c++) {
        float m = a->mean[c], s = a->std[c];
        float *x = dst + c * n; // (size, size)
        for (int64_t i = 0; i < n; i++) x[i] = (x[i] - m) / s;
    }
}

/* ColorJitter factor: uniform in [max(0, 1 - s), 1 + s]; 0 disables. */
static int draw_factor(moco_rng *r, double strength, float *out) {
    if (strength <= 0.0) return 0;
    double lo = 1.0 - strength < 0.0 ? 0.0 : 1.0 - strength;
    *out = (float)moco_rng_range(r, lo, 1.0 + strength);
    return 1;
}

static int32_t aug_apply(void *p, float *dst, const uint8_t *src, uint64_t seed,
                         moco_error *err) {
    const mocoaug *a = p;
    moco_rng r;
    moco_rng_seed(&r, seed);
    aug_box box = {0, 0, a->in_h, a->in_w};
    if (a->crop)
        box = aug_crop_params(&r, a->in_h, a->in_w, a->scale_min, a->scale_max, a->ratio_min,
                              a->ratio_max);
    int flip = a->flip && moco_rng_uniform(&r) < a->flip_p;
    aug_resize_crop(dst, src, 3, a->in_h, a->in_w, box, a->size, a->size, flip, 1); // (3, size, size)
    int64_t n = (int64_t)a->size * a->size;
    if (a->jitter && moco_rng_uniform(&r) < a->jitter_p) {
        /* ColorJitter.get_params: a random order (randperm(4)), then the
         * factors of the enabled transforms. */
        int order[4] = {0, 1, 2, 3};
        for (int i = 3; i > 0; i--) {
            int j = (int)moco_rng_below(&r, (uint64_t)(i + 1));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        float fb = 1, fc = 1, fs = 1, fh = 0;
        int use_b = draw_factor(&r, a->brightness, &fb);
        int use_c = draw_factor(&r, a->contrast, &fc);
        int use_s = draw_factor(&r, a->saturation, &fs);
        int use_h = a->hue > 0.0;
        if (use_h) fh = (float)moco_rng_range(&r, -a->hue, a->hue);
        for (int k = 0; k < 4; k++) {
            switch (order[k]) {
            case 0: if (use_b) aug_brightness(dst, n, fb); break;
            case 1: if (use_c) aug_contrast(dst, n, fc); break;
            case 2: if (use_s) aug_saturation(dst, n, fs); break;
            default: if (use_h) aug_hue(dst, n, fh); break;
            }
        }
    }
    if (a->grayscale_p > 0.0 && moco_rng_uniform(&r) < a->grayscale_p) aug_grayscale(dst, n);
    normalize(a, dst);
    return MOCO_OK;
}

static int32_t aug_apply_eval(void *p, float *dst, const uint8_t *src, moco_error *err) {
    const mocoaug *a = p;
    aug_box box = {0, 0, a->in_h, a->in_w};
    aug_resize_crop(dst, src, 3, a->in_h, a->in_w, box, a->size, a->size, 0, 1); // (3, size, size)
    normalize(a, dst);
    return MOCO_OK;
}

static const moco_augment_api mocoaug_api = {
    MOCO_SDK_VERSION_INIT, aug_create, aug_destroy, aug_output_shape, aug_apply,
    aug_apply_eval,
};

MOCO_PLUGIN(MOCO_KIND_AUGMENT, "mocoaug", "1.0.0",
            "MoCo v1/v2 augmentation: resized crop, flip, colour jitter, grayscale, normalise",
            &mocoaug_api);
