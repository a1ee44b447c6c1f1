/* Host clocks. */
#define _GNU_SOURCE
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double host_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double host_process_age(void) {
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* field 2 (comm) may hold spaces and parentheses: start after the last ')' */
    const char *p = strrchr(buf, ')');
    unsigned long long start_ticks;
    /* fields 3..21 skipped, 22 = starttime in clock ticks since boot */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                     "%*d %*d %*d %llu", &start_ticks) != 1)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec t;
    if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &t) != 0) return -1;
    double age = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec - (double)start_ticks / (double)hz;
    return age < 0 ? 0 : age;
}
