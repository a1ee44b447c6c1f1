/* tinycnn — the tensor table, the arenas laid out from it, the private
 * activation/scratch memory, and parameter initialisation.
 *
 * The table is the single source of truth: first every entry gets a name,
 * role and shape; then one pass hands out consecutive slices of the params
 * arena (and the same offsets of the grads arena) to PARAM entries and of
 * the buffers arena to BUFFER entries. Because grads mirror params offset
 * for offset, the host's SGD is `p[i] -= lr * f(grad[i])` over one array. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinycnn.h"

/* Name, role and shape of table entry i (data/grad are set later). */
static void set_desc(tc_model *m, int32_t i, const char *name, int32_t role, int32_t ndim,
                     int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    moco_tensor_desc *d = &m->desc[i];
    snprintf(m->names[i], TC_NAME_LEN, "%s", name);
    memset(d, 0, sizeof *d);
    d->name = m->names[i];
    d->dtype = MOCO_DTYPE_F32;   /* arenas are float: backbones use F32 only */
    d->role = role;
    d->ndim = ndim;
    int64_t dims[4] = {d0, d1, d2, d3};
    for (int32_t k = 0; k < ndim; k++) d->shape[k] = dims[k];
}

/* [main] The four conv/BN layers and the head, in state_dict order. Returns
 * non-zero (err filled) when the input is too small for a layer. */
static int32_t build_table(tc_model *m, int32_t channels, int32_t height, int32_t width,
                           moco_error *err) {
    int32_t c = channels, h = height, w = width, t = 0;
    for (int32_t l = 0; l < TC_LAYERS; l++) {
        tc_layer *L = &m->layer[l];
        int32_t c_out = m->width << l;
        L->cs = (moco_conv_shape){.n = m->max_batch, .c_in = c, .h = h, .w = w,
                                  .c_out = c_out, .kh = 3, .kw = 3,
                                  .stride = l == 0 ? 1 : 2, .pad = 1};
        if (moco_conv_shape_init(&L->cs) != 0)
            return moco_errorf(err, MOCO_ERR_INVALID,
                               "conv%d cannot run on a %dx%d input. HINT: use larger "
                               "images", (int)l + 1, (int)h, (int)w);
        char name[TC_NAME_LEN];
        L->t_w = t;
        snprintf(name, sizeof name, "conv%d.weight", (int)l + 1);
        set_desc(m, t++, name, MOCO_ROLE_PARAM, 4, c_out, c, 3, 3);
        L->t_bn = t;
        static const char *const bn_part[5] = {"weight", "bias", "running_mean", "running_var",
                                               "num_batches_tracked"};
        for (int32_t k = 0; k < 5; k++) {
            snprintf(name, sizeof name, "bn%d.%s", (int)l + 1, bn_part[k]);
            /* PyTorch keeps num_batches_tracked as an int64 scalar; here it
             * is a float of shape (1) so all buffers share one float arena. */
            set_desc(m, t++, name, k < 2 ? MOCO_ROLE_PARAM : MOCO_ROLE_BUFFER, 1,
                     k == 4 ? 1 : c_out, 0, 0, 0);
        }
        c = c_out;
        h = L->cs.h_out;
        w = L->cs.w_out;
    }
    m->feat_dim = c;
    m->t_fc = t;
    set_desc(m, t++, "fc.weight", MOCO_ROLE_PARAM, 2, m->out_dim, m->feat_dim, 0, 0);
    set_desc(m, t++, "fc.bias", MOCO_ROLE_PARAM, 1, m->out_dim, 0, 0, 0);
    MOCO_ASSERT(t == TC_TENSORS);
    return MOCO_OK;
}

static int32_t nomem(const tc_model *m, const char *what, int64_t floats, moco_error *err) {
    return moco_errorf(err, MOCO_ERR_NOMEM,
                       "cannot allocate %.1f MiB for the %s (width %d, max_batch %d). "
                       "HINT: lower [backbone] width or [train] batch",
                       (double)floats * 4.0 / 1048576.0, what, (int)m->width,
                       (int)m->max_batch);
}

int32_t tc_layout_build(tc_model *m, int32_t channels, int32_t height, int32_t width,
                        moco_error *err) {
    int32_t rc = build_table(m, channels, height, width, err);
    if (rc) return rc;

    /* 1. The three arenas the host sees. */
    int64_t np = 0, nb = 0;
    for (int32_t i = 0; i < TC_TENSORS; i++) {
        int64_t numel = moco_numel(m->desc[i].ndim, m->desc[i].shape);
        if (m->desc[i].role == MOCO_ROLE_PARAM) np += numel; else nb += numel;
    }
    m->params.count = m->grads.count = np;
    m->buffers.count = nb;
    m->params.data = calloc((size_t)np, sizeof(float));
    m->grads.data = calloc((size_t)np, sizeof(float));
    m->buffers.data = calloc((size_t)nb, sizeof(float));
    if (!m->params.data || !m->grads.data || !m->buffers.data)
        return nomem(m, "parameters", 2 * np + nb, err);
    np = nb = 0;
    for (int32_t i = 0; i < TC_TENSORS; i++) {
        moco_tensor_desc *d = &m->desc[i];
        int64_t numel = moco_numel(d->ndim, d->shape);
        if (d->role == MOCO_ROLE_PARAM) {
            d->data = m->params.data + np;
            d->grad = m->grads.data + np;   /* same offset: grad[i] belongs to param[i] */
            np += numel;
        } else {
            d->data = m->buffers.data + nb;
            d->grad = NULL;
            nb += numel;
        }
    }

    /* 2. Activations for max_batch images, private to the plugin: per layer
     *    its input, conv output, ReLU output and two per-channel caches. */
    const int64_t nmax = m->max_batch;
    int64_t total = 0, biggest = 0;
    size_t ws = 0;
    for (int32_t l = 0; l < TC_LAYERS; l++) {
        const moco_conv_shape *s = &m->layer[l].cs;
        int64_t in = nmax * s->c_in * s->h * s->w;
        int64_t outc = nmax * s->c_out * s->h_out * s->w_out;
        total += (l == 0 ? in : 0) + 2 * outc + 2 * s->c_out;
        if (in > biggest) biggest = in;
        if (outc > biggest) biggest = outc;
        size_t x = moco_conv2d_workspace(s);
        if (x > ws) ws = x;
    }
    total += nmax * m->feat_dim;
    if (!(m->act_arena = calloc((size_t)total, sizeof(float))))
        return nomem(m, "activations", total, err);
    float *p = m->act_arena;
    for (int32_t l = 0; l < TC_LAYERS; l++) {
        tc_layer *L = &m->layer[l];
        const moco_conv_shape *s = &L->cs;
        int64_t outc = nmax * s->c_out * s->h_out * s->w_out;
        if (l == 0) {
            L->in = p;
            p += nmax * s->c_in * s->h * s->w;
        } else {
            L->in = m->layer[l - 1].act;   /* a layer reads its predecessor's output */
        }
        L->conv = p; p += outc;
        L->act = p; p += outc;
        L->mean = p; p += s->c_out;
        L->invstd = p; p += s->c_out;
    }
    m->feat = p;

    /* 3. Backward scratch: three activation-sized buffers (see backward.c),
     *    dL/dfeat and the conv workspace, shared by all layers. */
    int64_t ns = 3 * biggest + nmax * m->feat_dim + (int64_t)ws;
    if (!(m->scratch = calloc((size_t)ns, sizeof(float)))) return nomem(m, "scratch", ns, err);
    for (int32_t k = 0; k < 3; k++) m->g[k] = m->scratch + k * biggest;
    m->dfeat = m->scratch + 3 * biggest;
    m->ws = m->dfeat + nmax * m->feat_dim;
    m->private_floats = total + ns;
    return MOCO_OK;
}

void tc_layout_free(tc_model *m) {
    free(m->params.data);
    free(m->grads.data);
    free(m->buffers.data);
    free(m->act_arena);
    free(m->scratch);
    m->params.data = m->grads.data = m->buffers.data = NULL;
    m->act_arena = m->scratch = NULL;
}

/* PyTorch's defaults, drawn from one stream in table order (so two
 * instances seeded alike are bit-identical):
 *   conv: kaiming_normal_(fan_out, relu): N(0, 2 / (c_out * 3 * 3))
 *   BN:   weight 1, bias 0, running_mean 0, running_var 1, counter 0
 *   fc:   weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
void tc_init_params(tc_model *m, uint64_t seed) {
    moco_rng rng;
    moco_rng_seed(&rng, seed);
    for (int32_t l = 0; l < TC_LAYERS; l++) {
        const tc_layer *L = &m->layer[l];
        const moco_tensor_desc *d = &m->desc[L->t_w];
        double std = sqrt(2.0 / (double)(L->cs.c_out * 9));
        float *w = tc_t(m, L->t_w);
        for (int64_t k = 0; k < moco_numel(d->ndim, d->shape); k++)
            w[k] = (float)(std * moco_rng_normal(&rng));
        for (int32_t ch = 0; ch < L->cs.c_out; ch++) {
            tc_t(m, L->t_bn)[ch] = 1.0f;       /* gamma */
            tc_t(m, L->t_bn + 1)[ch] = 0.0f;   /* beta */
            tc_t(m, L->t_bn + 2)[ch] = 0.0f;   /* running_mean */
            tc_t(m, L->t_bn + 3)[ch] = 1.0f;   /* running_var */
        }
        tc_t(m, L->t_bn + 4)[0] = 0.0f;        /* num_batches_tracked */
    }
    double bound = 1.0 / sqrt((double)m->feat_dim);
    float *fw = tc_t(m, m->t_fc), *fb = tc_t(m, m->t_fc + 1);
    for (int64_t k = 0; k < (int64_t)m->out_dim * m->feat_dim; k++)
        fw[k] = (float)moco_rng_range(&rng, -bound, bound);
    for (int32_t k = 0; k < m->out_dim; k++) fb[k] = (float)moco_rng_range(&rng, -bound, bound);
}
