/* backbone_resnet18_table: the tensor table matches torchvision's
 * resnet18().state_dict() name for name, shape for shape, in order; roles,
 * arenas and parameter counts; initial values follow torchvision's init. */
#include <math.h>

#include "rn_test.h"

typedef struct tv_entry {
    const char *name;
    int32_t ndim;
    int64_t shape[4];
} tv_entry;

/* torchvision.models.resnet18() state_dict for the CIFAR stem (conv1 3x3
 * instead of 7x7) and fc to dim 128, in state_dict order. torchvision's
 * num_batches_tracked is an int64 scalar of shape (); the plugin keeps it as
 * a float of shape (1) and the checkpoint exporter converts it. */
static const tv_entry tv_resnet18[] = {
    {"conv1.weight", 4, {64, 3, 3, 3}},
    {"bn1.weight", 1, {64}},
    {"bn1.bias", 1, {64}},
    {"bn1.running_mean", 1, {64}},
    {"bn1.running_var", 1, {64}},
    {"bn1.num_batches_tracked", 1, {1}},
    {"layer1.0.conv1.weight", 4, {64, 64, 3, 3}},
    {"layer1.0.bn1.weight", 1, {64}},
    {"layer1.0.bn1.bias", 1, {64}},
    {"layer1.0.bn1.running_mean", 1, {64}},
    {"layer1.0.bn1.running_var", 1, {64}},
    {"layer1.0.bn1.num_batches_tracked", 1, {1}},
    {"layer1.0.conv2.weight", 4, {64, 64, 3, 3}},
    {"layer1.0.bn2.weight", 1, {64}},
    {"layer1.0.bn2.bias", 1, {64}},
    {"layer1.0.bn2.running_mean", 1, {64}},
    {"layer1.0.bn2.running_var", 1, {64}},
    {"layer1.0.bn2.num_batches_tracked", 1, {1}},
    {"layer1.1.conv1.weight", 4, {64, 64, 3, 3}},
    {"layer1.1.bn1.weight", 1, {64}},
    {"layer1.1.bn1.bias", 1, {64}},
    {"layer1.1.bn1.running_mean", 1, {64}},
    {"layer1.1.bn1.running_var", 1, {64}},
    {"layer1.1.bn1.num_batches_tracked", 1, {1}},
    {"layer1.1.conv2.weight", 4, {64, 64, 3, 3}},
    {"layer1.1.bn2.weight", 1, {64}},
    {"layer1.1.bn2.bias", 1, {64}},
    {"layer1.1.bn2.running_mean", 1, {64}},
    {"layer1.1.bn2.running_var", 1, {64}},
    {"layer1.1.bn2.num_batches_tracked", 1, {1}},
    {"layer2.0.conv1.weight", 4, {128, 64, 3, 3}},
    {"layer2.0.bn1.weight", 1, {128}},
    {"layer2.0.bn1.bias", 1, {128}},
    {"layer2.0.bn1.running_mean", 1, {128}},
    {"layer2.0.bn1.running_var", 1, {128}},
    {"layer2.0.bn1.num_batches_tracked", 1, {1}},
    {"layer2.0.conv2.weight", 4, {128, 128, 3, 3}},
    {"layer2.0.bn2.weight", 1, {128}},
    {"layer2.0.bn2.bias", 1, {128}},
    {"layer2.0.bn2.running_mean", 1, {128}},
    {"layer2.0.bn2.running_var", 1, {128}},
    {"layer2.0.bn2.num_batches_tracked", 1, {1}},
    {"layer2.0.downsample.0.weight", 4, {128, 64, 1, 1}},
    {"layer2.0.downsample.1.weight", 1, {128}},
    {"layer2.0.downsample.1.bias", 1, {128}},
    {"layer2.0.downsample.1.running_mean", 1, {128}},
    {"layer2.0.downsample.1.running_var", 1, {128}},
    {"layer2.0.downsample.1.num_batches_tracked", 1, {1}},
    {"layer2.1.conv1.weight", 4, {128, 128, 3, 3}},
    {"layer2.1.bn1.weight", 1, {128}},
    {"layer2.1.bn1.bias", 1, {128}},
    {"layer2.1.bn1.running_mean", 1, {128}},
    {"layer2.1.bn1.running_var", 1, {128}},
    {"layer2.1.bn1.num_batches_tracked", 1, {1}},
    {"layer2.1.conv2.weight", 4, {128, 128, 3, 3}},
    {"layer2.1.bn2.weight", 1, {128}},
    {"layer2.1.bn2.bias", 1, {128}},
    {"layer2.1.bn2.running_mean", 1, {128}},
    {"layer2.1.bn2.running_var", 1, {128}},
    {"layer2.1.bn2.num_batches_tracked", 1, {1}},
    {"layer3.0.conv1.weight", 4, {256, 128, 3, 3}},
    {"layer3.0.bn1.weight", 1, {256}},
    {"layer3.0.bn1.bias", 1, {256}},
    {"layer3.0.bn1.running_mean", 1, {256}},
    {"layer3.0.bn1.running_var", 1, {256}},
    {"layer3.0.bn1.num_batches_tracked", 1, {1}},
    {"layer3.0.conv2.weight", 4, {256, 256, 3, 3}},
    {"layer3.0.bn2.weight", 1, {256}},
    {"layer3.0.bn2.bias", 1, {256}},
    {"layer3.0.bn2.running_mean", 1, {256}},
    {"layer3.0.bn2.running_var", 1, {256}},
    {"layer3.0.bn2.num_batches_tracked", 1, {1}},
    {"layer3.0.downsample.0.weight", 4, {256, 128, 1, 1}},
    {"layer3.0.downsample.1.weight", 1, {256}},
    {"layer3.0.downsample.1.bias", 1, {256}},
    {"layer3.0.downsample.1.running_mean", 1, {256}},
    {"layer3.0.downsample.1.running_var", 1, {256}},
    {"layer3.0.downsample.1.num_batches_tracked", 1, {1}},
    {"layer3.1.conv1.weight", 4, {256, 256, 3, 3}},
    {"layer3.1.bn1.weight", 1, {256}},
    {"layer3.1.bn1.bias", 1, {256}},
    {"layer3.1.bn1.running_mean", 1, {256}},
    {"layer3.1.bn1.running_var", 1, {256}},
    {"layer3.1.bn1.num_batches_tracked", 1, {1}},
    {"layer3.1.conv2.weight", 4, {256, 256, 3, 3}},
    {"layer3.1.bn2.weight", 1, {256}},
    {"layer3.1.bn2.bias", 1, {256}},
    {"layer3.1.bn2.running_mean", 1, {256}},
    {"layer3.1.bn2.running_var", 1, {256}},
    {"layer3.1.bn2.num_batches_tracked", 1, {1}},
    {"layer4.0.conv1.weight", 4, {512, 256, 3, 3}},
    {"layer4.0.bn1.weight", 1, {512}},
    {"layer4.0.bn1.bias", 1, {512}},
    {"layer4.0.bn1.running_mean", 1, {512}},
    {"layer4.0.bn1.running_var", 1, {512}},
    {"layer4.0.bn1.num_batches_tracked", 1, {1}},
    {"layer4.0.conv2.weight", 4, {512, 512, 3, 3}},
    {"layer4.0.bn2.weight", 1, {512}},
    {"layer4.0.bn2.bias", 1, {512}},
    {"layer4.0.bn2.running_mean", 1, {512}},
    {"layer4.0.bn2.running_var", 1, {512}},
    {"layer4.0.bn2.num_batches_tracked", 1, {1}},
    {"layer4.0.downsample.0.weight", 4, {512, 256, 1, 1}},
    {"layer4.0.downsample.1.weight", 1, {512}},
    {"layer4.0.downsample.1.bias", 1, {512}},
    {"layer4.0.downsample.1.running_mean", 1, {512}},
    {"layer4.0.downsample.1.running_var", 1, {512}},
    {"layer4.0.downsample.1.num_batches_tracked", 1, {1}},
    {"layer4.1.conv1.weight", 4, {512, 512, 3, 3}},
    {"layer4.1.bn1.weight", 1, {512}},
    {"layer4.1.bn1.bias", 1, {512}},
    {"layer4.1.bn1.running_mean", 1, {512}},
    {"layer4.1.bn1.running_var", 1, {512}},
    {"layer4.1.bn1.num_batches_tracked", 1, {1}},
    {"layer4.1.conv2.weight", 4, {512, 512, 3, 3}},
    {"layer4.1.bn2.weight", 1, {512}},
    {"layer4.1.bn2.bias", 1, {512}},
    {"layer4.1.bn2.running_mean", 1, {512}},
    {"layer4.1.bn2.running_var", 1, {512}},
    {"layer4.1.bn2.num_batches_tracked", 1, {1}},
    {"fc.weight", 2, {128, 512}},
    {"fc.bias", 1, {128}},
};
#define TV_COUNT ((int32_t)(sizeof tv_resnet18 / sizeof tv_resnet18[0]))

static const char *const cifar_linear[] = {NULL};

static int shape_eq(const moco_tensor_desc *d, int32_t ndim, const int64_t *shape) {
    if (d->ndim != ndim) return 0;
    for (int32_t k = 0; k < ndim; k++)
        if (d->shape[k] != shape[k]) return 0;
    return 1;
}

static int64_t count_params(const rt_model *r) {
    int64_t n = 0;
    for (int32_t i = 0; i < r->info.num_tensors; i++) {
        moco_tensor_desc d = rt_tensor(r, i);
        if (d.role == MOCO_ROLE_PARAM) n += moco_numel(d.ndim, d.shape);
    }
    return n;
}

/* torchvision resnet18 has 11,689,512 parameters with conv1 7x7 (64*3*7*7 =
 * 9408 weights) and fc 512 -> 1000 (512*1000 + 1000). */
#define TV_PARAMS 11689512LL
#define TV_CONV1_7x7 (64LL * 3 * 7 * 7)
#define TV_FC_1000 (512LL * 1000 + 1000)
#define CONV1_3x3 (64LL * 3 * 3 * 3)
#define FC_128 (512LL * 128 + 128)

static void test_names_order_shapes(void) {
    rt_model r;
    rt_create_ok(&r, cifar_linear, 1, 3, 32, 32, 2, 128);
    MT_CHECK(TV_COUNT == 122, "expected list has %d entries", (int)TV_COUNT);
    MT_CHECK(r.info.num_tensors == TV_COUNT, "num_tensors %d, torchvision has %d",
             (int)r.info.num_tensors, (int)TV_COUNT);
    int32_t n = r.info.num_tensors < TV_COUNT ? r.info.num_tensors : TV_COUNT;
    int mismatches = 0;
    for (int32_t i = 0; i < n; i++) {
        moco_tensor_desc d = rt_tensor(&r, i);
        int ok = strcmp(d.name, tv_resnet18[i].name) == 0 &&
                 shape_eq(&d, tv_resnet18[i].ndim, tv_resnet18[i].shape) &&
                 d.dtype == MOCO_DTYPE_F32;
        if (!ok && mismatches++ < 5)
            MT_CHECK(ok, "entry %d: got %s (ndim %d, %lldx%lldx%lldx%lld), want %s", (int)i,
                     d.name, (int)d.ndim, (long long)d.shape[0], (long long)d.shape[1],
                     (long long)d.shape[2], (long long)d.shape[3], tv_resnet18[i].name);
    }
    MT_CHECK(mismatches == 0, "%d entries differ from torchvision", mismatches);

    /* first and last few, spelled out */
    moco_tensor_desc d = rt_tensor(&r, 0);
    MT_CHECK(!strcmp(d.name, "conv1.weight") && d.shape[0] == 64 && d.shape[1] == 3 &&
                 d.shape[2] == 3 && d.shape[3] == 3, "first: %s", d.name);
    d = rt_tensor(&r, 5);
    MT_CHECK(!strcmp(d.name, "bn1.num_batches_tracked"), "6th: %s", d.name);
    d = rt_tensor(&r, 6);
    MT_CHECK(!strcmp(d.name, "layer1.0.conv1.weight"), "7th: %s", d.name);
    d = rt_tensor(&r, n - 3);
    MT_CHECK(!strcmp(d.name, "layer4.1.bn2.num_batches_tracked"), "3rd last: %s", d.name);
    d = rt_tensor(&r, n - 2);
    MT_CHECK(!strcmp(d.name, "fc.weight") && d.ndim == 2 && d.shape[0] == 128 &&
                 d.shape[1] == 512, "2nd last: %s", d.name);
    d = rt_tensor(&r, n - 1);
    MT_CHECK(!strcmp(d.name, "fc.bias") && d.ndim == 1 && d.shape[0] == 128, "last: %s",
             d.name);

    /* every BatchNorm has exactly its 5 entries, in torchvision's order */
    static const char *const bn_fields[5] = {"weight", "bias", "running_mean", "running_var",
                                             "num_batches_tracked"};
    int bns = 0, fields = 0;
    for (int32_t i = 0; i < n; i++) {
        moco_tensor_desc e = rt_tensor(&r, i);
        if (!rt_ends_with(e.name, ".running_mean")) continue;
        bns++;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(e.name) - strlen(".running_mean")),
                 e.name);
        for (int k = 0; k < 5; k++) {
            char want[96];
            snprintf(want, sizeof want, "%s.%s", prefix, bn_fields[k]);
            int32_t j = i - 2 + k;
            if (j >= 0 && j < n && !strcmp(rt_tensor(&r, j).name, want)) fields++;
        }
    }
    MT_CHECK(bns == 20, "%d BatchNorms, resnet18 has 20", bns);
    MT_CHECK(fields == 5 * bns, "%d of %d BN entries in place", fields, 5 * bns);
    rt_destroy(&r);
}

static void test_roles_and_arenas(void) {
    rt_model r;
    rt_create_ok(&r, cifar_linear, 1, 3, 32, 32, 2, 128);
    const moco_backbone_info *in = &r.info;
    MT_CHECK(in->feat_dim == 512 && in->out_dim == 128 && in->max_batch == 2,
             "info: feat %d out %d max_batch %d", (int)in->feat_dim, (int)in->out_dim,
             (int)in->max_batch);
    MT_CHECK(in->params.count == in->grads.count, "params %lld, grads %lld",
             (long long)in->params.count, (long long)in->grads.count);
    int64_t p_off = 0, b_off = 0;
    int bad_role = 0, bad_place = 0;
    for (int32_t i = 0; i < in->num_tensors; i++) {
        moco_tensor_desc d = rt_tensor(&r, i);
        int64_t numel = moco_numel(d.ndim, d.shape);
        int buffer = rt_ends_with(d.name, "running_mean") || rt_ends_with(d.name, "running_var") ||
                     rt_ends_with(d.name, "num_batches_tracked");
        if (d.role != (buffer ? MOCO_ROLE_BUFFER : MOCO_ROLE_PARAM)) bad_role++;
        if (d.role == MOCO_ROLE_PARAM) {
            /* consecutive in table order; the grad at the same offset */
            if ((float *)d.data != in->params.data + p_off || d.grad != in->grads.data + p_off)
                bad_place++;
            p_off += numel;
        } else {
            if ((float *)d.data != in->buffers.data + b_off || d.grad != NULL) bad_place++;
            b_off += numel;
        }
    }
    MT_CHECK(bad_role == 0, "%d tensors with the wrong role", bad_role);
    MT_CHECK(bad_place == 0, "%d tensors not where the arena layout puts them", bad_place);
    MT_CHECK(p_off == in->params.count, "params cover %lld of %lld", (long long)p_off,
             (long long)in->params.count);
    MT_CHECK(b_off == in->buffers.count, "buffers cover %lld of %lld", (long long)b_off,
             (long long)in->buffers.count);

    /* 11,173,962 = torchvision's count with a 3x3 conv1 and fc to 10 classes
     * (the usual CIFAR ResNet-18); here fc goes to dim 128 instead. */
    const int64_t cifar10 = TV_PARAMS - TV_CONV1_7x7 + CONV1_3x3 - TV_FC_1000 + (512 * 10 + 10);
    MT_CHECK(cifar10 == 11173962LL, "arithmetic: %lld", (long long)cifar10);
    const int64_t want = 11173962LL - 10 * 512 - 10 + 128 * 512 + 128;
    MT_CHECK(want == 11234496LL, "arithmetic: %lld", (long long)want);
    int64_t got = count_params(&r);
    MT_CHECK(got == want && in->params.count == want, "parameters %lld (arena %lld), want %lld",
             (long long)got, (long long)in->params.count, (long long)want);
    /* buffers: 2 running stats per BN channel + 1 counter per BN; 4800 BN
     * channels = 64 + 4*64 + 5*128 + 5*256 + 5*512 (downsample BNs included) */
    MT_CHECK(in->buffers.count == 2 * 4800 + 20, "buffers %lld", (long long)in->buffers.count);
    rt_destroy(&r);
}

static void test_imagenet_stem_and_mlp_head(void) {
    static const char *const kv[] = {"stem", "imagenet", "head", "mlp", NULL};
    rt_model r;
    rt_create_ok(&r, kv, 1, 3, 64, 64, 2, 128);
    MT_CHECK(r.info.num_tensors == 124, "%d tensors, want 122 - 2 + 4", (int)r.info.num_tensors);
    moco_tensor_desc d = rt_tensor(&r, 0);
    MT_CHECK(!strcmp(d.name, "conv1.weight") && d.shape[2] == 7 && d.shape[3] == 7,
             "conv1 %s %lldx%lld", d.name, (long long)d.shape[2], (long long)d.shape[3]);
    static const tv_entry head[4] = {{"fc.0.weight", 2, {512, 512}},
                                     {"fc.0.bias", 1, {512}},
                                     {"fc.2.weight", 2, {128, 512}},
                                     {"fc.2.bias", 1, {128}}};
    for (int k = 0; k < 4; k++) {
        d = rt_tensor(&r, 120 + k);
        MT_CHECK(!strcmp(d.name, head[k].name) && shape_eq(&d, head[k].ndim, head[k].shape),
                 "entry %d: %s, want %s", 120 + k, d.name, head[k].name);
    }
    /* 7x7 stem is torchvision's own; head = Linear(512,512) + Linear(512,128) */
    const int64_t want = TV_PARAMS - TV_FC_1000 + (512LL * 512 + 512) + FC_128;
    MT_CHECK(r.info.params.count == want, "parameters %lld, want %lld",
             (long long)r.info.params.count, (long long)want);
    rt_destroy(&r);
}

static void test_reduced_width(void) {
    static const char *const kv[] = {"width", "16", NULL};
    rt_model r;
    rt_create_ok(&r, kv, 1, 3, 16, 16, 2, 32);
    MT_CHECK(r.info.feat_dim == 128, "feat_dim %d", (int)r.info.feat_dim);
    moco_tensor_desc d = rt_find(&r, "layer3.0.downsample.0.weight");
    MT_CHECK(d.shape[0] == 64 && d.shape[1] == 32 && d.shape[2] == 1 && d.shape[3] == 1,
             "downsample %lldx%lld", (long long)d.shape[0], (long long)d.shape[1]);
    d = rt_find(&r, "fc.weight");
    MT_CHECK(d.shape[0] == 32 && d.shape[1] == 128, "fc %lldx%lld", (long long)d.shape[0],
             (long long)d.shape[1]);
    rt_destroy(&r);
}

/* mean and standard deviation of a tensor */
static void moments(const moco_tensor_desc *d, double *mean, double *sd, double *maxabs) {
    int64_t n = moco_numel(d->ndim, d->shape);
    const float *v = d->data;
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
        if (fabs(v[i]) > m) m = fabs(v[i]);
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
    *maxabs = m;
}

static void test_init(void) {
    rt_model r;
    rt_create_ok(&r, cifar_linear, 1, 3, 32, 32, 2, 128);
    double mean, sd, mx;
    /* 2.36M samples: the sample sd is within 0.2% of sqrt(2 / (512*3*3)) */
    moco_tensor_desc d = rt_find(&r, "layer4.1.conv2.weight");
    moments(&d, &mean, &sd, &mx);
    MT_CLOSE(sd, sqrt(2.0 / (512 * 9)), 0, 0.01);
    MT_CLOSE(mean, 0, 1e-3 * sqrt(2.0 / (512 * 9)) * 10, 0);
    d = rt_find(&r, "layer2.0.downsample.0.weight");   /* 1x1: fan_out = 128 */
    moments(&d, &mean, &sd, &mx);
    MT_CLOSE(sd, sqrt(2.0 / 128), 0, 0.03);
    /* Linear(512, 128): uniform(+-1/sqrt(512)), sd = bound / sqrt(3) */
    d = rt_find(&r, "fc.weight");
    moments(&d, &mean, &sd, &mx);
    MT_CHECK(mx <= 1.0 / sqrt(512.0), "fc.weight max %g", mx);
    MT_CLOSE(sd, 1.0 / sqrt(512.0) / sqrt(3.0), 0, 0.02);
    d = rt_find(&r, "fc.bias");
    moments(&d, &mean, &sd, &mx);
    MT_CHECK(mx <= 1.0 / sqrt(512.0) && sd > 0, "fc.bias max %g sd %g", mx, sd);
    /* BN: weight 1, bias 0, running stats 0/1, counter 0 */
    int bad = 0;
    for (int32_t i = 0; i < r.info.num_tensors; i++) {
        moco_tensor_desc e = rt_tensor(&r, i);
        int64_t n = moco_numel(e.ndim, e.shape);
        const float *v = e.data;
        float want = -1;
        if (strstr(e.name, "bn") || strstr(e.name, "downsample.1")) {
            if (rt_ends_with(e.name, ".weight") || rt_ends_with(e.name, "running_var")) want = 1;
            else want = 0;
        }
        if (want < 0) continue;
        for (int64_t k = 0; k < n; k++) bad += v[k] != want;
    }
    MT_CHECK(bad == 0, "%d BN values not at their initial value", bad);
    rt_destroy(&r);

    static const char *const zir[] = {"zero_init_residual", "true", "width", "8", NULL};
    rt_create_ok(&r, zir, 1, 3, 16, 16, 2, 16);
    int zeros = 0, ones = 0;
    for (int32_t i = 0; i < r.info.num_tensors; i++) {
        moco_tensor_desc e = rt_tensor(&r, i);
        const float *v = e.data;
        if (rt_ends_with(e.name, "bn2.weight")) zeros += v[0] == 0.0f && v[e.shape[0] - 1] == 0.0f;
        if (rt_ends_with(e.name, "bn1.weight")) ones += v[0] == 1.0f;
    }
    MT_CHECK(zeros == 8, "%d of 8 bn2.weight zeroed by zero_init_residual", zeros);
    MT_CHECK(ones == 9, "%d of 9 bn1.weight still 1", ones);
    rt_destroy(&r);
}

int main(void) {
    MT_RUN(test_names_order_shapes);
    MT_RUN(test_roles_and_arenas);
    MT_RUN(test_imagenet_stem_and_mlp_head);
    MT_RUN(test_reduced_width);
    MT_RUN(test_init);
    return mt_finish();
}
