/* moco-host: a small launcher. It does not link OpenBLAS, so it can check
 * which OpenBLAS kernel would run (see blas.h) and fix OPENBLAS_CORETYPE
 * before libmoco_host, which links OpenBLAS, is loaded. */
#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"

/* Where libmoco_host.so sits relative to this executable: the build tree's
 * lib/ and the install tree's libdir. Absolute paths are used because a
 * dlopen() made through a sanitizer's interceptor does not see our RUNPATH. */
#ifndef MOCO_HOST_LIB_INSTALL_REL
#define MOCO_HOST_LIB_INSTALL_REL "../lib"
#endif
static const char *const LIB_DIRS[] = {"../lib", MOCO_HOST_LIB_INSTALL_REL};

static void *load_host_library(char *tried, size_t len) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *dir = dirname(exe);
    tried[0] = 0;
    for (size_t i = 0; i < sizeof LIB_DIRS / sizeof *LIB_DIRS; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s/libmoco_host.so", dir, LIB_DIRS[i]);
        void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (h) return h;
        size_t t = strlen(tried);
        snprintf(tried + t, len - t, "%s%s", t ? "; " : "", dlerror());
    }
    return NULL;
}

int main(int argc, char **argv) {
    blas_ensure_fast_kernel();
    char tried[2048];
    void *h = load_host_library(tried, sizeof tried);
    if (!h) {
        fprintf(stderr, "moco-host: cannot load libmoco_host.so (%s). HINT: reinstall moco; "
                "moco-host must stay next to its lib folder\n", tried);
        return 1;
    }
    int (*host_main)(int, char **) = (int (*)(int, char **))dlsym(h, "moco_host_entry");
    if (!host_main) {
        fprintf(stderr, "moco-host: libmoco_host.so has no moco_host_entry. HINT: reinstall "
                "moco\n");
        return 1;
    }
    return host_main(argc, argv);
}
