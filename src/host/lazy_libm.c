/* The math functions the binary's static libraries call (Lua's math library and arithmetic, the
 * histogram), forwarded to libm loaded on first use (common/dynload.h) instead of linked.
 *
 * Why: linking libm costs every start of the program about 0.2 ms here (mapping it, running its
 * 21 IFUNC resolvers, the page faults of both), and a local invoke calls none of these
 * functions; the first script that does pays the load once. Only the cargo-lambda executable
 * links this file: the unit tests and fuzzers link libm itself (CMakeLists.txt), and the
 * definitions are not exported, so libraries loaded later (libcurl) bind to libm's own.
 *
 * A function that is missing here fails the link ("undefined reference"), since the executable
 * does not link libm: the list is what Lua and our sources call at any optimisation level
 * (an optimised build inlines floor and ceil; a debug build calls them). */
#include <gnu/lib-names.h> /* LIBM_SO, glibc's name for libm */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/dynload.h"

/* name, parameters, arguments */
#define LIBM_FUNCTIONS(X)                                                                          \
    X(acos, (double x), (x))                                                                       \
    X(asin, (double x), (x))                                                                       \
    X(atan2, (double y, double x), (y, x))                                                         \
    X(ceil, (double x), (x))                                                                       \
    X(cos, (double x), (x))                                                                        \
    X(cosh, (double x), (x))                                                                       \
    X(exp, (double x), (x))                                                                        \
    X(floor, (double x), (x))                                                                      \
    X(fmod, (double x, double y), (x, y))                                                          \
    X(frexp, (double x, int *exponent), (x, exponent))                                             \
    X(ldexp, (double x, int exponent), (x, exponent))                                              \
    X(log, (double x), (x))                                                                        \
    X(log10, (double x), (x))                                                                      \
    X(log2, (double x), (x))                                                                       \
    X(pow, (double x, double y), (x, y))                                                           \
    X(sin, (double x), (x))                                                                        \
    X(sinh, (double x), (x))                                                                       \
    X(sqrt, (double x), (x))                                                                       \
    X(tan, (double x), (x))                                                                        \
    X(tanh, (double x), (x))

struct libm {
#define FIELD(name, parameters, arguments) __typeof__(name) *name;
    LIBM_FUNCTIONS(FIELD)
#undef FIELD
};

static struct libm libm;
static int libm_loaded; /* the program has one thread that calls these (see dynload.h) */

/* A math function has no failure result to return, and libm is part of the C library on every
 * system this binary runs on: failing to load it ends the program, saying why. */
static const struct libm *libm_functions(void) {
    if (!libm_loaded) {
#define SYMBOL(name, parameters, arguments) {#name, offsetof(struct libm, name)},
        static const struct dynload_symbol symbols[] = {LIBM_FUNCTIONS(SYMBOL)};
#undef SYMBOL
        char error[256];
        if (!dynload_open("libm", LIBM_SO, symbols, sizeof symbols / sizeof symbols[0], &libm,
                          error, sizeof error)) {
            fprintf(stderr, "cargo-lambda: %s\n", error);
            fflush(NULL);
            _Exit(70); /* EXIT_INTERNAL (host.c) */
        }
        libm_loaded = 1;
    }
    return &libm;
}

/* Each returns double; the definitions match <math.h>'s declarations, which the compiler checks. */
#define FORWARD(name, parameters, arguments)                                                       \
    double name parameters {                                                                       \
        return libm_functions()->name arguments;                                                   \
    }
LIBM_FUNCTIONS(FORWARD)
#undef FORWARD
