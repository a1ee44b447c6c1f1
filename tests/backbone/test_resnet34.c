/* backbone_resnet34: the second in-tree backbone (same sources as resnet18,
 * BasicBlock x [3, 4, 6, 3]): torchvision's tensor table (218 entries,
 * names and shapes of the added blocks), the parameter count, and a
 * train forward + backward that produces finite, non-zero gradients. */
#define RT_PLUGIN "resnet34"
#include <math.h>

#include "rn_test.h"

static void test_table_width64(void) {
    rt_model r;
    const char *kv[] = {"stem", "cifar", NULL};
    rt_create_ok(&r, kv, 1, 3, 32, 32, 2, 128);
    MT_CHECK(r.info.num_tensors == 218, "%d tensors, torchvision resnet34 has 218",
             r.info.num_tensors);
    /* torchvision resnet34: 21,797,672 with the 7x7 conv1 (9,408) and fc 512->1000
     * (513,000); the CIFAR stem conv1 is 64*3*3*3 = 1,728 and fc 512->128 is 65,664. */
    int64_t expect = 21797672 - 9408 + 1728 - 513000 + 65664;
    MT_CHECK(r.info.params.count == expect, "%lld parameters, want %lld",
             (long long)r.info.params.count, (long long)expect);
    moco_tensor_desc d = rt_find(&r, "layer3.5.conv2.weight");
    MT_CHECK(d.ndim == 4 && d.shape[0] == 256 && d.shape[1] == 256 && d.shape[2] == 3,
             "layer3.5.conv2.weight shape");
    d = rt_find(&r, "layer4.2.bn2.running_var");
    MT_CHECK(d.ndim == 1 && d.shape[0] == 512 && d.role == MOCO_ROLE_BUFFER, "layer4.2.bn2");
    d = rt_find(&r, "layer2.0.downsample.0.weight");
    MT_CHECK(d.ndim == 4 && d.shape[0] == 128 && d.shape[1] == 64, "downsample");
    moco_tensor_desc last = rt_tensor(&r, r.info.num_tensors - 1);
    MT_CHECK(!strcmp(last.name, "fc.bias"), "last tensor %s", last.name);
    rt_destroy(&r);
}

static void test_train_step_tiny(void) {
    rt_model r;
    const char *kv[] = {"stem", "cifar", "width", "4", NULL};
    rt_create_ok(&r, kv, 2, 3, 16, 16, 4, 8);
    float x[4 * 3 * 16 * 16], out[4 * 8], dout[4 * 8];
    rt_fill_normal(x, 4 * 3 * 16 * 16, 3);
    rt_fill_uniform(dout, 4 * 8, 4);
    moco_error err = {{0}};
    MT_CHECK(r.api->forward(r.m, out, NULL, x, 4, 1, &err) == 0, "%s", err.msg);
    memset(r.info.grads.data, 0, sizeof(float) * r.info.grads.count);
    MT_CHECK(r.api->backward(r.m, dout, &err) == 0, "%s", err.msg);
    int64_t nonzero = 0, finite = 1;
    for (int64_t i = 0; i < r.info.grads.count; i++) {
        nonzero += r.info.grads.data[i] != 0.0f;
        finite &= isfinite(r.info.grads.data[i]);
    }
    MT_CHECK(finite, "non-finite gradient");
    MT_CHECK(nonzero > r.info.grads.count / 2, "%lld of %lld gradients non-zero",
             (long long)nonzero, (long long)r.info.grads.count);
    moco_tensor_desc g = rt_find(&r, "layer3.5.conv1.weight");
    double s = 0;
    for (int64_t i = 0; i < moco_numel(g.ndim, g.shape); i++) s += fabs(g.grad[i]);
    MT_CHECK(s > 0, "the added blocks get gradients");
    rt_destroy(&r);
}

int main(void) {
    MT_RUN(test_table_width64);
    MT_RUN(test_train_step_tiny);
    return mt_finish();
}
