/* Libraries loaded with dlopen on first use instead of linked (libcurl, OpenSSL, expat): a
 * local invoke uses none of them, and every linked library costs each start of the program its
 * mapping, relocations and page faults. Each user keeps a table of function pointers and the
 * outcome of its one attempt (the program has one thread, so the attempt needs no lock). */
#ifndef CLC_COMMON_DYNLOAD_H
#define CLC_COMMON_DYNLOAD_H

#include <stdbool.h>
#include <stddef.h>

/* A function to look up, and the offset of the table's field that receives its address. */
struct dynload_symbol {
    const char *name;
    size_t offset;
};

/* Opens soname (RTLD_LOCAL: the program reaches the functions through its tables only) and
 * fills table's fields. False with a one-line reason in error ("cannot load <what>: ...")
 * otherwise; the table is then unusable. */
bool dynload_open(const char *what, const char *soname, const struct dynload_symbol *symbols,
                  size_t count, void *table, char *error, size_t error_size);

#endif
