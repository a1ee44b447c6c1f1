/* resnet18 plugin — the INI keys of its section, read through moco_cfg_*.
 *
 *   stem               = cifar | imagenet   (cifar: conv 3x3/1/1, no max-pool;
 *                                            imagenet: conv 7x7/2/3 + max-pool 3/2/1)
 *   width              = 64                 (stage widths w, 2w, 4w, 8w)
 *   head               = linear | mlp       (linear: fc = Linear(8w, dim), MoCo v1;
 *                                            mlp: Linear(8w, 8w), ReLU, Linear(8w, dim), v2)
 *   bn_momentum        = 0.1
 *   bn_eps             = 1e-5
 *   zero_init_residual = false
 *
 * Every key is read even when it is absent, so the host knows it is ours. */
#include "resnet18.h"

int32_t rn_config_read(const moco_host *host, rn_config *cfg, moco_error *err) {
    static const char *const stems[] = {"cifar", "imagenet", NULL};
    static const char *const heads[] = {"linear", "mlp", NULL};
    int64_t width;
    double momentum, eps;
    int32_t rc;

    if ((rc = moco_cfg_choice(host, "stem", stems, RN_STEM_CIFAR, &cfg->stem, err))) return rc;
    /* 1024 keeps every size comfortably inside int32 kernels' ranges. */
    if ((rc = moco_cfg_int(host, "width", 64, 1, 1024, &width, err))) return rc;
    if ((rc = moco_cfg_choice(host, "head", heads, RN_HEAD_LINEAR, &cfg->head, err))) return rc;
    if ((rc = moco_cfg_float(host, "bn_momentum", 0.1, 0.0, 1.0, &momentum, err))) return rc;
    if ((rc = moco_cfg_float(host, "bn_eps", 1e-5, 1e-12, 1.0, &eps, err))) return rc;
    if ((rc = moco_cfg_bool(host, "zero_init_residual", 0, &cfg->zero_init_residual, err)))
        return rc;
    cfg->width = (int32_t)width;
    cfg->bn_momentum = (float)momentum;
    cfg->bn_eps = (float)eps;
    return MOCO_OK;
}
