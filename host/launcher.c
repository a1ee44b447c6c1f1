/* moco-host: a small launcher. It does not link OpenBLAS, so it can check
 * which OpenBLAS kernel would run (see blas.h) and fix OPENBLAS_CORETYPE
 * before libmoco_host, which links OpenBLAS, is loaded. */
#include <dlfcn.h>
#include <stdio.h>

#include "blas.h"

#ifndef MOCO_HOST_LIBRARY
#define MOCO_HOST_LIBRARY "libmoco_host.so"
#endif

int main(int argc, char **argv) {
    blas_ensure_fast_kernel();
    /* Found through this executable's RUNPATH ($ORIGIN/../lib). */
    void *h = dlopen(MOCO_HOST_LIBRARY, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "moco-host: cannot load %s: %s. HINT: reinstall moco, or run the "
                "moco-host next to its lib/ folder\n", MOCO_HOST_LIBRARY, dlerror());
        return 1;
    }
    int (*host_main)(int, char **) = (int (*)(int, char **))dlsym(h, "moco_host_entry");
    if (!host_main) {
        fprintf(stderr, "moco-host: %s has no moco_host_entry. HINT: reinstall moco\n",
                MOCO_HOST_LIBRARY);
        return 1;
    }
    return host_main(argc, argv);
}
