/* mocoaug's image operations (plugins/mocoaug/aug_ops.c) against
 * torchvision 0.14's tensor functions on the same data:
 *  - resized crop, bilinear, antialias=False, for fixed boxes (identity,
 *    down-scale, up-scale, thin, 1x1, corners) on a 3x40x48 uint8 image to
 *    24x24, with and without a horizontal flip:
 *      * quantised output (F.resized_crop on the uint8 tensor: rounded back
 *        to uint8) within one grey level, and counted exact matches;
 *      * unrounded output (F.resized_crop on img.float()) to 1e-3 grey levels;
 *  - adjust_brightness / contrast / saturation / hue and rgb_to_grayscale on
 *    a float image in [0, 1], for fixed factors, one op at a time and as a
 *    chain (brightness, contrast, saturation, hue, grayscale). */
#include <math.h>

#include "aug_ops.h"
#include "fixture.h"

#define TOL_CROP_LEVELS 1        /* quantised output: grey levels */
/* Unrounded crop: x max|ref| (~255), so ~5e-4 grey levels. torch 1.13
 * computes the source coordinate scale * (dst + 0.5) - 0.5 in double and
 * rounds the weight to float; aug_ops.c computes it in float, which moves
 * weights by up to ~1e-6, i.e. up to ~1.4e-4 grey levels here (see
 * docs/reference-tests.md). */
#define TOL_CROP_RAW_ATOL 2e-6
#define TOL_CROP_RAW_RTOL 0.0
#define TOL_COLOR_ATOL 1e-6
#define TOL_COLOR_RTOL 0.0
#define TOL_HUE_ATOL 1e-6

static void test_resized_crop(void) {
    ref_fixture f;
    ref_open(&f, "augment.bin");
    const ref_tensor *ti = ref_find(&f, "image"), *tb = ref_find(&f, "boxes");
    MT_CHECK(ti && tb && ti->dtype == REF_U8 && ti->ndim == 3 && tb->ndim == 2, "fixture shapes");
    if (!ti || !tb) return;
    const int32_t c = (int32_t)ti->shape[0], h = (int32_t)ti->shape[1], w = (int32_t)ti->shape[2];
    const int32_t nbox = (int32_t)tb->shape[0];
    const int32_t out = (int32_t)ref_i64s(&f, "out_size", 1)[0];
    const int64_t per = (int64_t)c * out * out;
    const uint8_t *img = ti->data;
    const int64_t *boxes = tb->data, *flips = ref_i64s(&f, "flips", nbox);
    const uint8_t *want8 = ref_get(&f, "crops_u8", REF_U8, nbox * per);
    const float *wantf = ref_f32(&f, "crops_f32", nbox * per);

    float *o = malloc((size_t)per * sizeof(float));
    ref_stat s_raw;
    ref_stat_init(&s_raw, "resized crop unrounded (0..255)", TOL_CROP_RAW_ATOL, TOL_CROP_RAW_RTOL);
    long exact = 0, total = 0, bad = 0, worst_level = 0;
    char worst[96] = "-";
    for (int32_t b = 0; b < nbox; b++) {
        aug_box box = {(int32_t)boxes[4 * b], (int32_t)boxes[4 * b + 1], (int32_t)boxes[4 * b + 2],
                       (int32_t)boxes[4 * b + 3]};
        char name[96];
        snprintf(name, sizeof name, "box %d (%d,%d %dx%d%s)", (int)b, box.top, box.left,
                 box.height, box.width, flips[b] ? ", flipped" : "");
        /* quantised: ours is round(v) / 255, torchvision's round(v) as uint8 */
        aug_resize_crop(o, img, c, h, w, box, out, out, (int32_t)flips[b], 1);
        for (int64_t i = 0; i < per; i++) {
            long d = labs(lrintf(o[i] * 255.0f) - (long)want8[b * per + i]);
            exact += d == 0;
            total++;
            if (d > TOL_CROP_LEVELS) {
                if (!bad)
                    fprintf(stderr, "  MISMATCH %s value %lld: ours %ld, torchvision %d\n", name,
                            (long long)i, lrintf(o[i] * 255.0f), (int)want8[b * per + i]);
                bad++;
            }
            if (d > worst_level) {
                worst_level = d;
                snprintf(worst, sizeof worst, "%s", name);
            }
        }
        /* unrounded */
        aug_resize_crop(o, img, c, h, w, box, out, out, (int32_t)flips[b], 0);
        ref_cmp(&s_raw, name, o, wantf + b * per, per);
    }
    printf("REF %-40s %4d tensors %7ld values  max abs %ld grey level(s), %ld of %ld identical  "
           "tol %d level  worst %s\n", "resized crop uint8", (int)nbox, total, worst_level, exact,
           total, TOL_CROP_LEVELS, worst);
    MT_CHECK(bad == 0, "%ld values more than %d grey level(s) from torchvision", bad, TOL_CROP_LEVELS);
    ref_report(&s_raw);
    free(o);
    ref_fixture_free(&f);
}

static void test_color_ops(void) {
    ref_fixture f;
    ref_open(&f, "augment.bin");
    const ref_tensor *tin = ref_find(&f, "color_in"), *tf = ref_find(&f, "color_factors");
    MT_CHECK(tin && tf && tin->ndim == 3 && tin->shape[0] == 3 && tf->ndim == 2, "fixture shapes");
    if (!tin || !tf) return;
    const int64_t n = tin->shape[1] * tin->shape[2], per = 3 * n;
    const int32_t nf = (int32_t)tf->shape[0];
    const float *in = tin->data, *fac = tf->data;
    float *x = malloc((size_t)per * sizeof(float));
    const char *ops[] = {"brightness", "contrast", "saturation", "hue", "chain"};
    ref_stat s_c, s_h;
    ref_stat_init(&s_c, "color jitter b/c/s, grayscale", TOL_COLOR_ATOL, TOL_COLOR_RTOL);
    ref_stat_init(&s_h, "color jitter hue (+chain)", TOL_HUE_ATOL, 0);
    for (int32_t op = 0; op < 5; op++) {
        char key[64];
        snprintf(key, sizeof key, "color_%s", ops[op]);
        const float *want = ref_f32(&f, key, nf * per);
        for (int32_t k = 0; k < nf; k++) {
            const float *fk = fac + 4 * k;
            memcpy(x, in, (size_t)per * sizeof(float));
            switch (op) {
            case 0: aug_brightness(x, n, fk[0]); break;
            case 1: aug_contrast(x, n, fk[1]); break;
            case 2: aug_saturation(x, n, fk[2]); break;
            case 3: aug_hue(x, n, fk[3]); break;
            default:
                aug_brightness(x, n, fk[0]);
                aug_contrast(x, n, fk[1]);
                aug_saturation(x, n, fk[2]);
                aug_hue(x, n, fk[3]);
                aug_grayscale(x, n);
            }
            char name[96];
            snprintf(name, sizeof name, "%s (factors %g %g %g %g)", ops[op], (double)fk[0],
                     (double)fk[1], (double)fk[2], (double)fk[3]);
            ref_cmp(op >= 3 ? &s_h : &s_c, name, x, want + k * per, per);
        }
    }
    memcpy(x, in, (size_t)per * sizeof(float));
    aug_grayscale(x, n);
    ref_cmp(&s_c, "grayscale", x, ref_f32(&f, "color_grayscale", per), per);
    ref_report(&s_c);
    ref_report(&s_h);
    free(x);
    ref_fixture_free(&f);
}

int main(void) {
    MT_RUN(test_resized_crop);
    MT_RUN(test_color_ops);
    return mt_finish();
}
