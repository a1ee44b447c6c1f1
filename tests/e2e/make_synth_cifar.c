/* usage: make_synth_cifar DIR RECORDS_PER_FILE — synthetic CIFAR-10 files
 * for the end-to-end tests when the real data is not available. */
#include <stdlib.h>

#include "synth_cifar.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_synth_cifar DIR RECORDS_PER_FILE\n");
        return 2;
    }
    return synth_cifar_write(argv[1], atoi(argv[2]), 7) ? 1 : 0;
}
