/* moco SDK — tensors and named state.
 * Activations are float32, NCHW, contiguous. Parameters and buffers live in
 * arenas owned by the plugin; the host sees them through moco_tensor_desc
 * tables, so the optimizer, the momentum update and checkpoints are flat
 * loops that never need to know the architecture. */
#ifndef MOCO_TENSOR_H
#define MOCO_TENSOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOCO_MAX_DIMS 4

enum { MOCO_DTYPE_F32 = 1, MOCO_DTYPE_I64 = 2 };

/* Role of a named tensor. */
enum {
    MOCO_ROLE_PARAM = 1,   /* trained; has a gradient; momentum-averaged */
    MOCO_ROLE_BUFFER = 2,  /* e.g. BN running stats; updated by forward, not averaged */
    MOCO_ROLE_STATE = 3    /* other persistent state (queue contents, pointers) */
};

/* A simple dense tensor: float32, row-major with the given shape. */
typedef struct moco_tensor {
    int32_t ndim;
    int32_t reserved0;
    int64_t shape[MOCO_MAX_DIMS];
    float *data;
} moco_tensor;

/* A named persistent tensor as a plugin exposes it. `name` follows
 * torchvision's naming for backbones ("layer1.0.bn1.running_mean"). */
typedef struct moco_tensor_desc {
    const char *name;
    int32_t dtype;          /* MOCO_DTYPE_* */
    int32_t role;           /* MOCO_ROLE_* */
    int32_t ndim;
    int32_t reserved0;
    int64_t shape[MOCO_MAX_DIMS];
    void *data;             /* numel elements of dtype; owned by the plugin */
    float *grad;            /* same shape, MOCO_ROLE_PARAM only, else NULL */
} moco_tensor_desc;

/* A contiguous arena of float32 values (all parameters, all gradients, ...). */
typedef struct moco_arena {
    float *data;
    int64_t count;
} moco_arena;

static inline int64_t moco_numel(int32_t ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

#ifdef __cplusplus
}
#endif
#endif /* MOCO_TENSOR_H */
