/* See dynload.h. */
#include "common/dynload.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

bool dynload_open(const char *what, const char *soname, const struct dynload_symbol *symbols,
                  size_t count, void *table, char *error, size_t error_size) {
    void *library = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (!library) {
        snprintf(error, error_size, "cannot load %s: %s", what, dlerror());
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        void *function = dlsym(library, symbols[i].name);
        if (!function) {
            snprintf(error, error_size, "cannot load %s: %s has no %s", what, soname,
                     symbols[i].name);
            return false;
        }
        /* POSIX guarantees that a function pointer survives the trip through void *. */
        memcpy((char *)table + symbols[i].offset, &function, sizeof function);
    }
    return true;
}
