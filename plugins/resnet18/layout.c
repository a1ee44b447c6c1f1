/* resnet18 plugin — the tensor table (torchvision state_dict order), the
 * activation table, and the arenas laid out from them.
 *
 * torchvision lists a BasicBlock's state as conv1.weight, bn1.{weight, bias,
 * running_mean, running_var, num_batches_tracked}, conv2.weight, bn2.*, then
 * downsample.0.weight, downsample.1.* when the block changes shape. The
 * model's state is conv1, bn1, layer1.0 ... layer4.1, fc. */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "resnet18.h"

/* Arena blocks start on 64-byte boundaries (AVX-512 lines). */
#define RN_ALIGN_FLOATS 16

static int64_t round_up(int64_t x) {
    return (x + RN_ALIGN_FLOATS - 1) / RN_ALIGN_FLOATS * RN_ALIGN_FLOATS;
}

/* Arenas of at least this many bytes come straight from mmap: zero pages
 * that cost no memory until touched, so what an instance never uses (a key
 * encoder's gradients, backward scratch and full activation layout) does
 * not count in the process's RSS. */
#define RN_MMAP_BYTES (256 * 1024)

/* [main] Zeroed, 64-byte aligned; NULL on failure. Caller owns (free_zero
 * with the same size). */
static void *alloc_zero(int64_t bytes) {
    void *p = NULL;
    if (bytes <= 0) bytes = 64;
    if (bytes >= RN_MMAP_BYTES) {
        p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    if (posix_memalign(&p, 64, (size_t)bytes) != 0) return NULL;
    memset(p, 0, (size_t)bytes);
    return p;
}

static void free_zero(void *p, int64_t bytes) {
    if (!p) return;
    if (bytes <= 0) bytes = 64;
    if (bytes >= RN_MMAP_BYTES)
        munmap(p, (size_t)bytes);
    else
        free(p);
}

static int32_t add_tensor(rn_model *m, int32_t role, int32_t init_kind, int64_t fan,
                          int32_t ndim, const int64_t *shape, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

static int32_t add_tensor(rn_model *m, int32_t role, int32_t init_kind, int64_t fan,
                          int32_t ndim, const int64_t *shape, const char *fmt, ...) {
    MOCO_ASSERT(m->num_tensors < RN_MAX_TENSORS && ndim >= 1 && ndim <= MOCO_MAX_DIMS);
    int32_t i = m->num_tensors++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->names[i], RN_NAME_LEN, fmt, ap);
    va_end(ap);
    moco_tensor_desc *d = &m->desc[i];
    memset(d, 0, sizeof *d);
    d->name = m->names[i];
    d->dtype = MOCO_DTYPE_F32;
    d->role = role;
    d->ndim = ndim;
    for (int32_t k = 0; k < ndim; k++) d->shape[k] = shape[k];
    m->init[i].kind = init_kind;
    m->init[i].fan = fan;
    return i;
}

/* count floats in total; per_image != 0 marks a per-image activation. */
static int32_t add_act(rn_model *m, int64_t per_image, int64_t count) {
    MOCO_ASSERT(m->num_acts < RN_MAX_ACTS);
    int32_t i = m->num_acts++;
    m->acts[i].per_image = per_image;
    m->acts[i].count = count;
    return i;
}

/* conv `conv_name` (k x k, stride, pad, no bias) on a_in (c_in, h, w), then
 * BatchNorm2d `bn_name`. a_bn >= 0 reuses an existing activation as the BN
 * output (the block output for bn2), else a new one is made. */
static int32_t add_unit(rn_model *m, rn_unit *u, const char *conv_name, const char *bn_name,
                        int32_t c_in, int32_t h, int32_t w, int32_t c_out, int32_t k,
                        int32_t stride, int32_t pad, int32_t a_in, int32_t a_bn,
                        int32_t zero_gamma, moco_error *err) {
    memset(u, 0, sizeof *u);
    u->cs.n = m->max_batch;
    u->cs.c_in = c_in;
    u->cs.h = h;
    u->cs.w = w;
    u->cs.c_out = c_out;
    u->cs.kh = k;
    u->cs.kw = k;
    u->cs.stride = stride;
    u->cs.pad = pad;
    if (moco_conv_shape_init(&u->cs) != 0)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "input %dx%d is too small: %s would get a %dx%d input and produce "
                           "nothing. HINT: use larger images, or stem = cifar",
                           m->height, m->width, conv_name, h, w);
    int64_t plane = (int64_t)u->cs.h_out * u->cs.w_out;
    int64_t per_image = (int64_t)c_out * plane;
    int64_t nb = m->max_batch;

    int64_t wshape[4] = {c_out, c_in, k, k};
    int64_t cshape[1] = {c_out};
    int64_t one[1] = {1};
    u->t_w = add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_KAIMING_FAN_OUT, (int64_t)c_out * k * k,
                        4, wshape, "%s.weight", conv_name);
    u->t_bn = add_tensor(m, MOCO_ROLE_PARAM, zero_gamma ? RN_INIT_ZERO : RN_INIT_ONE, 0, 1,
                         cshape, "%s.weight", bn_name);
    add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_ZERO, 0, 1, cshape, "%s.bias", bn_name);
    add_tensor(m, MOCO_ROLE_BUFFER, RN_INIT_ZERO, 0, 1, cshape, "%s.running_mean", bn_name);
    add_tensor(m, MOCO_ROLE_BUFFER, RN_INIT_ONE, 0, 1, cshape, "%s.running_var", bn_name);
    /* torchvision keeps num_batches_tracked as an int64 scalar (shape ());
     * here it is a float of shape (1) so all buffers share one float arena
     * (exact up to 2^24 steps). The checkpoint exporter converts it. */
    add_tensor(m, MOCO_ROLE_BUFFER, RN_INIT_ZERO, 0, 1, one, "%s.num_batches_tracked",
               bn_name);

    u->a_in = a_in;
    u->a_conv = add_act(m, per_image, nb * per_image);
    u->a_bn = a_bn >= 0 ? a_bn : add_act(m, per_image, nb * per_image);
    u->a_mean = add_act(m, 0, c_out);
    u->a_invstd = add_act(m, 0, c_out);
    if (plane < m->min_bn_hw) m->min_bn_hw = (int32_t)plane;
    return MOCO_OK;
}

static int32_t build_tables(rn_model *m, moco_error *err) {
    const int32_t wd = m->cfg.width;
    int32_t rc;
    m->num_tensors = 0;
    m->num_acts = 0;
    m->min_bn_hw = INT32_MAX;
    m->feat_dim = 8 * wd;

    m->a_x = add_act(m, (int64_t)m->channels * m->height * m->width,
                     (int64_t)m->max_batch * m->channels * m->height * m->width);
    int32_t imagenet = m->cfg.stem == RN_STEM_IMAGENET;
    rc = add_unit(m, &m->stem, "conv1", "bn1", m->channels, m->height, m->width, wd,
                  imagenet ? 7 : 3, imagenet ? 2 : 1, imagenet ? 3 : 1, m->a_x, -1, 0, err);
    if (rc) return rc;
    int32_t cur = m->stem.a_bn, c = wd, h = m->stem.cs.h_out, w = m->stem.cs.w_out;

    m->a_pool = -1;
    if (imagenet) {
        m->pool_h = (h + 2 * 1 - 3) / 2 + 1;
        m->pool_w = (w + 2 * 1 - 3) / 2 + 1;
        int64_t per_image = (int64_t)c * m->pool_h * m->pool_w;
        m->a_pool = add_act(m, per_image, (int64_t)m->max_batch * per_image);
        cur = m->a_pool;
        h = m->pool_h;
        w = m->pool_w;
    }

    static const int32_t stage_blocks[4] = RN_STAGE_BLOCKS;
    m->num_blocks = 0;
    for (int32_t s = 0; s < 4; s++) {
        int32_t c_out = wd << s;
        for (int32_t b = 0; b < stage_blocks[s]; b++) {
            rn_block *blk = &m->blocks[m->num_blocks++];
            int32_t stride = (s > 0 && b == 0) ? 2 : 1;
            char conv[RN_NAME_LEN], bn[RN_NAME_LEN];
            blk->a_in = cur;
            snprintf(conv, sizeof conv, "layer%d.%d.conv1", s + 1, b);
            snprintf(bn, sizeof bn, "layer%d.%d.bn1", s + 1, b);
            rc = add_unit(m, &blk->c1, conv, bn, c, h, w, c_out, 3, stride, 1, cur, -1, 0, err);
            if (rc) return rc;
            int32_t ho = blk->c1.cs.h_out, wo = blk->c1.cs.w_out;
            int64_t per_image = (int64_t)c_out * ho * wo;
            blk->a_out = add_act(m, per_image, (int64_t)m->max_batch * per_image);
            snprintf(conv, sizeof conv, "layer%d.%d.conv2", s + 1, b);
            snprintf(bn, sizeof bn, "layer%d.%d.bn2", s + 1, b);
            rc = add_unit(m, &blk->c2, conv, bn, c_out, ho, wo, c_out, 3, 1, 1, blk->c1.a_bn,
                          blk->a_out, m->cfg.zero_init_residual, err);
            if (rc) return rc;
            blk->has_down = stride != 1 || c != c_out;
            if (blk->has_down) {
                snprintf(conv, sizeof conv, "layer%d.%d.downsample.0", s + 1, b);
                snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", s + 1, b);
                rc = add_unit(m, &blk->down, conv, bn, c, h, w, c_out, 1, stride, 0, cur, -1,
                              0, err);
                if (rc) return rc;
            }
            cur = blk->a_out;
            c = c_out;
            h = ho;
            w = wo;
        }
    }

    const int64_t fd = m->feat_dim, od = m->out_dim;
    m->a_feat = add_act(m, fd, m->max_batch * fd);
    m->a_hidden = -1;
    m->t_fc = m->t_fc0 = m->t_fc2 = -1;
    if (m->cfg.head == RN_HEAD_LINEAR) {
        int64_t ws[2] = {od, fd}, bs[1] = {od};
        m->t_fc = add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_UNIFORM_FAN_IN, fd, 2, ws, "fc.weight");
        add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_UNIFORM_FAN_IN, fd, 1, bs, "fc.bias");
    } else {
        int64_t w0[2] = {fd, fd}, b0[1] = {fd}, w2[2] = {od, fd}, b2[1] = {od};
        m->t_fc0 = add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_UNIFORM_FAN_IN, fd, 2, w0, "fc.0.weight");
        add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_UNIFORM_FAN_IN, fd, 1, b0, "fc.0.bias");
        m->t_fc2 = add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_UNIFORM_FAN_IN, fd, 2, w2, "fc.2.weight");
        add_tensor(m, MOCO_ROLE_PARAM, RN_INIT_UNIFORM_FAN_IN, fd, 1, b2, "fc.2.bias");
        m->a_hidden = add_act(m, fd, m->max_batch * fd);
    }
    return MOCO_OK;
}

/* Largest conv workspace over all units. */
static size_t max_workspace(const rn_model *m) {
    size_t ws = moco_conv2d_workspace(&m->stem.cs);
    for (int32_t b = 0; b < m->num_blocks; b++) {
        const rn_block *blk = &m->blocks[b];
        size_t x = moco_conv2d_workspace(&blk->c1.cs);
        if (x > ws) ws = x;
        x = moco_conv2d_workspace(&blk->c2.cs);
        if (x > ws) ws = x;
        if (blk->has_down) {
            x = moco_conv2d_workspace(&blk->down.cs);
            if (x > ws) ws = x;
        }
    }
    return ws;
}

static int32_t nomem(const rn_model *m, const char *what, int64_t floats, moco_error *err) {
    return moco_errorf(err, MOCO_ERR_NOMEM,
                       "cannot allocate the %s arena (%.1f MiB for max_batch %d, width %d). "
                       "HINT: lower the batch size or the width",
                       what, (double)floats * 4.0 / 1048576.0, m->max_batch, m->cfg.width);
}

/* The compact layout (see resnet18.h): per-channel caches, the input copy
 * and the head get their own slots; the feature maps rotate through three
 * buffers of the largest activation. A block whose input is in buffer i
 * writes conv1 (BN and ReLU in place) to i + 1, conv2 and the block output
 * to i + 2, the downsample branch to i + 1 again (conv1's output is dead by
 * then); the next block reads i + 2. */
static int32_t build_compact(rn_model *m, int64_t buf, moco_error *err) {
    int64_t nc = 3 * buf;
    for (int32_t i = 0; i < m->num_acts; i++) m->act_compact[i] = NULL;
    int32_t own[RN_MAX_ACTS], nown = 0;
    for (int32_t i = 0; i < m->num_acts; i++)
        if (!m->acts[i].per_image || i == m->a_x || i == m->a_feat || i == m->a_hidden) {
            own[nown++] = i;
            nc += round_up(m->acts[i].count);
        }
    m->compact.count = nc;
    if (!(m->compact.data = alloc_zero(nc * 4))) return nomem(m, "compact activation", nc, err);
    float *b[3] = {m->compact.data, m->compact.data + buf, m->compact.data + 2 * buf};
    float *p = m->compact.data + 3 * buf;
    for (int32_t k = 0; k < nown; k++) {
        m->act_compact[own[k]] = p;
        p += round_up(m->acts[own[k]].count);
    }
    m->act_compact[m->stem.a_conv] = m->act_compact[m->stem.a_bn] = b[0];
    int32_t in = 0;
    if (m->a_pool >= 0) {
        m->act_compact[m->a_pool] = b[1];
        in = 1;
    }
    for (int32_t k = 0; k < m->num_blocks; k++) {
        rn_block *blk = &m->blocks[k];
        float *a = b[(in + 1) % 3], *o = b[(in + 2) % 3];
        m->act_compact[blk->c1.a_conv] = m->act_compact[blk->c1.a_bn] = a;
        m->act_compact[blk->c2.a_conv] = m->act_compact[blk->a_out] = o;
        if (blk->has_down) m->act_compact[blk->down.a_conv] = m->act_compact[blk->down.a_bn] = a;
        in = (in + 2) % 3;
    }
    for (int32_t i = 0; i < m->num_acts; i++) MOCO_ASSERT(m->act_compact[i] != NULL);
    return MOCO_OK;
}

int32_t rn_layout_build(rn_model *m, moco_error *err) {
    int32_t rc = build_tables(m, err);
    if (rc) return rc;

    /* Parameters and buffers: consecutive in table order, per role. */
    int64_t np = 0, nbuf = 0;
    for (int32_t i = 0; i < m->num_tensors; i++) {
        const moco_tensor_desc *d = &m->desc[i];
        int64_t numel = moco_numel(d->ndim, d->shape);
        if (d->role == MOCO_ROLE_PARAM) {
            m->offset[i] = np;
            np += numel;
        } else {
            m->offset[i] = nbuf;
            nbuf += numel;
        }
    }
    m->params.count = m->grads.count = np;
    m->buffers.count = nbuf;
    if (!(m->params.data = alloc_zero(np * 4))) return nomem(m, "parameter", np, err);
    if (!(m->grads.data = alloc_zero(np * 4))) return nomem(m, "gradient", np, err);
    if (!(m->buffers.data = alloc_zero(nbuf * 4))) return nomem(m, "buffer", nbuf, err);
    for (int32_t i = 0; i < m->num_tensors; i++) {
        moco_tensor_desc *d = &m->desc[i];
        if (d->role == MOCO_ROLE_PARAM) {
            d->data = m->params.data + m->offset[i];
            d->grad = m->grads.data + m->offset[i];
        } else {
            d->data = m->buffers.data + m->offset[i];
            d->grad = NULL;
        }
    }

    /* Activations: one arena, each entry on an aligned boundary. */
    int64_t na = 0, biggest = 0;
    for (int32_t i = 0; i < m->num_acts; i++) {
        na += round_up(m->acts[i].count);
        if (m->acts[i].per_image && m->acts[i].count > biggest) biggest = m->acts[i].count;
    }
    m->activations.count = na;
    if (!(m->activations.data = alloc_zero(na * 4))) return nomem(m, "activation", na, err);
    na = 0;
    for (int32_t i = 0; i < m->num_acts; i++) {
        m->act_full[i] = m->activations.data + na;
        na += round_up(m->acts[i].count);
    }
    if ((rc = build_compact(m, round_up(biggest), err))) return rc;
    m->full_mode = 0;
    memcpy(m->act_ptr, m->act_compact, sizeof m->act_ptr);
    if (m->a_pool >= 0) {
        int64_t count = (int64_t)m->max_batch * m->cfg.width * m->pool_h * m->pool_w;
        m->argmax_count = count;
        if (!(m->argmax = alloc_zero(count * 4))) return nomem(m, "max-pool index", count, err);
    }

    /* Backward scratch. */
    m->g_count = round_up(biggest);
    m->ws_count = max_workspace(m);
    int64_t head = round_up((int64_t)m->max_batch * m->feat_dim);
    int64_t outs = round_up((int64_t)m->max_batch * m->out_dim);
    int64_t sink = round_up(2 * 8 * (int64_t)m->cfg.width);
    int64_t ns = round_up((int64_t)m->ws_count) + 2 * m->g_count + 2 * head + outs + sink;
    m->scratch.count = ns;
    if (!(m->scratch.data = alloc_zero(ns * 4))) return nomem(m, "scratch", ns, err);
    /* the conv workspace first: a forward-only instance touches that alone */
    float *p = m->scratch.data;
    m->ws = p;
    p += round_up((int64_t)m->ws_count);
    for (int32_t i = 0; i < 2; i++, p += m->g_count) m->g[i] = p;
    /* g[2..4]: the compact layout's three buffers, free once an instance runs
     * backward (it then stays in the full layout) */
    for (int32_t i = 0; i < 3; i++) m->g[2 + i] = m->compact.data + i * m->g_count;
    m->g_feat = p;
    p += head;
    m->g_hidden = p;
    p += head;
    m->recompute_out = p;
    p += outs;
    m->bn_sink = p;
    return MOCO_OK;
}

void rn_layout_free(rn_model *m) {
    free_zero(m->params.data, m->params.count * 4);
    free_zero(m->grads.data, m->grads.count * 4);
    free_zero(m->buffers.data, m->buffers.count * 4);
    free_zero(m->activations.data, m->activations.count * 4);
    free_zero(m->compact.data, m->compact.count * 4);
    free_zero(m->argmax, m->argmax_count * 4);
    free_zero(m->scratch.data, m->scratch.count * 4);
    m->params.data = m->grads.data = m->buffers.data = NULL;
    m->activations.data = m->compact.data = m->scratch.data = NULL;
    m->argmax = NULL;
}
