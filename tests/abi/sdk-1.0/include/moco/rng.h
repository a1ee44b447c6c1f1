/* moco SDK — reproducible random numbers (header-only, no global state).
 * Streams are derived from (seed, a, b, ...) with moco_seed_mix so that any
 * piece of work (epoch, image index, view) has its own independent stream
 * regardless of thread scheduling. Generator: xoshiro128+ style 64-bit
 * state split-mixed from the seed (splitmix64). */
#ifndef MOCO_RNG_H
#define MOCO_RNG_H

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct moco_rng {
    uint64_t s[2];
} moco_rng;

static inline uint64_t moco_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Mix a value into a seed: a new, decorrelated seed. */
static inline uint64_t moco_seed_mix(uint64_t seed, uint64_t v) {
    uint64_t x = seed ^ (v * 0xD1342543DE82EF95ULL);
    return moco_splitmix64(&x);
}

static inline void moco_rng_seed(moco_rng *r, uint64_t seed) {
    uint64_t x = seed;
    r->s[0] = moco_splitmix64(&x);
    r->s[1] = moco_splitmix64(&x);
    if ((r->s[0] | r->s[1]) == 0) r->s[0] = 1;
}

/* xoroshiro128+ */
static inline uint64_t moco_rng_u64(moco_rng *r) {
    uint64_t s0 = r->s[0], s1 = r->s[1];
    uint64_t out = s0 + s1;
    s1 ^= s0;
    r->s[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
    r->s[1] = (s1 << 37) | (s1 >> 27);
    return out;
}

/* Uniform in [0, 1). */
static inline double moco_rng_uniform(moco_rng *r) {
    return (double)(moco_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [lo, hi). */
static inline double moco_rng_range(moco_rng *r, double lo, double hi) {
    return lo + (hi - lo) * moco_rng_uniform(r);
}

/* Uniform integer in [0, n), n > 0. */
static inline uint64_t moco_rng_below(moco_rng *r, uint64_t n) {
    return (uint64_t)(moco_rng_uniform(r) * (double)n) % n;
}

/* Standard normal (Box-Muller). */
static inline double moco_rng_normal(moco_rng *r) {
    double u1 = moco_rng_uniform(r), u2 = moco_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#ifdef __cplusplus
}
#endif
#endif /* MOCO_RNG_H */
