/* The process heap, made ready before the Lua state fills it. */
#ifndef CLC_HOST_HEAP_H
#define CLC_HOST_HEAP_H

void heap_prefault(void);

#endif
