/* libmoco_sdk internals: a tiny fork-join pool for the kernels' non-BLAS
 * work (Winograd transforms and products, batch norm, element-wise passes).
 *
 * The threads follow OpenBLAS's thread count (so `[run] threads` governs
 * both), capped at MOCO_POOL_MAX_THREADS. Work is split into parts by index
 * only, never by timing, and threads claim parts as they go: a thread slowed
 * down by another process on its core simply takes fewer parts. The kernels
 * split so that no sum is ever divided between parts, so their results do
 * not depend on the number of parts or threads at all. When the pool is
 * busy (a kernel called from two threads at once) or the work is too small
 * to be worth a wake-up, the caller runs every part itself: same result. */
#ifndef MOCO_SDK_PARALLEL_H
#define MOCO_SDK_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

#define MOCO_POOL_MAX_THREADS 2
/* Parts per thread: enough to even out a thread that loses its core for a
 * while, few enough that per-part overheads (GEMM packing) stay small. */
#define MOCO_POOL_PARTS_PER_THREAD 4

/* fn(ctx, part, nparts) for part = 0..nparts-1, possibly concurrently. */
typedef void (*moco_part_fn)(void *ctx, int32_t part, int32_t nparts);

/* [any] Parts the kernels split work into: 1 with one thread, else
 * MOCO_POOL_PARTS_PER_THREAD per thread (OpenBLAS's count, capped). */
int32_t moco_pool_parts(void);

/* [any] Runs fn for parts 0..nparts-1 and returns when all are done.
 * serial != 0 runs them all on the caller (for small work). */
void moco_pool_run(moco_part_fn fn, void *ctx, int32_t nparts, int serial);

/* [any] [lo, hi) of part `part` when n items are split in nparts ranges,
 * each a multiple of `grain` except the last. */
static inline void moco_part_range(int64_t n, int32_t part, int32_t nparts, int64_t grain,
                                   int64_t *lo, int64_t *hi) {
    int64_t units = (n + grain - 1) / grain;
    int64_t a = units * part / nparts, b = units * (part + 1) / nparts;
    *lo = a * grain < n ? a * grain : n;
    *hi = b * grain < n ? b * grain : n;
}

/* [any] 1 when the CPU runs the AVX2+FMA kernels and they are enabled
 * (MOCO_FAST_KERNELS=0 in the environment turns every fast path of this
 * library off, for measuring what each one gives). */
int moco_fast_avx2(void);
/* [any] 1 when MOCO_FAST_KERNELS_OFF, a comma list, names this fast path
 * (winograd, wide, gemm: see each kernel). */
int moco_fast_off(const char *name);

#endif
