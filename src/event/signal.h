/* Signal names as lambda.event spells them: without the SIG prefix ("INT", "TERM", ...). */
#ifndef CLC_EVENT_SIGNAL_H
#define CLC_EVENT_SIGNAL_H

#include <lua.h>

int event_signal_number(const char *name); /* 0 when unknown; a "SIG" prefix is accepted */
const char *event_signal_name(int number); /* NULL when unknown */
/* The signal named at arg (default when absent), raising an argument error when unknown. */
int event_check_signal(lua_State *L, int arg, const char *default_name);

#endif
