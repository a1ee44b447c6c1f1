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

#include "resnet18.h"

void rn_init_params(rn_model *m, uint64_t seed) {
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
            double std = sqrt(2.0 / (double)in->fan);
            for (int64_t k = 0; k < numel; k++) v[k] = (float)(std * moco_rng_normal(&rng));
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
