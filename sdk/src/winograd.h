/* libmoco_sdk internals: Winograd F(m x m, 3 x 3) convolution for 3x3,
 * stride-1, pad-1 layers (winograd.c). Entered only when moco_fast_avx2(). */
#ifndef MOCO_SDK_WINOGRAD_H
#define MOCO_SDK_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

#include "moco/kernels.h"

/* Tile size the fast path would use for s when AVX2 is there: 4, 2, or 0
 * (not a 3x3/1/1 conv, or maps too small for Winograd to pay). */
int32_t moco_wg_choose(const moco_conv_shape *s);
/* The same for the input gradient: F(4x4) on maps from 8x8 unless
 * MOCO_WINOGRAD_TILE=2. */
int32_t moco_wg_choose_din(const moco_conv_shape *s);
/* The same for the weight gradient: F(4x4) where it pays and stays within
 * the reference tolerances unless MOCO_WINOGRAD_TILE=2; 0 when
 * moco_wg_choose is 0. */
int32_t moco_wg_choose_dweight(const moco_conv_shape *s);
/* 1 when the forward (din: the input gradient) with tile m runs the wide
 * schedule (winograd.c), unless MOCO_FAST_KERNELS_OFF has "wide". */
int moco_wg_wide(const moco_conv_shape *s, int32_t m, int din);
/* Floats of workspace for tile m (2 or 4); independent of s->n. */
size_t moco_wg_workspace(const moco_conv_shape *s, int32_t m);
/* out (n, c_out, h, w) = conv(in, weight) */
void moco_wg_forward(float *out, const float *in, const float *weight, float *ws,
                     const moco_conv_shape *s, int32_t m);
/* din += dL/din with tile m, dweight += dL/dw with tile m_dw (each may be
 * NULL) */
void moco_wg_backward(float *din, float *dweight, const float *dout, const float *in,
                      const float *weight, float *ws, const moco_conv_shape *s, int32_t m,
                      int32_t m_dw);

#endif
