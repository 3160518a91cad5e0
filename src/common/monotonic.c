/* See monotonic.h. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "common/monotonic.h"

#include <time.h>

double monotonic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}
