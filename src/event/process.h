/* What process.c tells the other parts of lambda.event about the children it started. */
#ifndef CLC_EVENT_PROCESS_H
#define CLC_EVENT_PROCESS_H

#include <sys/types.h>

/* Whether pid is a child started by event.spawn whose exit has not been reported yet. */
int event_process_is_spawned(pid_t pid);

#endif
