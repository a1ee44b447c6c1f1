#include "blas.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define OPENBLAS_SONAME "libopenblas.so.0"

void blas_cpu_features(cpu_features *f) {
    memset(f, 0, sizeof *f);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* GCC's checks include the OS's XSAVE support for the register state. */
    f->avx = __builtin_cpu_supports("avx");
    f->avx2 = __builtin_cpu_supports("avx2");
    f->fma = __builtin_cpu_supports("fma");
    f->avx512f = __builtin_cpu_supports("avx512f");
    f->avx512bw = __builtin_cpu_supports("avx512bw");
    f->avx512dq = __builtin_cpu_supports("avx512dq");
    f->avx512vl = __builtin_cpu_supports("avx512vl");
#endif
}

const char *blas_best_core(const cpu_features *f) {
    if (f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->avx2 && f->fma)
        return "SkylakeX";
    if (f->avx2 && f->fma) return "Haswell";
    if (f->avx) return "Sandybridge";
    return NULL;
}

/* OpenBLAS's SSE-only kernels: a CPU with AVX should never run these. */
static const char *const SLOW_CORES[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                         "Atom", "Katmai", "Coppermine", "Northwood", "Banias",
                                         "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat",
                                         "Nano", "Unknown", NULL};

const char *blas_choose_core(const char *probed, const cpu_features *f) {
    const char *best = blas_best_core(f);
    if (!best) return NULL;
    if (!probed) return best;   /* the requested kernel crashed: use one that runs */
    for (const char *const *p = SLOW_CORES; *p; p++)
        if (!strcasecmp(probed, *p)) return best;
    return NULL;
}

/* Some kernels load fine and only fault (SIGILL) at the first GEMM, so the
 * probe runs a small one and checks it against a naive product. */
static int gemm_works(void *h) {
    typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                             const float *, int, float, float *, int);
    sgemm_fn sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!sgemm) return 0;
    enum { N = 48 };
    static float a[N * N], b[N * N], c[N * N];
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)((i * 7) % 13) - 6.0f;
        b[i] = (float)((i * 5) % 11) - 5.0f;
    }
    sgemm(101 /* row major */, 111, 111 /* no trans */, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < N; k++) s += a[i * N + k] * b[k * N + j];
            if (s != c[i * N + j]) return 0; /* small integers: exact in float */
        }
    return 1;
}

int blas_probe_core(char *name, size_t len, int *crashed) {
    *crashed = 0;
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        void *h = dlopen(OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
        char *(*corename)(void) = h ? (char *(*)(void))dlsym(h, "openblas_get_corename") : NULL;
        if (corename && !gemm_works(h)) _exit(4);
        if (corename) {
            const char *c = corename();
            ssize_t w = write(fd[1], c, strlen(c));
            (void)w;
        }
        _exit(corename ? 0 : 3);
    }
    close(fd[1]);
    char buf[64];
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof buf - 1 && (r = read(fd[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    if (WIFSIGNALED(status)) {
        *crashed = 1;
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 4) {
        *crashed = 1; /* loads, but computes wrong results */
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n == 0) return -1;
    buf[n] = 0;
    snprintf(name, len, "%s", buf);
    return 0;
}

void blas_ensure_fast_kernel(void) {
    const char *off = getenv("MOCO_BLAS_AUTOFIX");
    if (off && !strcmp(off, "0")) return;
    cpu_features f;
    blas_cpu_features(&f);
    char core[64] = "";
    int crashed = 0;
    if (blas_probe_core(core, sizeof core, &crashed) != 0 && !crashed) return;
    const char *fix = blas_choose_core(crashed ? NULL : core, &f);
    if (!fix) return;
    const char *req = getenv("OPENBLAS_CORETYPE");
    char was[96];
    if (crashed)
        snprintf(was, sizeof was, "OpenBLAS kernel %s%s fails on this CPU",
                 req ? "OPENBLAS_CORETYPE=" : "", req ? req : "auto-detected");
    else
        snprintf(was, sizeof was, "OpenBLAS chose its slow '%s' kernel", core);
    setenv("OPENBLAS_CORETYPE", fix, 1);
    fprintf(stderr, "moco: openblas: %s; using OPENBLAS_CORETYPE=%s instead "
            "(MOCO_BLAS_AUTOFIX=0 disables)\n", was, fix);
}
