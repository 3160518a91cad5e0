/* Loads expat on first use (see expat.h). */
#include "xml/expat.h"

#include <stdbool.h>
#include <stddef.h>

#include "common/dynload.h"

/* The name to load, read by CMake from the library found at build time. */
#ifndef CLC_LIBEXPAT_SONAME
#define CLC_LIBEXPAT_SONAME "libexpat.so.1"
#endif

static struct expat_api api;
static bool tried, loaded;
static char failure[256];

const struct expat_api *expat_api(const char **error) {
    if (!tried) {
        tried = true;
#define SYMBOL(name) {#name, offsetof(struct expat_api, name)},
        static const struct dynload_symbol symbols[] = {EXPAT_FUNCTIONS(SYMBOL)};
#undef SYMBOL
        loaded = dynload_open("libexpat", CLC_LIBEXPAT_SONAME, symbols,
                              sizeof symbols / sizeof symbols[0], &api, failure, sizeof failure);
    }
    if (!loaded) {
        *error = failure;
        return NULL;
    }
    return &api;
}
