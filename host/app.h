/* The host program proper (in libmoco_host, loaded by the launcher after
 * the OpenBLAS kernel check). */
#ifndef MOCO_HOST_APP_H
#define MOCO_HOST_APP_H
int moco_host_main(int argc, char **argv);
#endif
