/* The kernels' fork-join pool (see parallel.h). One process-wide pool of
 * MOCO_POOL_MAX_THREADS - 1 workers, started on first use.
 *
 * Parts are claimed, not assigned: the caller and the workers take the next
 * unclaimed part of the current job until none is left, then the caller
 * waits for the parts others are still running. So when a worker is slow to
 * wake up (its core busy with another process) the caller simply runs more
 * parts itself instead of waiting for it. Which thread runs a part never
 * changes what the part computes, so results stay bit-identical.
 *
 * A claim is one 64-bit word (job number << 32 | next part): a worker that
 * wakes up late for a job that has ended, or that another job replaced,
 * fails its compare-and-swap and runs nothing. Workers spin briefly after a
 * job (the next kernel usually follows within microseconds), then sleep on
 * a condition variable, so an idle pool costs nothing. */
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POOL_PAUSE() _mm_pause()
#else
#define POOL_PAUSE() ((void)0)
#endif

/* Spins of a worker waiting for the next job before it sleeps (~50 us). */
#define POOL_SPIN 20000
/* Spins of the caller waiting for parts still running elsewhere before it
 * starts yielding its core (whoever runs them may need it). */
#define POOL_WAIT_SPIN 2000

typedef struct pool {
    pthread_mutex_t busy;           /* held by the caller running a job */
    pthread_mutex_t lock;           /* with `wake`: sleeping workers */
    pthread_cond_t wake;
    atomic_uint_fast32_t job;       /* number of the current job */
    atomic_uint_fast64_t claim;     /* job << 32 | next unclaimed part */
    atomic_int done;                /* parts of the current job finished */
    atomic_int sleepers;
    _Atomic(moco_part_fn) fn;
    _Atomic(void *) ctx;
    atomic_int nparts;
    int32_t nworkers;
} pool;

static pool g_pool = {.busy = PTHREAD_MUTEX_INITIALIZER,
                      .lock = PTHREAD_MUTEX_INITIALIZER,
                      .wake = PTHREAD_COND_INITIALIZER};
static pthread_once_t g_pool_once = PTHREAD_ONCE_INIT;

/* Claims and runs parts of job j until none is left. Returns how many. */
static int pool_drain(uint_fast32_t j, moco_part_fn fn, void *ctx, int32_t nparts) {
    int ran = 0;
    for (;;) {
        uint_fast64_t c = atomic_load_explicit(&g_pool.claim, memory_order_acquire);
        if ((uint_fast32_t)(c >> 32) != j || (int32_t)(c & 0xffffffffu) >= nparts) break;
        if (!atomic_compare_exchange_weak_explicit(&g_pool.claim, &c, c + 1,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        fn(ctx, (int32_t)(c & 0xffffffffu), nparts);
        atomic_fetch_add_explicit(&g_pool.done, 1, memory_order_release);
        ran++;
    }
    return ran;
}

static void *pool_worker(void *arg) {
    (void)arg;
    uint_fast32_t seen = 0;
    for (;;) {
        uint_fast32_t j;
        int spins = 0;
        while ((j = atomic_load_explicit(&g_pool.job, memory_order_acquire)) == seen &&
               spins < POOL_SPIN) {
            POOL_PAUSE();
            spins++;
        }
        if (j == seen) {
            pthread_mutex_lock(&g_pool.lock);
            atomic_fetch_add(&g_pool.sleepers, 1);
            /* seq_cst against the caller's store of job / load of sleepers */
            while ((j = atomic_load(&g_pool.job)) == seen)
                pthread_cond_wait(&g_pool.wake, &g_pool.lock);
            atomic_fetch_sub(&g_pool.sleepers, 1);
            pthread_mutex_unlock(&g_pool.lock);
        }
        seen = j;
        pool_drain(j, atomic_load_explicit(&g_pool.fn, memory_order_acquire),
                   atomic_load_explicit(&g_pool.ctx, memory_order_acquire),
                   atomic_load_explicit(&g_pool.nparts, memory_order_acquire));
    }
    return NULL;
}

static void pool_start(void) {
    int32_t started = 0;
    for (int32_t i = 1; i < MOCO_POOL_MAX_THREADS; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, pool_worker, NULL) == 0) started++;
        pthread_attr_destroy(&attr);
    }
    g_pool.nworkers = started;
}

int32_t moco_pool_parts(void) {
    int t = openblas_get_num_threads();
    if (t <= 1) return 1;
    if (t > MOCO_POOL_MAX_THREADS) t = MOCO_POOL_MAX_THREADS;
    return (int32_t)t * MOCO_POOL_PARTS_PER_THREAD;
}

void moco_pool_run(moco_part_fn fn, void *ctx, int32_t nparts, int serial) {
    if (nparts > 1 && !serial) {
        pthread_once(&g_pool_once, pool_start);
        if (g_pool.nworkers > 0 && pthread_mutex_trylock(&g_pool.busy) == 0) {
            /* No part of the previous job is running: it ended with all its
             * parts done, and late workers fail their claims. */
            uint_fast32_t j = atomic_load_explicit(&g_pool.job, memory_order_relaxed) + 1;
            atomic_store_explicit(&g_pool.fn, fn, memory_order_relaxed);
            atomic_store_explicit(&g_pool.ctx, ctx, memory_order_relaxed);
            atomic_store_explicit(&g_pool.nparts, nparts, memory_order_relaxed);
            atomic_store_explicit(&g_pool.done, 0, memory_order_relaxed);
            atomic_store_explicit(&g_pool.claim, (uint_fast64_t)j << 32, memory_order_release);
            atomic_store(&g_pool.job, j);
            if (atomic_load(&g_pool.sleepers) > 0) {
                pthread_mutex_lock(&g_pool.lock);
                pthread_cond_broadcast(&g_pool.wake);
                pthread_mutex_unlock(&g_pool.lock);
            }
            pool_drain(j, fn, ctx, nparts);
            int spins = 0;
            while (atomic_load_explicit(&g_pool.done, memory_order_acquire) < nparts) {
                POOL_PAUSE();
                if (++spins > POOL_WAIT_SPIN) sched_yield();
            }
            pthread_mutex_unlock(&g_pool.busy);
            return;
        }
    }
    for (int32_t p = 0; p < nparts; p++) fn(ctx, p, nparts);
}

static atomic_int g_fast = -1;   /* -1: not decided yet */

int moco_fast_avx2(void) {
    int f = atomic_load_explicit(&g_fast, memory_order_relaxed);
    if (f >= 0) return f;
    f = 0;
#if (defined(__x86_64__) || defined(__i386__)) && defined(MOCO_HAVE_AVX2_KERNELS)
    __builtin_cpu_init();
    f = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    const char *env = getenv("MOCO_FAST_KERNELS");
    if (env && !strcmp(env, "0")) f = 0;
    atomic_store_explicit(&g_fast, f, memory_order_relaxed);
    return f;
}

int moco_fast_off(const char *name) {
    const char *env = getenv("MOCO_FAST_KERNELS_OFF");
    if (!env || !*env) return 0;
    size_t n = strlen(name);
    for (const char *p = env; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && !strncmp(p, name, n)) return 1;
        p += l;
        if (*p == ',') p++;
    }
    return 0;
}
