/* heap_prefault: after it, the first 200 KB a short command allocates and writes cost (almost)
 * no page faults, because the kernel populated the heap in one call. Where it cannot work (a
 * kernel before 5.14, a sanitizer's malloc), it must do nothing, and the test says it skipped. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "check.h"
#include "host/heap.h"

#define BLOCKS 50
#define BLOCK_SIZE 4000 /* 200 KB: under heap.c's step, about what a local invoke uses */

static long minor_faults(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

/* Whether this kernel knows MADV_POPULATE_WRITE (EINVAL otherwise). */
static int populate_supported(void) {
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return 0;
    int ok = madvise(page, 4096, MADV_POPULATE_WRITE) == 0;
    munmap(page, 4096);
    return ok;
}

static void test_the_heap_is_populated_in_advance(void) {
    heap_prefault();
    if (mallinfo2().arena == 0 || !populate_supported()) {
        printf("test_heap: skipped: this malloc does not use brk, or the kernel cannot "
               "populate (MADV_POPULATE_WRITE)\n");
        return;
    }
    char *blocks[BLOCKS];
    long before = minor_faults();
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(BLOCK_SIZE);
        CHECK(blocks[i] != NULL);
        if (blocks[i])
            memset(blocks[i], 1, BLOCK_SIZE);
    }
    long faults = minor_faults() - before;
    /* Touched a page at a time, 200 KB is about 49 faults; populated, none (a few allowed for
     * the stack and the test's own code). */
    if (faults >= 10)
        fprintf(stderr, "test_heap: %ld page faults writing %d fresh blocks\n", faults, BLOCKS);
    CHECK(faults < 10);
    for (int i = 0; i < BLOCKS; i++)
        free(blocks[i]);
}

int main(void) {
    test_the_heap_is_populated_in_advance();
    return check_report("test_heap");
}
