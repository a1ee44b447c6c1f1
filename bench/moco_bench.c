/* moco_bench: seconds per MoCo training step of the real host code
 * (host/train.c train_step with the resnet18, queue and infonce plugins),
 * the data pipeline alone, a prefetched epoch against a resident batch, and
 * OpenBLAS's SGEMM peak. One measurement per process (peak RSS is per
 * process); prints one JSON object on stdout. bench/run.py drives it next to
 * bench/torch_step.py and prints the table (see bench/README.md).
 *
 *   moco_bench step  --stem cifar|imagenet --batch N --threads T [--reps R] [--warmup W]
 *   moco_bench data  [--images N]                 (one core: load + two views)
 *   moco_bench epoch --stem S --batch N --threads T [--steps S]
 *   moco_bench peak  --threads T                  (SGEMM n=512)
 *
 * Data: real CIFAR-10 from MOCO_CIFAR10_DIR or --data DIR; without it the
 * program writes synthetic files of the same format into a temp folder (the
 * timings of the step do not depend on pixel values). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "prefetch.h"
#include "run.h"
#include "synth_cifar.h"
#include "train.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double t_main;   /* process start (first line of main) */

typedef struct opts {
    const char *mode, *stem, *data;
    int batch, threads, reps, warmup, steps, images, width, limit;
} opts;

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void print_times(const char *key, const double *v, int n) {
    printf(",\"%s\":[", key);
    for (int i = 0; i < n; i++) printf("%s%.5f", i ? "," : "", v[i]);
    printf("]");
}

/* Multiply-adds x 2 of one forward of ResNet-18 (convs and fc; BN, ReLU and
 * pooling are not counted) on size x size inputs. */
static double resnet18_forward_flops(const char *stem, int size, int width, int dim,
                                     double *stem_flops) {
    double f = 0;
    int imagenet = !strcmp(stem, "imagenet");
    int h = imagenet ? (size + 6 - 7) / 2 + 1 : size;
    *stem_flops = 2.0 * width * 3 * (imagenet ? 49 : 9) * h * h;
    f += *stem_flops;
    if (imagenet) h = (h + 2 - 3) / 2 + 1;
    int c = width;
    for (int s = 0; s < 4; s++) {
        int co = width << s;
        for (int b = 0; b < 2; b++) {
            int stride = s > 0 && b == 0 ? 2 : 1;
            int ho = (h + 2 - 3) / stride + 1;
            f += 2.0 * co * c * 9 * ho * ho;         /* conv1 */
            f += 2.0 * co * co * 9 * ho * ho;        /* conv2 */
            if (stride != 1 || c != co) f += 2.0 * co * c * ho * ho;  /* downsample */
            c = co;
            h = ho;
        }
    }
    f += 2.0 * c * dim;
    return f;
}

/* FLOPs of one MoCo step per image: query forward + backward (2x forward,
 * minus the input gradient of the stem) + key forward. */
static double step_flops_per_image(const char *stem, int size, int width, int dim) {
    double stem_f;
    double fwd = resnet18_forward_flops(stem, size, width, dim, &stem_f);
    return fwd + (2 * fwd - stem_f) + fwd;
}

#define SYNTH_PER_FILE 2000
#define SYNTH_PER_FILE_STR "2000"

static const char *data_dir(const opts *o, char *tmp, size_t n) {
    if (o->data) return o->data;
    const char *env = getenv("MOCO_CIFAR10_DIR");
    if (env && *env) {
        char probe[1200];
        snprintf(probe, sizeof probe, "%s/data_batch_1.bin", env);
        if (access(probe, R_OK) == 0) return env;
    }
    snprintf(tmp, n, "/tmp/moco-bench-XXXXXX");
    if (!mkdtemp(tmp)) return NULL;
    char d[1100];
    snprintf(d, sizeof d, "%s/data", tmp);
    if (synth_cifar_write(d, SYNTH_PER_FILE, 7)) return NULL;
    snprintf(tmp + strlen(tmp), n - strlen(tmp), "/data");
    fprintf(stderr, "moco_bench: no MOCO_CIFAR10_DIR: synthetic data in %s\n", tmp);
    return tmp;
}

/* Writes the INI for o into dir and returns its path (static). */
static const char *write_ini(const opts *o, const char *data, int synthetic, const char *dir,
                             int epochs) {
    static char path[1200];
    snprintf(path, sizeof path, "%s/bench.ini", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f,
            "[run]\ndir = %s/run\nseed = 0\nthreads = %d\n"
            "[dataset]\nplugin = cifar10\npath = %s\nlimit = %d\nlimit_test = 100\n%s"
            "[augment]\nplugin = mocoaug\nsize = 32\n"
            "[backbone]\nplugin = resnet18\nstem = %s\nwidth = %d\nhead = linear\n"
            "[dictionary]\nplugin = queue\nsize = %d\n"
            "[objective]\nplugin = infonce\ntemperature = 0.07\n"
            "[moco]\ndim = 128\nmomentum = 0.999\n"
            "[train]\nepochs = %d\nbatch = %d\nlr = 0.03\nsgd_momentum = 0.9\n"
            "weight_decay = 5e-4\nprefetch = 3\n"
            "[eval]\nat_end = false\n",
            dir, o->threads, data, o->limit,
            synthetic ? "records_per_file = " SYNTH_PER_FILE_STR "\n" : "", o->stem, o->width,
            o->batch > 1024 ? o->batch : (1024 / o->batch) * o->batch, epochs, o->batch);
    fclose(f);
    return path;
}

static char g_synth_dir[1100];
static double g_setup_s;   /* run_setup: config, plugins, dataset, both encoders */
static void cleanup_dir(const char *tmp);

static int setup(run *r, const opts *o, int epochs, char *tmp, size_t tmpn) {
    char dtmp[1100] = {0};
    const char *data = data_dir(o, dtmp, sizeof dtmp);
    if (!data) {
        fprintf(stderr, "moco_bench: cannot prepare data\n");
        return 1;
    }
    snprintf(tmp, tmpn, "/tmp/moco-bench-run-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    const char *ini = write_ini(o, data, data == dtmp, tmp, epochs);
    const char *dirs[] = {MOCO_BENCH_PLUGIN_DIR};
    moco_error err = {{0}};
    double t0 = now();
    if (data == dtmp) {
        /* the synthetic files are read at setup; remove them now */
        char cmd[1300];
        snprintf(cmd, sizeof cmd, "%.*s", (int)(strlen(dtmp) - 5), dtmp);
        snprintf(g_synth_dir, sizeof g_synth_dir, "%s", cmd);
    }
    if (!ini || run_setup(r, ini, dirs, 1, NULL, &err)) {
        fprintf(stderr, "moco_bench: setup: %s\n", err.msg);
        return 1;
    }
    g_setup_s = now() - t0;
    openblas_set_num_threads(o->threads);
    if (g_synth_dir[0]) cleanup_dir(g_synth_dir);
    return 0;
}

static void cleanup_dir(const char *tmp) {
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "moco_bench: could not remove %s\n", tmp);
}

static void print_header(const opts *o, const run *r) {
    printf("{\"impl\":\"moco\",\"mode\":\"%s\",\"stem\":\"%s\",\"batch\":%d,\"threads\":%d",
           o->mode, o->stem, o->batch, o->threads);
    if (r) printf(",\"params\":%lld", (long long)r->qinfo.params.count);
}

/* Step on a resident batch (a real augmented batch made once). */
static int mode_step(const opts *o) {
    static run r;   /* large: not on the stack */
    char tmp[1200];
    if (setup(&r, o, 1000, tmp, sizeof tmp)) return 1;
    size_t view = (size_t)r.view.channels * r.view.height * r.view.width;
    float *xq = malloc(sizeof(float) * view * o->batch);
    float *xk = malloc(sizeof(float) * view * o->batch);
    uint8_t *pix = malloc(3 * 32 * 32);
    int64_t *order = malloc(sizeof(int64_t) * r.train_info.count);
    moco_error err = {{0}};
    run_epoch_order(&r, 0, order);
    if (prefetch_fill(&r, 0, order, xq, xk, pix, &err)) {
        fprintf(stderr, "moco_bench: %s\n", err.msg);
        return 1;
    }
    double t_first = now();
    double *times = malloc(sizeof(double) * (o->reps + o->warmup));
    moco_objective_result res;
    for (int i = 0; i < o->warmup + o->reps; i++) {
        double t0 = now();
        if (train_step(&r, xq, xk, 0.03, &res, &err)) {
            fprintf(stderr, "moco_bench: step: %s\n", err.msg);
            return 1;
        }
        times[i] = now() - t0;
    }
    double *t = times + o->warmup;
    print_header(o, &r);
    printf(",\"startup_s\":%.4f,\"setup_s\":%.4f,\"first_step_s\":%.4f", t_first - t_main,
           g_setup_s, times[0]);
    print_times("step_s", t, o->reps);
    double med = median(t, o->reps);
    double fl = step_flops_per_image(o->stem, 32, o->width, 128) * o->batch;
    printf(",\"median_s\":%.5f,\"images_per_s\":%.3f,\"gflop_per_step\":%.3f,"
           "\"gflops\":%.3f,\"loss\":%.5f,\"rss_mib\":%.1f}\n",
           med, o->batch / med, fl * 1e-9, fl * 1e-9 / med, (double)res.loss, peak_rss_mib());
    run_teardown(&r);
    cleanup_dir(tmp);
    free(times);
    free(xq);
    free(xk);
    free(pix);
    free(order);
    return 0;
}

/* The data pipeline alone on this thread: load + two augmented views. */
static int mode_data(const opts *o) {
    static run r;   /* large: not on the stack */
    char tmp[1200];
    if (setup(&r, o, 1, tmp, sizeof tmp)) return 1;
    size_t view = (size_t)r.view.channels * r.view.height * r.view.width;
    float *xq = malloc(sizeof(float) * view * o->batch);
    float *xk = malloc(sizeof(float) * view * o->batch);
    uint8_t *pix = malloc(3 * 32 * 32);
    int64_t *order = malloc(sizeof(int64_t) * r.train_info.count);
    moco_error err = {{0}};
    run_epoch_order(&r, 0, order);
    int64_t batches = r.train_info.count / o->batch;
    int64_t want = (o->images + o->batch - 1) / o->batch;
    if (want > batches) want = batches;
    double *times = malloc(sizeof(double) * want);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    double t0 = now();
    for (int64_t b = 0; b < want; b++) {
        double tb = now();
        if (prefetch_fill(&r, 0, order + b * o->batch, xq, xk, pix, &err)) {
            fprintf(stderr, "moco_bench: %s\n", err.msg);
            return 1;
        }
        times[b] = now() - tb;
    }
    double wall = now() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    double med = median(times, (int)want);
    print_header(o, &r);
    printf(",\"images\":%lld,\"wall_s\":%.4f,\"cpu_s\":%.4f,\"median_batch_s\":%.5f,"
           "\"images_per_s\":%.1f,\"images_per_cpu_s\":%.1f,\"rss_mib\":%.1f}\n",
           (long long)(want * o->batch), wall, cpu, med, o->batch / med,
           (double)(want * o->batch) / cpu, peak_rss_mib());
    run_teardown(&r);
    cleanup_dir(tmp);
    free(xq);
    free(xk);
    free(pix);
    free(order);
    free(times);
    return 0;
}

/* `steps` steps fed by the libuv prefetcher (as train_run does) against the
 * same number on a resident batch; the difference is data stalls. */
static int mode_epoch(const opts *o) {
    static run r;   /* large: not on the stack */
    char tmp[1200];
    if (!getenv("UV_THREADPOOL_SIZE")) setenv("UV_THREADPOOL_SIZE", "2", 1);  /* as moco-host */
    if (setup(&r, o, 1, tmp, sizeof tmp)) return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    prefetcher pf;
    moco_error err = {{0}};
    if (prefetch_init(&pf, &loop, &r, (int32_t)r.cfg.prefetch, &err)) {
        fprintf(stderr, "moco_bench: %s\n", err.msg);
        return 1;
    }
    prefetch_start(&pf, 0, 0);
    int n = o->steps < r.steps_per_epoch ? o->steps : (int)r.steps_per_epoch;
    double *tp = malloc(sizeof(double) * n), *tr = malloc(sizeof(double) * n);
    size_t view = (size_t)r.view.channels * r.view.height * r.view.width;
    float *xq = malloc(sizeof(float) * view * o->batch);
    float *xk = malloc(sizeof(float) * view * o->batch);
    moco_objective_result res;
    double t_first = 0, stall_after_first = 0, t0 = now();
    for (int i = 0; i < n; i++) {
        double ts = now();
        batch *b = prefetch_next(&pf, &err);
        if (!b) {
            fprintf(stderr, "moco_bench: %s\n", err.msg);
            return 1;
        }
        if (i == 0) {
            t_first = now();
            stall_after_first = pf.stall_seconds;
            memcpy(xq, b->xq, sizeof(float) * view * o->batch);
            memcpy(xk, b->xk, sizeof(float) * view * o->batch);
        }
        if (train_step(&r, b->xq, b->xk, 0.03, &res, &err)) {
            fprintf(stderr, "moco_bench: step: %s\n", err.msg);
            return 1;
        }
        prefetch_release(&pf, b);
        tp[i] = now() - ts;   /* includes any wait for data */
    }
    double wall_pf = now() - t0 - (t_first - t0);
    double stalls = pf.stall_seconds - stall_after_first;
    prefetch_free(&pf);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    double t1 = now();
    for (int i = 0; i < n; i++) {
        double ts = now();
        if (train_step(&r, xq, xk, 0.03, &res, &err)) {
            fprintf(stderr, "moco_bench: step: %s\n", err.msg);
            return 1;
        }
        tr[i] = now() - ts;
    }
    double wall_res = now() - t1;
    /* The first prefetched step also waits for the very first batch. */
    double med_pf = median(tp + 1, n - 1), med_res = median(tr + 1, n - 1);
    print_header(o, &r);
    printf(",\"steps\":%d,\"startup_s\":%.4f,\"setup_s\":%.4f,\"prefetched_median_s\":%.5f,"
           "\"resident_median_s\":%.5f,\"prefetched_wall_s\":%.4f,\"resident_wall_s\":%.4f,"
           "\"stall_s\":%.4f,\"stall_fraction\":%.5f,\"slowdown\":%.5f,\"rss_mib\":%.1f}\n",
           n, t_first - t_main, g_setup_s, med_pf, med_res, wall_pf, wall_res, stalls,
           stalls / wall_pf, med_pf / med_res - 1.0, peak_rss_mib());
    run_teardown(&r);
    cleanup_dir(tmp);
    free(tp);
    free(tr);
    free(xq);
    free(xk);
    return 0;
}

/* OpenBLAS SGEMM n=512 with the given threads: best of several runs. */
static int mode_peak(const opts *o) {
    openblas_set_num_threads(o->threads);
    const int n = 512;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)((i * 7) % 13) / 13.0f;
        b[i] = (float)((i * 5) % 11) / 11.0f;
    }
    double best = 1e9;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int k = 0; k < 10; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
        double t = (now() - t0) / 10;
        if (t < best) best = t;
    }
    printf("{\"impl\":\"openblas\",\"mode\":\"peak\",\"threads\":%d,\"n\":%d,\"gflops\":%.2f,"
           "\"kernel\":\"%s\"}\n", o->threads, n, 2.0 * n * n * n / best * 1e-9,
           openblas_get_corename());
    free(a);
    free(b);
    free(c);
    return 0;
}

static int usage(void) {
    fputs("usage: moco_bench step|data|epoch|peak [--stem cifar|imagenet] [--batch N] "
          "[--threads T] [--reps R] [--warmup W] [--steps S] [--images N] [--width W] "
          "[--data DIR]\n", stderr);
    return 2;
}

int main(int argc, char **argv) {
    t_main = now();
    if (argc < 2) return usage();
    opts o = {argv[1], "cifar", NULL, 32, 1, 5, 1, 40, 4096, 64, 0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        if (!strcmp(a, "--stem")) o.stem = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--batch")) o.batch = atoi(v);
        else if (!strcmp(a, "--threads")) o.threads = atoi(v);
        else if (!strcmp(a, "--reps")) o.reps = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "--steps")) o.steps = atoi(v);
        else if (!strcmp(a, "--images")) o.images = atoi(v);
        else if (!strcmp(a, "--width")) o.width = atoi(v);
        else return usage();
        i++;
    }
    if (o.batch < 2 || o.threads < 1 || o.reps < 1 || o.warmup < 0 || o.steps < 3 ||
        (strcmp(o.stem, "cifar") && strcmp(o.stem, "imagenet")))
        return usage();
    host_log_level = MOCO_LOG_WARN;
    if (!strcmp(o.mode, "step")) {
        o.limit = o.batch * 4 > 1024 ? o.batch * 4 : 1024;
        return mode_step(&o);
    }
    if (!strcmp(o.mode, "data")) return mode_data(&o);
    if (!strcmp(o.mode, "epoch")) return mode_epoch(&o);
    if (!strcmp(o.mode, "peak")) return mode_peak(&o);
    return usage();
}
