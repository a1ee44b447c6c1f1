/* torchvision-equivalent image operations for mocoaug (see aug_ops.h).
 * Arithmetic is float32 in the same order as PyTorch's CPU kernels so that
 * the only differences from torchvision are the random numbers. */
#include "aug_ops.h"

#include <math.h>

static inline float clamp01(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline float max2(float a, float b) { return a > b ? a : b; }
static inline float min2(float a, float b) { return a < b ? a : b; }

/* Round to the nearest integer, ties to even, for 0 <= x < 2^23: adding
 * 2^23 leaves no fraction bits, so the FPU's default rounding (to nearest,
 * ties to even) does the work. Same result as nearbyintf, without a libm
 * call per pixel; strict C semantics keep the compiler from folding it. */
static inline float round_half_even(float x) {
    const float two23 = 8388608.0f;
    return (x + two23) - two23;
}

aug_box aug_crop_params(moco_rng *r, int32_t height, int32_t width, double scale_min,
                        double scale_max, double ratio_min, double ratio_max) {
    double area = (double)height * (double)width;
    double log_r0 = log(ratio_min), log_r1 = log(ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target_area = area * moco_rng_range(r, scale_min, scale_max);
        double aspect = exp(moco_rng_range(r, log_r0, log_r1));
        /* Python's round(): half to even, as nearbyint in the default mode. */
        double w = nearbyint(sqrt(target_area * aspect));
        double h = nearbyint(sqrt(target_area / aspect));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            aug_box b;
            b.height = (int32_t)h;
            b.width = (int32_t)w;
            b.top = (int32_t)moco_rng_below(r, (uint64_t)(height - b.height + 1));
            b.left = (int32_t)moco_rng_below(r, (uint64_t)(width - b.width + 1));
            return b;
        }
    }
    /* Fallback: centre crop with the aspect ratio clamped into range. */
    double in_ratio = (double)width / (double)height;
    aug_box b = {0, 0, height, width};
    if (in_ratio < ratio_min) {
        b.width = width;
        b.height = (int32_t)nearbyint(width / ratio_min);
    } else if (in_ratio > ratio_max) {
        b.height = height;
        b.width = (int32_t)nearbyint(height * ratio_max);
    }
    b.top = (height - b.height) / 2;
    b.left = (width - b.width) / 2;
    return b;
}

/* PyTorch's linear interpolation indices for one axis (align_corners=False):
 * src = scale * (dst + 0.5) - 0.5 clamped at 0, scale = in / out, in float;
 * index0 = floor(src) capped at len-1, index1 = index0 + (index0 < len-1). */
static void axis_table(int32_t *i0, int32_t *i1, float *l0, float *l1, int32_t out,
                       int32_t len, int32_t offset) {
    float scale = (float)len / (float)out;
    for (int32_t d = 0; d < out; d++) {
        float real = scale * ((float)d + 0.5f) - 0.5f;
        if (real < 0.0f) real = 0.0f;
        int32_t k = (int32_t)floorf(real);
        if (k > len - 1) k = len - 1;
        float lambda = real - (float)k;
        lambda = lambda < 0.0f ? 0.0f : (lambda > 1.0f ? 1.0f : lambda);
        i0[d] = offset + k;
        i1[d] = offset + k + (k < len - 1 ? 1 : 0);
        l1[d] = lambda;
        l0[d] = 1.0f - lambda;
    }
}

static void reverse_table(int32_t *i0, int32_t *i1, float *l0, float *l1, int32_t n) {
    for (int32_t a = 0, b = n - 1; a < b; a++, b--) {
        int32_t ti = i0[a]; i0[a] = i0[b]; i0[b] = ti;
        ti = i1[a]; i1[a] = i1[b]; i1[b] = ti;
        float tf = l0[a]; l0[a] = l0[b]; l0[b] = tf;
        tf = l1[a]; l1[a] = l1[b]; l1[b] = tf;
    }
}

void aug_resize_crop(float *dst, const uint8_t *src, int32_t c, int32_t h, int32_t w,
                     aug_box box, int32_t out_h, int32_t out_w, int32_t flip,
                     int32_t quantize) {
    int32_t yi0[AUG_MAX_SIDE], yi1[AUG_MAX_SIDE], xi0[AUG_MAX_SIDE], xi1[AUG_MAX_SIDE];
    float yl0[AUG_MAX_SIDE], yl1[AUG_MAX_SIDE], xl0[AUG_MAX_SIDE], xl1[AUG_MAX_SIDE];
    axis_table(yi0, yi1, yl0, yl1, out_h, box.height, box.top);
    axis_table(xi0, xi1, xl0, xl1, out_w, box.width, box.left);
    if (flip) reverse_table(xi0, xi1, xl0, xl1, out_w);
    for (int32_t ch = 0; ch < c; ch++) {
        const uint8_t *plane = src + (int64_t)ch * h * w; // (h, w)
        float *o = dst + (int64_t)ch * out_h * out_w;     // (out_h, out_w)
        for (int32_t y = 0; y < out_h; y++) {
            const uint8_t *row0 = plane + (int64_t)yi0[y] * w;
            const uint8_t *row1 = plane + (int64_t)yi1[y] * w;
            float a = yl0[y], b = yl1[y];
            float *orow = o + (int64_t)y * out_w;
            for (int32_t x = 0; x < out_w; x++) {
                /* Same association as PyTorch's Interpolate<2>: rows first. */
                float t0 = (float)row0[xi0[x]] * xl0[x] + (float)row0[xi1[x]] * xl1[x];
                float t1 = (float)row1[xi0[x]] * xl0[x] + (float)row1[xi1[x]] * xl1[x];
                float v = t0 * a + t1 * b;
                if (quantize) {
                    /* torchvision rounds (torch.round, half to even) before
                     * casting back to uint8; then ToTensor divides by 255. */
                    v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
                    v = round_half_even(v);
                    v = v / 255.0f;
                }
                orow[x] = v;
            }
        }
    }
}

void aug_brightness(float *img, int64_t n, float factor) {
    for (int64_t i = 0; i < 3 * n; i++) img[i] = clamp01(factor * img[i]);
}

static inline float gray_of(float r, float g, float b) {
    return AUG_GRAY_R * r + AUG_GRAY_G * g + AUG_GRAY_B * b;
}

void aug_contrast(float *img, int64_t n, float factor) {
    const float *r = img, *g = img + n, *b = img + 2 * n;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)gray_of(r[i], g[i], b[i]);
    float mean = (float)(sum / (double)n);
    float keep = factor, mix = (float)(1.0 - (double)factor);
    for (int64_t i = 0; i < 3 * n; i++) img[i] = clamp01(keep * img[i] + mix * mean);
}

void aug_saturation(float *img, int64_t n, float factor) {
    float *r = img, *g = img + n, *b = img + 2 * n;
    float keep = factor, mix = (float)(1.0 - (double)factor);
    for (int64_t i = 0; i < n; i++) {
        float gray = mix * gray_of(r[i], g[i], b[i]);
        r[i] = clamp01(keep * r[i] + gray);
        g[i] = clamp01(keep * g[i] + gray);
        b[i] = clamp01(keep * b[i] + gray);
    }
}

void aug_hue(float *img, int64_t n, float shift) {
    float *rp = img, *gp = img + n, *bp = img + 2 * n;
    for (int64_t i = 0; i < n; i++) {
        float r = rp[i], g = gp[i], b = bp[i];
        /* _rgb2hsv */
        float maxc = max2(max2(r, g), b), minc = min2(min2(r, g), b);
        int eqc = maxc == minc;
        float cr = maxc - minc;
        float s = cr / (eqc ? 1.0f : maxc);
        float crd = eqc ? 1.0f : cr;
        float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
        float hr = maxc == r ? bc - gc : 0.0f;
        float hg = (maxc == g && maxc != r) ? 2.0f + rc - bc : 0.0f;
        float hb = (maxc != g && maxc != r) ? 4.0f + gc - rc : 0.0f;
        /* torch.fmod(h / 6 + 1, 1): the argument lies in (5/6, 2), where
         * subtracting 1 when >= 1 is the same exact result. */
        float hue = (hr + hg + hb) / 6.0f + 1.0f;
        if (hue >= 1.0f) hue -= 1.0f;
        /* (h + shift) % 1.0 with torch.remainder's sign convention; the sum
         * lies in [-0.5, 1.5) so one correction suffices. */
        hue += shift;
        if (hue < 0.0f) hue += 1.0f;
        else if (hue >= 1.0f) hue -= 1.0f;
        float v = maxc;
        /* _hsv2rgb (h6 >= 0, so truncation is floor) */
        float h6 = hue * 6.0f;
        int sector = (int)h6;
        float f = h6 - (float)sector;
        sector %= 6;
        float p = clamp01(v * (1.0f - s));
        float q = clamp01(v * (1.0f - s * f));
        float t = clamp01(v * (1.0f - s * (1.0f - f)));
        switch (sector) {
        case 0: r = v; g = t; b = p; break;
        case 1: r = q; g = v; b = p; break;
        case 2: r = p; g = v; b = t; break;
        case 3: r = p; g = q; b = v; break;
        case 4: r = t; g = p; b = v; break;
        default: r = v; g = p; b = q; break;
        }
        rp[i] = clamp01(r);
        gp[i] = clamp01(g);
        bp[i] = clamp01(b);
    }
}

void aug_grayscale(float *img, int64_t n) {
    float *r = img, *g = img + n, *b = img + 2 * n;
    for (int64_t i = 0; i < n; i++) {
        float gray = gray_of(r[i], g[i], b[i]);
        r[i] = gray;
        g[i] = gray;
        b[i] = gray;
    }
}
