/* lambda.fs.write_private (write.c), registered by fs.c. */
#ifndef CLC_FS_WRITE_H
#define CLC_FS_WRITE_H

#include <lua.h>

int fs_write_private(lua_State *L);

#endif
