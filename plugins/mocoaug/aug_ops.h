/* Image operations of the mocoaug plugin, following torchvision's tensor
 * implementations (torchvision.transforms.functional_tensor /
 * v2.functional) so that a view has the same distribution as MoCo's PyTorch
 * pipeline. Pure functions of their arguments: no allocation, no globals,
 * safe from any thread. Kept apart from the plugin glue so tests can call
 * them directly. */
#ifndef MOCOAUG_OPS_H
#define MOCOAUG_OPS_H

#include <stdint.h>

#include "moco/rng.h"

/* Largest output side the resize supports (its index tables live on the
 * stack). */
#define AUG_MAX_SIDE 1024

/* torchvision's grayscale weights for tensors (rgb_to_grayscale uses 0.2989,
 * PIL's convert("L") uses 0.299). */
#define AUG_GRAY_R 0.2989f
#define AUG_GRAY_G 0.587f
#define AUG_GRAY_B 0.114f

/* A crop rectangle: top row, left column, height, width. */
typedef struct aug_box {
    int32_t top, left, height, width;
} aug_box;

/* RandomResizedCrop.get_params: up to 10 attempts with area fraction
 * uniform in [scale_min, scale_max] and aspect ratio log-uniform in
 * [ratio_min, ratio_max]; w, h rounded half-to-even like Python's round();
 * fallback: the centre crop with the ratio clamped into range. */
aug_box aug_crop_params(moco_rng *r, int32_t height, int32_t width, double scale_min,
                        double scale_max, double ratio_min, double ratio_max);

/* Crop `box` of src (c, h, w) uint8 and resize it bilinearly to
 * dst (c, out_h, out_w) float: PyTorch interpolate(mode="bilinear",
 * align_corners=False, antialias=False) computed in float32. With
 * `flip` the output is mirrored left-right (hflip after the resize).
 * quantize = 1: like torchvision on a uint8 tensor, the float result is
 * rounded half-to-even (torch.round) back to uint8 and then scaled by 1/255
 * (ToTensor / ConvertImageDtype); dst is in [0, 1].
 * quantize = 0: the raw interpolated values in 0..255 units (for tests). */
void aug_resize_crop(float *dst, const uint8_t *src, int32_t c, int32_t h, int32_t w,
                     aug_box box, int32_t out_h, int32_t out_w, int32_t flip,
                     int32_t quantize);

/* Colour operations on a float RGB image (3, n) in [0, 1], in place, each
 * clamping to [0, 1] like torchvision's _blend. */
void aug_brightness(float *img, int64_t n, float factor); /* blend with 0 */
void aug_contrast(float *img, int64_t n, float factor);   /* blend with mean gray */
void aug_saturation(float *img, int64_t n, float factor); /* blend with gray */
/* Shift hue by `shift` in [-0.5, 0.5] turns via RGB->HSV->RGB. */
void aug_hue(float *img, int64_t n, float shift);
/* Gray = 0.2989 R + 0.587 G + 0.114 B written to all three planes. */
void aug_grayscale(float *img, int64_t n);

#endif
