/* resnet18 plugin — parameter and buffer initialisation, as torchvision does:
 *  - Conv2d: kaiming_normal_(mode='fan_out', nonlinearity='relu'),
 *    std = sqrt(2 / (c_out * kh * kw));
 *  - BatchNorm2d: weight 1 (0 for bn2 with zero_init_residual), bias 0,
 *    running_mean 0, running_var 1, num_batches_tracked 0;
 *  - Linear: PyTorch's default, weight and bias uniform(-1/sqrt(fan_in),
 *    1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5) gives that bound).
 * One flat loop over the table in its order, drawing from one stream, so two
 * instances seeded alike are bit-identical. The values are not PyTorch's
 * (different generator); only the distributions match. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "resnet18.h"

/* Live instances (see resnet18.h). */
static pthread_mutex_t g_live_lock = PTHREAD_MUTEX_INITIALIZER;
static rn_model *g_live;

/* 64-bit hash of the parameters and buffers (a multiply-xor over words):
 * ~10 ms for ResNet-18, against ~0.4 s for drawing its 11 M normals. */
static uint64_t state_hash(const rn_model *m) {
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    const moco_arena *ar[2] = {&m->params, &m->buffers};
    for (int a = 0; a < 2; a++) {
        const uint32_t *w = (const uint32_t *)ar[a]->data;
        for (int64_t i = 0; i < ar[a]->count; i++) h = (h ^ w[i]) * 0x100000001B3ULL;
        h ^= h >> 29;
    }
    return h;
}

static int same_model(const rn_model *a, const rn_model *b) {
    return a->init_seed == b->init_seed && !memcmp(&a->cfg, &b->cfg, sizeof a->cfg) &&
           a->channels == b->channels && a->height == b->height && a->width == b->width &&
           a->out_dim == b->out_dim && a->num_tensors == b->num_tensors &&
           a->params.count == b->params.count && a->buffers.count == b->buffers.count;
}

static void draw(rn_model *m, uint64_t seed);

void rn_init_params(rn_model *m, uint64_t seed) {
    m->init_seed = seed;
    pthread_mutex_lock(&g_live_lock);
    const rn_model *twin = NULL;
    for (const rn_model *o = g_live; o && !twin; o = o->next_live)
        if (same_model(o, m) && state_hash(o) == o->init_hash) twin = o;
    if (twin) {
        memcpy(m->params.data, twin->params.data, (size_t)m->params.count * sizeof(float));
        memcpy(m->buffers.data, twin->buffers.data, (size_t)m->buffers.count * sizeof(float));
        m->init_hash = twin->init_hash;
    } else {
        draw(m, seed);
        m->init_hash = state_hash(m);
    }
    m->next_live = g_live;
    g_live = m;
    pthread_mutex_unlock(&g_live_lock);
}

void rn_init_forget(rn_model *m) {
    pthread_mutex_lock(&g_live_lock);
    for (rn_model **p = &g_live; *p; p = &(*p)->next_live)
        if (*p == m) {
            *p = m->next_live;
            break;
        }
    pthread_mutex_unlock(&g_live_lock);
}

static void draw(rn_model *m, uint64_t seed) {
    moco_rng rng;
    moco_rng_seed(&rng, seed);
    for (int32_t i = 0; i < m->num_tensors; i++) {
        const moco_tensor_desc *d = &m->desc[i];
        float *v = (float *)d->data;
        int64_t numel = moco_numel(d->ndim, d->shape);
        const rn_init *in = &m->init[i];
        switch (in->kind) {
        case RN_INIT_ZERO:
            for (int64_t k = 0; k < numel; k++) v[k] = 0.0f;
            break;
        case RN_INIT_ONE:
            for (int64_t k = 0; k < numel; k++) v[k] = 1.0f;
            break;
        case RN_INIT_KAIMING_FAN_OUT: {
            /* = v[k] = (float)(std * moco_rng_normal(&rng)), on the SDK's threads */
            moco_fill_normal(v, numel, sqrt(2.0 / (double)in->fan), &rng);
            break;
        }
        case RN_INIT_UNIFORM_FAN_IN: {
            double bound = 1.0 / sqrt((double)in->fan);
            for (int64_t k = 0; k < numel; k++)
                v[k] = (float)moco_rng_range(&rng, -bound, bound);
            break;
        }
        default:
            MOCO_ASSERT(!"unknown init kind");
        }
    }
}
