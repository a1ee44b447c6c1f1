/* OpenBLAS kernel check, run by the moco-host launcher BEFORE OpenBLAS is
 * loaded. OpenBLAS 0.3.21 does not know some newer CPUs and falls back to
 * its Prescott (SSE3) kernels, ~6x slower; a kernel named in
 * OPENBLAS_CORETYPE that the CPU cannot run dies with SIGILL while the
 * library loads. OpenBLAS fixes its kernel at load time, so the launcher asks
 * a throw-away child process which kernel OpenBLAS would pick, sets
 * OPENBLAS_CORETYPE if that kernel is slow or unrunnable, and only then loads
 * the real host (libmoco_host) that links OpenBLAS. */
#ifndef MOCO_HOST_BLAS_H
#define MOCO_HOST_BLAS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cpu_features {
    int32_t avx, avx2, fma, avx512f, avx512bw, avx512dq, avx512vl;
} cpu_features;

void blas_cpu_features(cpu_features *f);
/* The fastest OpenBLAS 0.3.21 kernel this CPU can run ("SkylakeX",
 * "Haswell", "Sandybridge"), or NULL when only SSE kernels fit. */
const char *blas_best_core(const cpu_features *f);
/* Pure decision: the kernel to switch to given what OpenBLAS would run
 * (`probed`, NULL when probing crashed), or NULL to keep it. */
const char *blas_choose_core(const char *probed, const cpu_features *f);
/* Ask a child process which kernel OpenBLAS picks with the current
 * environment. Returns 0 and fills name, or -1 when the child crashed
 * (e.g. SIGILL) or OpenBLAS could not be loaded (*crashed says which). */
int blas_probe_core(char *name, size_t len, int *crashed);
/* Probe, decide, set OPENBLAS_CORETYPE, log one line when it changed
 * anything. MOCO_BLAS_AUTOFIX=0 disables. */
void blas_ensure_fast_kernel(void);

#endif
