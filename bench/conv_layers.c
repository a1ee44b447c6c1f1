/* bench_conv_layers: seconds per call of the convolution kernels for every
 * distinct convolution of ResNet-18 with the CIFAR stem at batch 32 (or
 * --batch N), forward, input gradient and weight gradient, each as it runs
 * in the step (moco_conv2d_forward / moco_conv2d_backward, so Winograd
 * where it applies). Prints one line per layer with the direct-convolution
 * GFLOP/s, to see where a step's time goes. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "moco/kernels.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct layer {
    const char *name;
    int32_t c_in, hw, c_out, k, stride, pad, count;  /* count: uses per network */
} layer;

static const layer LAYERS[] = {
    {"conv1 3->64 3x3 32", 3, 32, 64, 3, 1, 1, 1},
    {"layer1 64 3x3 32", 64, 32, 64, 3, 1, 1, 4},
    {"layer2 down 64->128 3x3/2", 64, 32, 128, 3, 2, 1, 1},
    {"layer2 short 64->128 1x1/2", 64, 32, 128, 1, 2, 0, 1},
    {"layer2 128 3x3 16", 128, 16, 128, 3, 1, 1, 3},
    {"layer3 down 128->256 3x3/2", 128, 16, 256, 3, 2, 1, 1},
    {"layer3 short 128->256 1x1/2", 128, 16, 256, 1, 2, 0, 1},
    {"layer3 256 3x3 8", 256, 8, 256, 3, 1, 1, 3},
    {"layer4 down 256->512 3x3/2", 256, 8, 512, 3, 2, 1, 1},
    {"layer4 short 256->512 1x1/2", 256, 8, 512, 1, 2, 0, 1},
    {"layer4 512 3x3 4", 512, 4, 512, 3, 1, 1, 3},
};

static double best_of(int reps, void (*fn)(void *), void *ctx) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

typedef struct call {
    const moco_conv_shape *s;
    float *out, *in, *w, *ws, *din, *dw, *dout;
} call;

static void run_fwd(void *v) {
    call *c = v;
    moco_conv2d_forward(c->out, c->in, c->w, c->ws, c->s);
}
static void run_din(void *v) {
    call *c = v;
    moco_conv2d_backward(c->din, NULL, c->dout, c->in, c->w, c->ws, c->s);
}
static void run_dw(void *v) {
    call *c = v;
    moco_conv2d_backward(NULL, c->dw, c->dout, c->in, c->w, c->ws, c->s);
}

static float *filled(size_t n, unsigned seed) {
    float *p = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

int main(int argc, char **argv) {
    int batch = 32, threads = 1, reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_conv_layers [--batch N] [--threads T] [--reps R]\n");
            return 2;
        }
    }
    openblas_set_num_threads(threads);
    printf("%-30s %5s %9s %9s %9s %7s %7s %7s\n", "layer", "uses", "fwd ms", "din ms", "dw ms",
           "fwd GF", "din GF", "dw GF");
    double total = 0;
    for (size_t li = 0; li < sizeof LAYERS / sizeof LAYERS[0]; li++) {
        const layer *L = &LAYERS[li];
        moco_conv_shape s = {batch, L->c_in, L->hw, L->hw, L->c_out, L->k, L->k, L->stride,
                             L->pad, 0, 0};
        if (moco_conv_shape_init(&s) != 0) return 1;
        size_t nin = (size_t)batch * L->c_in * L->hw * L->hw;
        size_t nout = (size_t)batch * L->c_out * s.h_out * s.w_out;
        size_t nw = (size_t)L->c_out * L->c_in * L->k * L->k;
        call c = {&s, malloc(sizeof(float) * nout), filled(nin, 1), filled(nw, 2),
                  malloc(sizeof(float) * moco_conv2d_workspace(&s)), calloc(nin, sizeof(float)),
                  calloc(nw, sizeof(float)), filled(nout, 3)};
        run_fwd(&c);   /* warm-up: page faults, caches */
        run_din(&c);
        run_dw(&c);
        double tf = best_of(reps, run_fwd, &c), td = best_of(reps, run_din, &c);
        double tw = best_of(reps, run_dw, &c);
        double flop = 2.0 * (double)nout * L->c_in * L->k * L->k;
        printf("%-30s %5d %9.2f %9.2f %9.2f %7.1f %7.1f %7.1f\n", L->name, L->count, tf * 1e3,
               td * 1e3, tw * 1e3, flop / tf * 1e-9, flop / td * 1e-9, flop / tw * 1e-9);
        /* query forward + backward (din except conv1) + key forward */
        total += L->count * (2 * tf + (li ? td : 0) + tw);
        free(c.out), free(c.in), free(c.w), free(c.ws), free(c.din), free(c.dw), free(c.dout);
    }
    printf("convolutions of one MoCo step (2 forwards, 1 backward): %.3f s\n", total);
    return 0;
}
