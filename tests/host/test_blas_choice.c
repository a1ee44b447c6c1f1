/* The OpenBLAS kernel decision (pure function) and the probe on this machine. */
#include "blas.h"
#include "mtest.h"

static void test_decisions(void) {
    cpu_features avx512 = {1, 1, 1, 1, 1, 1, 1}, avx2 = {1, 1, 1, 0, 0, 0, 0},
                 sse = {0, 0, 0, 0, 0, 0, 0};
    MT_CHECK(!strcmp(blas_choose_core("Prescott", &avx512), "SkylakeX"), "prescott on avx512");
    MT_CHECK(!strcmp(blas_choose_core("Prescott", &avx2), "Haswell"), "prescott on avx2");
    MT_CHECK(!strcmp(blas_choose_core("Nehalem", &avx2), "Haswell"), "nehalem on avx2");
    MT_CHECK(blas_choose_core("SkylakeX", &avx512) == NULL, "keep skylakex");
    MT_CHECK(blas_choose_core("Zen", &avx2) == NULL, "keep zen");
    MT_CHECK(blas_choose_core("Haswell", &avx2) == NULL, "keep haswell");
    MT_CHECK(blas_choose_core("Prescott", &sse) == NULL, "nothing better without avx");
    MT_CHECK(!strcmp(blas_choose_core(NULL, &avx2), "Haswell"), "crashed probe -> runnable");
}

static void test_probe_this_machine(void) {
    char core[64];
    int crashed;
    int rc = blas_probe_core(core, sizeof core, &crashed);
    MT_CHECK(rc == 0 && !crashed, "probe failed");
    printf("OpenBLAS picks '%s' here\n", core);
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    rc = blas_probe_core(core, sizeof core, &crashed);
    MT_CHECK(rc == 0 && !strcmp(core, "Prescott"), "forced Prescott probed as %s", core);
    unsetenv("OPENBLAS_CORETYPE");
}

int main(void) {
    MT_RUN(test_decisions);
    MT_RUN(test_probe_this_machine);
    return mt_finish();
}
