/* Synthetic CIFAR-10 files for tests: the official record layout (1 label
 * byte + 1024 R + 1024 G + 1024 B) with `per_file` records per file, images
 * that depend on their class (a class colour and stripe frequency plus noise)
 * so that a model can learn something. Never real data. */
#ifndef MOCO_SYNTH_CIFAR_H
#define MOCO_SYNTH_CIFAR_H

#include <stdio.h>
#include <sys/stat.h>

#include "moco/rng.h"

static inline int synth_cifar_image(unsigned char *rec, int label, moco_rng *g) {
    rec[0] = (unsigned char)label;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                double base = 60.0 + 18.0 * ((label * (c + 2)) % 10);
                double stripe = ((x + y * (label % 3)) / (1 + label % 4)) % 2 ? 40.0 : -40.0;
                double v = base + stripe + 25.0 * moco_rng_normal(g);
                rec[1 + c * 1024 + y * 32 + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return 0;
}

/* Writes dir/data_batch_1..5.bin and dir/test_batch.bin. Returns 0 or -1. */
static inline int synth_cifar_write(const char *dir, int per_file, uint64_t seed) {
    mkdir(dir, 0777);
    moco_rng g;
    moco_rng_seed(&g, seed);
    unsigned char rec[3073];
    for (int f = 0; f < 6; f++) {
        char path[1024];
        if (f < 5)
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f + 1);
        else
            snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        FILE *fp = fopen(path, "wb");
        if (!fp) return -1;
        for (int i = 0; i < per_file; i++) {
            synth_cifar_image(rec, (int)moco_rng_below(&g, 10), &g);
            if (fwrite(rec, 1, sizeof rec, fp) != sizeof rec) {
                fclose(fp);
                return -1;
            }
        }
        if (fclose(fp) != 0) return -1;
    }
    return 0;
}

#endif
