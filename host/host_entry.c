/* The one symbol libmoco_host exports: the launcher's entry point. */
#include "app.h"

__attribute__((visibility("default"))) int moco_host_entry(int argc, char **argv) {
    return moco_host_main(argc, argv);
}
