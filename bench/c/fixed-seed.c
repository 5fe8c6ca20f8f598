/*
 * LD_PRELOAD shim for turnutils_uclient: srandom() always seeds with $FIXED_SEED (default 1).
 *
 * uclient starts each client at a random moment 1-6 s after setup (random(), seeded from the clock),
 * so the wall time of a run is mostly that schedule: with 10 clients the latest start varies by
 * about 0.4 s from run to run, more than any difference between two servers. With the same seed,
 * two runs against two servers follow the same schedule to the millisecond, and their wall times
 * can be compared. Used by bench/turn-vs-coturn.sh.
 *
 *   gcc -O2 -shared -fPIC -o fixed-seed.so fixed-seed.c -ldl
 *   FIXED_SEED=3 LD_PRELOAD=./fixed-seed.so turnutils_uclient ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

void srandom(unsigned int seed) {
  (void)seed;
  const char *fixed = getenv("FIXED_SEED");
  void (*real_srandom)(unsigned int) = (void (*)(unsigned int))dlsym(RTLD_NEXT, "srandom");
  real_srandom(fixed ? (unsigned int)strtoul(fixed, NULL, 10) : 1u);
}
