/* moco SDK — everything a plugin author needs. */
#ifndef MOCO_MOCO_H
#define MOCO_MOCO_H
#include "moco/sdk.h"
#include "moco/tensor.h"
#include "moco/rng.h"
#include "moco/kernels.h"
#include "moco/dataset.h"
#include "moco/augment.h"
#include "moco/backbone.h"
#include "moco/dictionary.h"
#include "moco/objective.h"
#endif
