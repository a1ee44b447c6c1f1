/* simpleaug — an example augmentation plugin for the moco SDK.
 *
 * The classic CIFAR training transform, in torchvision terms:
 *   RandomCrop(size = input size, padding = pad)   zero padding
 *   RandomHorizontalFlip(p = 0.5)                  when flip = true
 *   ToTensor() (/255), Normalize(mean, std)
 * apply_eval() is ToTensor + Normalize only.
 *
 * The contract that matters most for an augmentation: apply() is called from
 * libuv worker threads, several at once, on the same instance. So the
 * instance is read-only after create(), and all randomness comes from the
 * `seed` argument through a local moco_rng: a view is a pure function of
 * (image, seed, config), which makes prefetching and resuming exact.
 *
 * INI keys of the section (defaults):
 *   pad  = 4        zero padding on each side before the random crop (0..64)
 *   flip = true     random horizontal flip with probability 1/2
 *   mean = 0.4914,0.4822,0.4465   one number per channel, or one for all
 *   std  = 0.2470,0.2435,0.2616   (CIFAR-10's; for other than 3 channels the
 *                                  defaults are 0.5 and 0.5) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moco/augment.h"
#include "moco/rng.h"
#include "moco/sdk.h"

#define SA_MAX_CHANNELS 16
#define SA_MAX_PAD 64

typedef struct simpleaug {
    int32_t c, h, w;                  /* input = output shape */
    int32_t pad, flip;
    float scale[SA_MAX_CHANNELS];     /* 1 / (255 std): pixel -> normalised */
    float offset[SA_MAX_CHANNELS];    /* -mean / std */
} simpleaug;

/* [main] Parse `key` as `c` comma-separated numbers (or one number for every
 * channel) into out. positive != 0 requires > 0. Errors name file:line. */
static int32_t cfg_list(const moco_host *h, const char *key, const char *def, int32_t c,
                        int positive, float *out, moco_error *err) {
    const char *text;
    int32_t rc = moco_cfg_str(h, key, def, &text, err);
    if (rc) return rc;
    int32_t n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || (positive && !(v > 0)))
            return moco_cfg_errorf(h, key, err,
                                   "expected %s numbers separated by commas. HINT: write one "
                                   "number per channel (%d) or one for all, e.g. %s = %s",
                                   positive ? "positive" : "finite", (int)c, key,
                                   positive ? "0.25" : "0.5");
        if (n == c)
            return moco_cfg_errorf(h, key, err,
                                   "more than %d numbers for %d-channel images. HINT: write "
                                   "one number per channel or one for all", (int)c, (int)c);
        out[n++] = (float)v;
        while (*end == ' ' || *end == '\t') end++;
        if (!*end) break;
        if (*end != ',')
            return moco_cfg_errorf(h, key, err,
                                   "unexpected '%c'. HINT: separate the numbers with commas",
                                   *end);
        p = end + 1;
    }
    if (n == 1)
        for (int32_t i = 1; i < c; i++) out[i] = out[0];
    else if (n != c)
        return moco_cfg_errorf(h, key, err,
                               "%d numbers for %d-channel images. HINT: write one number per "
                               "channel or one for all", (int)n, (int)c);
    return MOCO_OK;
}

/* [main] Read the keys for input images of shape `in` (= the output shape).
 * On success *out is the caller's until destroy(); on failure it stays NULL
 * and err says what to change. */
static int32_t sa_create(const moco_host *host, const moco_image_shape *in, void **out,
                         moco_error *err) {
    *out = NULL;
    if (!in || in->channels < 1 || in->channels > SA_MAX_CHANNELS || in->height < 1 ||
        in->width < 1)
        return moco_errorf(err, MOCO_ERR_UNSUPPORTED,
                           "input images of shape (%d, %d, %d) are not supported. "
                           "HINT: use a dataset with 1..%d channels and a non-empty size",
                           in ? (int)in->channels : 0, in ? (int)in->height : 0,
                           in ? (int)in->width : 0, SA_MAX_CHANNELS);
    simpleaug cfg = {.c = in->channels, .h = in->height, .w = in->width};
    int64_t pad;
    float mean[SA_MAX_CHANNELS], std[SA_MAX_CHANNELS];
    const int rgb = cfg.c == 3;
    int32_t rc;
    /* Look every key up, even with its default, so the host knows it. */
    if ((rc = moco_cfg_int(host, "pad", 4, 0, SA_MAX_PAD, &pad, err)) ||
        (rc = moco_cfg_bool(host, "flip", 1, &cfg.flip, err)) ||
        (rc = cfg_list(host, "mean", rgb ? "0.4914,0.4822,0.4465" : "0.5", cfg.c, 0, mean,
                       err)) ||
        (rc = cfg_list(host, "std", rgb ? "0.2470,0.2435,0.2616" : "0.5", cfg.c, 1, std,
                       err)))
        return rc;
    cfg.pad = (int32_t)pad;
    for (int32_t i = 0; i < cfg.c; i++) {
        cfg.scale[i] = 1.0f / (255.0f * std[i]);
        cfg.offset[i] = -mean[i] / std[i];
    }
    simpleaug *a = malloc(sizeof *a);
    if (!a) return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory. HINT: free some memory");
    *a = cfg;
    moco_logf(host, MOCO_LOG_DEBUG, "simpleaug: %dx%dx%d, pad %d, flip %d", (int)a->c,
              (int)a->h, (int)a->w, (int)a->pad, (int)a->flip);
    *out = a;
    return MOCO_OK;
}

/* [main] NULL is a no-op. */
static void sa_destroy(void *p) { free(p); }

/* [any] Views have the input's shape (the crop undoes the padding). */
static void sa_output_shape(void *p, moco_image_shape *out) {
    const simpleaug *a = p;
    *out = (moco_image_shape){a->c, a->h, a->w, 0};
}

/* [any] dst (c, h, w) from src (c, h, w) uint8: crop the window at (dy, dx)
 * of the zero-padded image, flipped or not, and normalise. Output pixel
 * (y, x) reads padded (y + dy, x' + dx), x' = w-1-x when flipped (torchvision
 * flips the crop), i.e. source (y + dy - pad, x' + dx - pad). */
static void crop_flip_normalise(const simpleaug *a, float *dst, const uint8_t *src, int32_t dy,
                                int32_t dx, int32_t flip) {
    for (int32_t ch = 0; ch < a->c; ch++) {
        const uint8_t *plane = src + (int64_t)ch * a->h * a->w; // (h, w)
        float *o = dst + (int64_t)ch * a->h * a->w;             // (h, w)
        const float s = a->scale[ch], b = a->offset[ch];
        for (int32_t y = 0; y < a->h; y++) {
            const int32_t sy = y + dy - a->pad;
            for (int32_t x = 0; x < a->w; x++) {
                const int32_t sx = (flip ? a->w - 1 - x : x) + dx - a->pad;
                const int inside = sy >= 0 && sy < a->h && sx >= 0 && sx < a->w;
                /* padding is a 0 pixel, which normalises to -mean/std */
                o[y * a->w + x] = (inside ? (float)plane[sy * a->w + sx] : 0.0f) * s + b;
            }
        }
    }
}

/* [any] One random view. Reads only the instance (immutable after create)
 * and its arguments: safe on several threads at once. dst is the caller's. */
static int32_t sa_apply(void *p, float *dst, const uint8_t *src, uint64_t seed,
                        moco_error *err) {
    const simpleaug *a = p;
    (void)err;   /* nothing here can fail */
    moco_rng r;
    moco_rng_seed(&r, seed);
    /* Draw order is part of the output: offsets first, then the flip. */
    int32_t dy = (int32_t)moco_rng_below(&r, (uint64_t)(2 * a->pad + 1));
    int32_t dx = (int32_t)moco_rng_below(&r, (uint64_t)(2 * a->pad + 1));
    int32_t flip = a->flip && moco_rng_uniform(&r) < 0.5;
    crop_flip_normalise(a, dst, src, dy, dx, flip);
    return MOCO_OK;
}

/* [any] The deterministic evaluation transform: normalise only. */
static int32_t sa_apply_eval(void *p, float *dst, const uint8_t *src, moco_error *err) {
    const simpleaug *a = p;
    (void)err;
    crop_flip_normalise(a, dst, src, a->pad, a->pad, 0);   /* the centre window = no crop */
    return MOCO_OK;
}

static const moco_augment_api sa_api = {
    MOCO_SDK_VERSION_INIT, sa_create, sa_destroy, sa_output_shape, sa_apply, sa_apply_eval,
};

MOCO_PLUGIN(MOCO_KIND_AUGMENT, "simpleaug", "1.0.0",
            "example pad-and-crop + flip + normalise (INI: pad, flip, mean, std)", &sa_api);
