/* A double-precision naive twin of the whole resnet18 forward (train-mode
 * BN), for tests only. It knows nothing of the plugin's internals: it
 * walks torchvision's module names and reads each tensor's position and
 * shape from the plugin's tensor table, with its own copy of the parameter
 * arena in double so a finite difference can use a step far below float
 * resolution. Straight loops, no caches; each call allocates and frees. */
#ifndef MOCO_RN_REF_H
#define MOCO_RN_REF_H

#include <math.h>

#include "rn_test.h"

typedef struct ref_net {
    const rt_model *r;
    int32_t imagenet, mlp;
    double eps;
    double *p;   /* (params.count) the parameters, in the plugin's arena layout */
} ref_net;

/* An activation (n, c, h, w) in double. */
typedef struct ref_act {
    int32_t n, c, h, w;
    double *v;
} ref_act;

static inline ref_act ref_new(int32_t n, int32_t c, int32_t h, int32_t w) {
    ref_act a = {n, c, h, w, calloc((size_t)n * c * h * w, sizeof(double))};
    return a;
}
static inline int64_t ref_count(const ref_act *a) { return (int64_t)a->n * a->c * a->h * a->w; }

/* Parameter tensor `name` in the double copy; its desc in *d. */
static inline const double *ref_param(const ref_net *net, const char *name,
                                      moco_tensor_desc *d) {
    *d = rt_find(net->r, name);
    MOCO_ASSERT(d->role == MOCO_ROLE_PARAM);
    return net->p + ((float *)d->data - net->r->info.params.data);
}

static inline ref_act ref_conv(const ref_net *net, const ref_act *x, const char *name,
                               int32_t stride, int32_t pad) {
    moco_tensor_desc d;
    const double *w = ref_param(net, name, &d);
    int32_t co = (int32_t)d.shape[0], ci = (int32_t)d.shape[1], k = (int32_t)d.shape[2];
    MOCO_ASSERT(ci == x->c);
    int32_t ho = (x->h + 2 * pad - k) / stride + 1, wo = (x->w + 2 * pad - k) / stride + 1;
    ref_act y = ref_new(x->n, co, ho, wo);
    for (int32_t i = 0; i < x->n; i++)
        for (int32_t o = 0; o < co; o++)
            for (int32_t oh = 0; oh < ho; oh++)
                for (int32_t ow = 0; ow < wo; ow++) {
                    double s = 0;
                    for (int32_t c = 0; c < ci; c++)
                        for (int32_t a = 0; a < k; a++)
                            for (int32_t b = 0; b < k; b++) {
                                int32_t ih = oh * stride - pad + a, iw = ow * stride - pad + b;
                                if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w) continue;
                                s += x->v[((int64_t)(i * ci + c) * x->h + ih) * x->w + iw] *
                                     w[((int64_t)(o * ci + c) * k + a) * k + b];
                            }
                    y.v[((int64_t)(i * co + o) * ho + oh) * wo + ow] = s;
                }
    return y;
}

/* In place, batch statistics with the biased variance (train mode). */
static inline void ref_bn(const ref_net *net, ref_act *x, const char *prefix) {
    char name[160];
    moco_tensor_desc d;
    snprintf(name, sizeof name, "%s.weight", prefix);
    const double *g = ref_param(net, name, &d);
    snprintf(name, sizeof name, "%s.bias", prefix);
    const double *b = ref_param(net, name, &d);
    int64_t hw = (int64_t)x->h * x->w, m = x->n * hw;
    for (int32_t c = 0; c < x->c; c++) {
        double mean = 0, var = 0;
        for (int32_t i = 0; i < x->n; i++)
            for (int64_t j = 0; j < hw; j++) mean += x->v[(i * x->c + c) * hw + j];
        mean /= m;
        for (int32_t i = 0; i < x->n; i++)
            for (int64_t j = 0; j < hw; j++) {
                double t = x->v[(i * x->c + c) * hw + j] - mean;
                var += t * t;
            }
        var /= m;
        double inv = 1.0 / sqrt(var + net->eps);
        for (int32_t i = 0; i < x->n; i++)
            for (int64_t j = 0; j < hw; j++) {
                double *v = &x->v[(i * x->c + c) * hw + j];
                *v = (*v - mean) * inv * g[c] + b[c];
            }
    }
}

static inline void ref_relu(ref_act *x) {
    for (int64_t i = 0; i < ref_count(x); i++)
        if (x->v[i] < 0) x->v[i] = 0;
}

static inline ref_act ref_maxpool(const ref_act *x) {   /* 3 / 2 / 1 */
    int32_t ho = (x->h + 2 - 3) / 2 + 1, wo = (x->w + 2 - 3) / 2 + 1;
    ref_act y = ref_new(x->n, x->c, ho, wo);
    for (int32_t p = 0; p < x->n * x->c; p++)
        for (int32_t oh = 0; oh < ho; oh++)
            for (int32_t ow = 0; ow < wo; ow++) {
                double best = -INFINITY;
                for (int32_t a = 0; a < 3; a++)
                    for (int32_t b = 0; b < 3; b++) {
                        int32_t ih = oh * 2 - 1 + a, iw = ow * 2 - 1 + b;
                        if (ih < 0 || ih >= x->h || iw < 0 || iw >= x->w) continue;
                        double v = x->v[((int64_t)p * x->h + ih) * x->w + iw];
                        if (v > best) best = v;
                    }
                y.v[((int64_t)p * ho + oh) * wo + ow] = best;
            }
    return y;
}

/* out (n, o) = in (n, i) W^T + b for parameter prefix (e.g. "fc.0"). */
static inline void ref_linear(const ref_net *net, double *out, const double *in, int32_t n,
                              const char *prefix) {
    char name[160];
    moco_tensor_desc d;
    snprintf(name, sizeof name, "%s.weight", prefix);
    const double *w = ref_param(net, name, &d);
    int32_t o = (int32_t)d.shape[0], fi = (int32_t)d.shape[1];
    snprintf(name, sizeof name, "%s.bias", prefix);
    const double *b = ref_param(net, name, &d);
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < o; j++) {
            double s = b[j];
            for (int32_t k = 0; k < fi; k++) s += in[(int64_t)i * fi + k] * w[(int64_t)j * fi + k];
            out[(int64_t)i * o + j] = s;
        }
}

/* out (n, out_dim) and, when feat is not NULL, feat (n, feat_dim) for
 * images x (n, c, h, w), using net->p. */
static inline void ref_forward(const ref_net *net, double *out, double *feat, const float *x,
                               int32_t n, int32_t c, int32_t h, int32_t w) {
    ref_act a = ref_new(n, c, h, w);
    for (int64_t i = 0; i < ref_count(&a); i++) a.v[i] = x[i];
    ref_act s = ref_conv(net, &a, "conv1.weight", net->imagenet ? 2 : 1, net->imagenet ? 3 : 1);
    free(a.v);
    ref_bn(net, &s, "bn1");
    ref_relu(&s);
    if (net->imagenet) {
        ref_act p = ref_maxpool(&s);
        free(s.v);
        s = p;
    }
    for (int32_t st = 1; st <= 4; st++)
        for (int32_t b = 0; b < 2; b++) {
            char name[96], pre[32];
            int32_t stride = (st > 1 && b == 0) ? 2 : 1;
            snprintf(pre, sizeof pre, "layer%d.%d", st, b);
            snprintf(name, sizeof name, "%s.conv1.weight", pre);
            ref_act t = ref_conv(net, &s, name, stride, 1);
            snprintf(name, sizeof name, "%s.bn1", pre);
            ref_bn(net, &t, name);
            ref_relu(&t);
            snprintf(name, sizeof name, "%s.conv2.weight", pre);
            ref_act y = ref_conv(net, &t, name, 1, 1);
            free(t.v);
            snprintf(name, sizeof name, "%s.bn2", pre);
            ref_bn(net, &y, name);
            if (stride != 1 || s.c != y.c) {
                snprintf(name, sizeof name, "%s.downsample.0.weight", pre);
                ref_act dn = ref_conv(net, &s, name, stride, 0);
                snprintf(name, sizeof name, "%s.downsample.1", pre);
                ref_bn(net, &dn, name);
                for (int64_t i = 0; i < ref_count(&y); i++) y.v[i] += dn.v[i];
                free(dn.v);
            } else {
                for (int64_t i = 0; i < ref_count(&y); i++) y.v[i] += s.v[i];
            }
            ref_relu(&y);
            free(s.v);
            s = y;
        }
    int32_t fd = s.c;
    int64_t hw = (int64_t)s.h * s.w;
    double *f = calloc((size_t)n * fd, sizeof(double));
    for (int32_t p = 0; p < n * fd; p++) {
        for (int64_t j = 0; j < hw; j++) f[p] += s.v[p * hw + j];
        f[p] /= (double)hw;
    }
    free(s.v);
    if (feat) memcpy(feat, f, sizeof(double) * n * fd);
    if (net->mlp) {
        double *hid = calloc((size_t)n * fd, sizeof(double));
        ref_linear(net, hid, f, n, "fc.0");
        for (int64_t i = 0; i < (int64_t)n * fd; i++)
            if (hid[i] < 0) hid[i] = 0;
        ref_linear(net, out, hid, n, "fc.2");
        free(hid);
    } else {
        ref_linear(net, out, f, n, "fc");
    }
    free(f);
}

#endif
