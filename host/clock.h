/* Host clocks. */
#ifndef MOCO_HOST_CLOCK_H
#define MOCO_HOST_CLOCK_H

/* [any] Seconds on the monotonic clock (differences only). */
double host_now(void);

/* [any] Seconds since this process started (from /proc/self/stat, to the
 * kernel's clock tick, usually 10 ms), or -1 if unknown. Covers what
 * happens before main: the launcher's OpenBLAS check and library loading. */
double host_process_age(void);

#endif /* MOCO_HOST_CLOCK_H */
