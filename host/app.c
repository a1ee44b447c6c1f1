/* moco-host command line: train, resume, evaluate, list and check plugins. */
#include "app.h"

#include <cblas.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "evaluate.h"
#include "export.h"
#include "report.h"
#include "plugin.h"
#include "run.h"
#include "train.h"

#define MAX_DIRS 8

static const char USAGE[] =
    "usage: moco-host [options] CONFIG.ini\n"
    "       moco-host export CHECKPOINT [--format safetensors] OUT\n"
    "       moco-host report RUN_DIR   (re)write RUN_DIR/report.html from its metrics\n"
    "\n"
    "Pre-trains an encoder with Momentum Contrast (MoCo) as CONFIG.ini describes,\n"
    "then evaluates it (kNN monitor and linear classifier on frozen features).\n"
    "\n"
    "export writes the query encoder of a checkpoint in the safetensors format\n"
    "with torchvision's ResNet names (see README).\n"
    "\n"
    "options:\n"
    "  --resume            continue from <run dir>/checkpoint.bin if it exists\n"
    "  --resume=FILE       continue from FILE\n"
    "  --run-dir DIR       override [run] dir\n"
    "  --max-steps N       stop with a checkpoint once N steps are done in total\n"
    "  --plugin-dir DIR    search DIR for plugins first (repeatable; also\n"
    "                      MOCO_PLUGIN_PATH=DIR1:DIR2)\n"
    "  --list-plugins      list the plugins found, with kind and versions\n"
    "  --check-plugin FILE load FILE.so (or a plugin name on the search path),\n"
    "                      validate it, print what it is\n"
    "  --blas-info         print the OpenBLAS kernel and threads in use\n"
    "  --quiet             only warnings and errors on stderr\n"
    "  --version           print versions\n"
    "  --help              this text\n"
    "\n"
    "Environment: MOCO_PLUGIN_PATH, MOCO_CIFAR10_DIR (used by configs/*.ini),\n"
    "MOCO_BLAS_AUTOFIX=0 (keep OpenBLAS's own kernel choice).\n";

static volatile sig_atomic_t signals_seen;

static void on_signal(int sig) {
    (void)sig;
    if (++signals_seen == 1) {
        static const char msg[] = "\nmoco: stopping after this step and saving a checkpoint "
                                  "(press Ctrl-C again to quit at once without saving)\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
    }
    if (signals_seen > 1) {
        /* Second Ctrl-C: leave now. Checkpoints are written to a temp file
         * and renamed, so nothing on disk is half-written. */
        static const char msg[] = "\nmoco: interrupted again: exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    train_stop_requested = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A file-size limit (ulimit -f) must become a write error we report,
     * not a silent kill in the middle of a checkpoint. */
    signal(SIGXFSZ, SIG_IGN);
}

static int check_plugin(const char *file, const char *const *dirs, int ndirs) {
    loaded_plugin lp;
    plugin_path path;
    plugin_path_init(&path, dirs, ndirs);
    moco_error err;
    if (plugin_load(&lp, &path, file, 0, &err)) {
        fprintf(stderr, "moco-host: %s\n", err.msg);
        return 1;
    }
    const moco_plugin_entry *e = lp.entry;
    printf("file:        %s\nname:        %s\nkind:        %s\nversion:     %s\n"
           "sdk:         %u.%u (host %d.%d)\ndescription: %s\nstatus:      usable\n",
           lp.path, e->name, moco_kind_name(e->kind), e->version, e->sdk_version.major,
           e->sdk_version.minor, MOCO_SDK_VERSION_MAJOR, MOCO_SDK_VERSION_MINOR,
           e->description ? e->description : "");
    plugin_unload(&lp);
    return 0;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void summary(const run *r, const eval_result *ev, double secs) {
    printf("done: %lld epochs (%lld steps) in %.1f min; run dir %s\n", (long long)r->cfg.epochs,
           (long long)r->global_step, secs / 60.0, r->run_dir);
    if (ev && ev->knn_top1 >= 0) printf("  kNN top-1:    %.2f%%\n", 100.0 * ev->knn_top1);
    if (ev && ev->linear_top1 >= 0) printf("  linear top-1: %.2f%%\n", 100.0 * ev->linear_top1);
}

int moco_host_main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "export")) return export_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "report")) {
        if (argc != 3) {
            fprintf(stderr, "usage: moco-host report RUN_DIR\n");
            return 2;
        }
        moco_error rerr;
        if (report_write(argv[2], argv[2], &rerr)) {
            fprintf(stderr, "moco-host: error: %s\n", rerr.msg);
            return 1;
        }
        printf("wrote %s/report.html\n", argv[2]);
        return 0;
    }
    const char *config = NULL, *resume = NULL, *run_dir = NULL;
    long long max_steps = 0;
    const char *dirs[MAX_DIRS];
    int ndirs = 0, list = 0, auto_resume = 0;
    const char *check_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("moco-host %s (SDK %d.%d, checkpoint format %d, OpenBLAS kernel %s)\n",
                   MOCO_VERSION, MOCO_SDK_VERSION_MAJOR, MOCO_SDK_VERSION_MINOR,
                   CKPT_FORMAT_VERSION, openblas_get_corename());
            return 0;
        } else if (!strcmp(a, "--blas-info")) {
            printf("openblas kernel: %s\nopenblas threads: %d\nopenblas config: %s\n",
                   openblas_get_corename(), openblas_get_num_threads(), openblas_get_config());
            return 0;
        } else if (!strcmp(a, "--list-plugins")) {
            list = 1;
        } else if (!strcmp(a, "--check-plugin")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "moco-host: --check-plugin needs a FILE.so\n");
                return 2;
            }
            check_file = argv[++i];
        } else if (!strcmp(a, "--plugin-dir") || !strcmp(a, "--run-dir")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "moco-host: %s needs a directory. HINT: moco-host --help\n", a);
                return 2;
            }
            if (!strcmp(a, "--run-dir"))
                run_dir = argv[++i];
            else if (ndirs < MAX_DIRS)
                dirs[ndirs++] = argv[++i];
        } else if (!strcmp(a, "--max-steps")) {
            char *end = NULL;
            max_steps = i + 1 < argc ? strtoll(argv[i + 1], &end, 10) : 0;
            if (max_steps <= 0 || !end || *end) {
                fprintf(stderr, "moco-host: --max-steps needs a positive whole number. HINT: "
                        "--max-steps 100\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--resume")) {
            auto_resume = 1;
        } else if (!strncmp(a, "--resume=", 9)) {
            resume = a + 9;
        } else if (!strcmp(a, "--quiet")) {
            host_log_level = MOCO_LOG_WARN;
        } else if (a[0] == '-') {
            fprintf(stderr, "moco-host: unknown option '%s'. HINT: moco-host --help\n", a);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "moco-host: more than one config given ('%s', '%s'). HINT: "
                    "moco-host --help\n", config, a);
            return 2;
        }
    }
    if (check_file) return check_plugin(check_file, dirs, ndirs);
    if (list) {
        plugin_path p;
        plugin_path_init(&p, dirs, ndirs);
        plugin_list(&p, stdout);
        return 0;
    }
    if (!config) {
        fputs(USAGE, stderr);
        return 2;
    }
    if (!getenv("UV_THREADPOOL_SIZE")) setenv("UV_THREADPOOL_SIZE", "2", 1);

    double t0 = (double)time(NULL);
    run *r = calloc(1, sizeof *r);
    moco_error err = {{0}};
    int32_t st = run_setup(r, config, dirs, ndirs, run_dir, &err);
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/%s", r->run_dir, CKPT_FILE_NAME);
    if (!st) {
        if (r->cfg.threads > 0) openblas_set_num_threads((int)r->cfg.threads);
        if (resume) {
            st = ckpt_load(r, resume, &err);
        } else if (auto_resume && file_exists(ckpt)) {
            st = ckpt_load(r, ckpt, &err);
            resume = ckpt;
        } else if (auto_resume) {
            host_log(MOCO_LOG_INFO, "no checkpoint in %s yet: starting from scratch", r->run_dir);
        } else if (file_exists(ckpt)) {
            st = moco_errorf(&err, MOCO_ERR_INVALID,
                             "%s: run directory already holds a checkpoint; refusing to "
                             "overwrite it. HINT: add --resume to continue it, or choose another "
                             "[run] dir / --run-dir", ckpt);
        }
    }
    if (!st) {
        r->max_steps = max_steps;
        int32_t stale = ckpt_remove_stale(r->run_dir);
        if (stale)
            host_log(MOCO_LOG_INFO, "removed %d unfinished checkpoint file(s) of an earlier, "
                     "interrupted write in %s", stale, r->run_dir);
    }
    if (!st) {
        if (resume)
            host_log(MOCO_LOG_INFO, "resumed from %s at epoch %lld, step %lld", resume,
                     (long long)r->epoch + 1, (long long)r->step_in_epoch);
        host_log(MOCO_LOG_INFO,
                 "%s: %s %s(%lld images, %dx%dx%d) | %s | %s (%lld params) | %s | %s | "
                 "batch %lld, %lld steps/epoch, %lld epochs | openblas %s x%d",
                 config, r->plugin[SLOT_DATASET].entry->name, "", (long long)r->train_info.count,
                 r->train_info.channels, r->train_info.height, r->train_info.width,
                 r->plugin[SLOT_AUGMENT].entry->name, r->plugin[SLOT_BACKBONE].entry->name,
                 (long long)r->qinfo.params.count, r->plugin[SLOT_DICTIONARY].entry->name,
                 r->plugin[SLOT_OBJECTIVE].entry->name, (long long)r->cfg.batch,
                 (long long)r->steps_per_epoch, (long long)r->cfg.epochs,
                 openblas_get_corename(), openblas_get_num_threads());
        if (r->qinfo.sdk_version.major == 1 && r->qinfo.sdk_version.minor >= 1)
            host_log(MOCO_LOG_INFO, "backbone memory: %.1f MiB per encoder (activations and "
                     "scratch for batch %lld)", r->qinfo.memory_bytes / 1048576.0,
                     (long long)(r->cfg.batch > r->cfg.eval_batch ? r->cfg.batch
                                                                  : r->cfg.eval_batch));
        install_signals();
    }
    int interrupted = 0;
    if (!st && r->epoch >= r->cfg.epochs)
        host_log(MOCO_LOG_INFO, "training already complete (%lld of %lld epochs): evaluating "
                 "only. HINT: raise [train] epochs to train longer", (long long)r->epoch,
                 (long long)r->cfg.epochs);
    if (!st) st = train_run(r, &interrupted, &err);
    if (!st && interrupted) {
        char flags[2048] = "";
        for (int d = 0; d < ndirs; d++)
            snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "--plugin-dir %s ",
                     dirs[d]);
        if (run_dir)
            snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "--run-dir %s ",
                     run_dir);
        printf("%s at epoch %lld, step %lld (global step %lld); checkpoint: %s\n"
               "continue with: %s --resume %s%s\n",
               interrupted == TRAIN_STOP_SIGNAL ? "interrupted" : "stopped (--max-steps)",
               (long long)r->epoch + 1, (long long)r->step_in_epoch,
               (long long)r->global_step, ckpt, argv[0], flags, config);
        fflush(stdout);
        run_teardown(r);
        free(r);
        return 0;
    }
    eval_result ev = {-1, -1, -1, 0};
    if (!st && r->cfg.eval_at_end) {
        metrics m = {0};
        metrics_open(&m, r->run_dir);
        st = evaluate_run_result(r, &m, &ev, &err);
        metrics_close(&m);
    }
    if (!st) refresh_report(r);
    if (!st) summary(r, &ev, (double)time(NULL) - t0);
    run_teardown(r);
    free(r);
    if (st) {
        fprintf(stderr, "moco-host: error: %s\n", err.msg);
        return 1;
    }
    return 0;
}
