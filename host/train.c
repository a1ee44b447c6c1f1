/* The MoCo training loop (see train.h). */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "checkpoint.h"
#include "clock.h"
#include "evaluate.h"
#include "metrics.h"
#include "prefetch.h"
#include "report.h"

volatile sig_atomic_t train_stop_requested;

double train_lr(const settings *s, int64_t epoch) {
    if (s->schedule == SCHEDULE_COSINE)
        return s->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)epoch / (double)s->epochs));
    return s->lr;
}

void train_sgd(float *p, float *v, const float *grad, int64_t n, float lr, float mu, float wd) {
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] + wd * p[i];
        v[i] = mu * v[i] + g;
        p[i] -= lr * v[i];
    }
}

void train_momentum_update(float *k, const float *q, int64_t n, float m) {
    float a = 1.0f - m;
    for (int64_t i = 0; i < n; i++) k[i] = m * k[i] + a * q[i];
}

int32_t train_step(run *r, const float *xq, const float *xk, double lr,
                   moco_objective_result *res, moco_error *err) {
    int32_t b = (int32_t)r->cfg.batch, d = (int32_t)r->cfg.dim;
    int32_t st;
    memset(r->qinfo.grads.data, 0, (size_t)r->qinfo.grads.count * sizeof(float));
    if ((st = r->bb->forward(r->enc_q, r->q_raw, NULL, xq, b, 1, err))) return st;
    moco_l2norm_forward(r->q, r->q_norm, r->q_raw, b, d);
    if ((st = r->bb->forward(r->enc_k, r->k_raw, NULL, xk, b, 1, err))) return st;
    moco_l2norm_forward(r->k, r->k_norm, r->k_raw, b, d);

    const float *neg;
    int32_t count;
    r->dict->negatives(r->queue, &neg, &count);
    res->sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    if ((st = r->obj->loss(r->objective, res, r->dq, NULL, r->q, r->k, neg, b, count, d, err)))
        return st;
    if (!isfinite(res->loss))
        return moco_errorf(err, MOCO_ERR_NUMERIC, "loss is %f", (double)res->loss);

    memset(r->dq_raw, 0, (size_t)b * d * sizeof(float));
    moco_l2norm_backward(r->dq_raw, r->dq, r->q, r->q_norm, b, d);
    if ((st = r->bb->backward(r->enc_q, r->dq_raw, err))) return st;

    train_sgd(r->qinfo.params.data, r->sgd_momentum, r->qinfo.grads.data, r->qinfo.params.count,
              (float)lr, (float)r->cfg.sgd_momentum, (float)r->cfg.weight_decay);
    train_momentum_update(r->kinfo.params.data, r->qinfo.params.data, r->qinfo.params.count,
                          (float)r->cfg.momentum);
    return r->dict->enqueue(r->queue, r->k, b, err);
}

static void fmt_duration(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

typedef struct progress {
    double t_start, t_window;
    int64_t steps_window, steps_run;
    double loss_sum, acc_sum;
    int tty;
} progress;

static void report(run *r, progress *p, metrics *m, double lr, int last_in_epoch) {
    double t = host_now();
    double ips = (double)(p->steps_window * r->cfg.batch) / (t - p->t_window);
    int64_t total = r->cfg.epochs * r->steps_per_epoch;
    double rate = (double)p->steps_run / (t - p->t_start);     /* steps/s this session */
    char eta[32];
    fmt_duration(eta, sizeof eta, (double)(total - r->global_step) / (rate > 0 ? rate : 1e-9));
    double loss = p->loss_sum / (double)p->steps_window, acc = p->acc_sum / (double)p->steps_window;
    fprintf(stdout, "%sepoch %lld/%lld  step %lld/%lld  loss %.4f  acc %.3f  lr %.5f  "
            "%.1f img/s  ETA %s%s", p->tty ? "\r" : "", (long long)r->epoch + 1,
            (long long)r->cfg.epochs, (long long)r->step_in_epoch,
            (long long)r->steps_per_epoch, loss, acc, lr, ips, eta,
            p->tty && !last_in_epoch ? "   " : "\n");
    fflush(stdout);
    metrics_write(m, "\"event\":\"train\",\"epoch\":%lld,\"step\":%lld,\"global_step\":%lld,"
                  "\"loss\":%.6f,\"acc\":%.5f,\"lr\":%.8g,\"images_per_s\":%.3f",
                  (long long)r->epoch + 1, (long long)r->step_in_epoch,
                  (long long)r->global_step, loss, acc, lr, ips);
    p->t_window = t;
    p->steps_window = 0;
    p->loss_sum = p->acc_sum = 0;
}

static int32_t save(run *r, ckpt_writer *w, moco_error *err) {
    return ckpt_writer_save(w, r, err);
}

void refresh_report(const run *r) {
    moco_error rerr;
    if (report_write(r->run_dir, r->ini.path, &rerr))
        host_log(MOCO_LOG_WARN, "%s (training continues)", rerr.msg);
}

int32_t train_run(run *r, int *interrupted, moco_error *err) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    prefetcher pf;
    ckpt_writer w;
    metrics m = {0};
    ckpt_writer_init(&w, &loop);
    int32_t st = prefetch_init(&pf, &loop, r, (int32_t)r->cfg.prefetch, err);
    if (!st && metrics_open(&m, r->run_dir) != 0)
        host_log(MOCO_LOG_WARN, "cannot open %s/metrics.jsonl; metrics not logged", r->run_dir);
    *interrupted = 0;
    progress p = {.t_start = host_now(), .tty = isatty(1)};
    p.t_window = p.t_start;
    char last_ckpt[1200];
    snprintf(last_ckpt, sizeof last_ckpt, "%s/%s", r->run_dir, CKPT_FILE_NAME);
    if (!st) prefetch_start(&pf, r->epoch, r->step_in_epoch);
    double stall_epoch0 = 0, t_epoch = host_now(), startup = -1;
    while (!st && r->epoch < r->cfg.epochs) {
        double lr = train_lr(&r->cfg, r->epoch);
        batch *b = prefetch_next(&pf, err);
        if (!b) {
            st = MOCO_ERR_IO;
            break;
        }
        if (startup < 0) {
            /* process start to the first step: launcher, plugins, config,
             * dataset, encoders, checkpoint (on resume), the first batch */
            startup = host_process_age();
            if (startup >= 0)
                metrics_write(&m, "\"event\":\"start\",\"global_step\":%lld,"
                              "\"startup_s\":%.3f", (long long)r->global_step, startup);
        }
        moco_objective_result res;
        st = train_step(r, b->xq, b->xk, lr, &res, err);
        prefetch_release(&pf, b);
        if (st) {
            if (st == MOCO_ERR_NUMERIC) {
                /* One line: where, what, the checkpoint to go back to, one hint. */
                char what[MOCO_ERROR_LEN];
                snprintf(what, sizeof what, "%s", err->msg);
                char *hint = strstr(what, ". HINT:");
                if (!hint) hint = strstr(what, " HINT:");
                if (hint) *hint = 0;
                moco_errorf(err, st, "training diverged at epoch %lld step %lld (global step "
                            "%lld): %s; last good checkpoint: %s. HINT: lower [train] lr",
                            (long long)r->epoch + 1, (long long)r->step_in_epoch + 1,
                            (long long)r->global_step + 1, what, last_ckpt);
            }
            break;
        }
        r->step_in_epoch++;
        r->global_step++;
        p.steps_window++;
        p.steps_run++;
        p.loss_sum += res.loss;
        p.acc_sum += res.accuracy;
        int end_of_epoch = r->step_in_epoch == r->steps_per_epoch;
        if (p.steps_window >= r->cfg.log_every || end_of_epoch)
            report(r, &p, &m, lr, end_of_epoch);
        if (end_of_epoch) {
            double secs = host_now() - t_epoch;
            metrics_write(&m, "\"event\":\"epoch\",\"epoch\":%lld,\"seconds\":%.3f,"
                          "\"data_stall_fraction\":%.5f", (long long)r->epoch + 1, secs,
                          (pf.stall_seconds - stall_epoch0) / secs);
            stall_epoch0 = pf.stall_seconds;
            int64_t done = r->epoch + 1;
            int eval_now = r->cfg.eval_every && done % r->cfg.eval_every == 0 &&
                           done < r->cfg.epochs;
            if (eval_now) {
                st = evaluate_run(r, &m, err);
                if (st) break;
            }
            refresh_report(r);
            int ckpt_now = (r->cfg.checkpoint_every && done % r->cfg.checkpoint_every == 0) ||
                           done == r->cfg.epochs;
            if (ckpt_now && (st = save(r, &w, err))) break;
            r->epoch++;
            r->step_in_epoch = 0;
            t_epoch = host_now();
        } else if (r->cfg.checkpoint_every_steps &&
                   r->global_step % r->cfg.checkpoint_every_steps == 0) {
            if ((st = save(r, &w, err))) break;
        }
        if (train_stop_requested) {
            *interrupted = TRAIN_STOP_SIGNAL;
            break;
        }
        if (r->max_steps && r->global_step >= r->max_steps && r->epoch < r->cfg.epochs) {
            *interrupted = TRAIN_STOP_MAX_STEPS;
            break;
        }
        if (w.failed) {
            st = ckpt_writer_wait(&w, err);
            break;
        }
    }
    /* A stop right after a periodic checkpoint does not write it twice. */
    if (*interrupted && !st && !(w.requested && w.step == r->global_step)) st = save(r, &w, err);
    moco_error werr;
    int32_t wst = ckpt_writer_wait(&w, &werr);
    if (!st && wst) {
        *err = werr;
        st = wst;
    }
    double stalls = pf.stall_seconds, wall = host_now() - p.t_start;
    prefetch_free(&pf);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (p.steps_run > 0) {
        char up[64] = "";
        if (startup >= 0) snprintf(up, sizeof up, " after a start-up of %.2f s", startup);
        host_log(MOCO_LOG_INFO, "trained %lld steps in %.1f s (%.1f img/s)%s; waited for data "
                 "%.1f%% of the time", (long long)p.steps_run, wall,
                 (double)(p.steps_run * r->cfg.batch) / wall, up, 100.0 * stalls / wall);
    }
    if (!st && !*interrupted)
        metrics_write(&m, "\"event\":\"train_done\",\"global_step\":%lld,\"seconds\":%.3f,"
                      "\"data_stall_fraction\":%.5f", (long long)r->global_step, wall,
                      stalls / wall);
    metrics_close(&m);
    return st;
}
