/* The limit on open files. The soft limit is often 1,024 while the hard limit is far higher:
 * an emulator holding many client connections and function instances must not run out at
 * the soft one, so the host raises it at start. Children get the original back (as Go's
 * os/exec does), since some programs size tables by it or close every descriptor up to it. */
#ifndef CLC_COMMON_FD_LIMIT_H
#define CLC_COMMON_FD_LIMIT_H

/* Raises the soft limit to the hard limit, remembering the original. */
void fd_limit_raise(void);

/* In a child between fork and exec (async-signal-safe): puts the original soft limit back. */
void fd_limit_restore_in_child(void);

#endif
