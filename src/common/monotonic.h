/* The one monotonic clock of the program, in seconds (CLOCK_MONOTONIC, the clock of
 * lambda.time.monotonic): timeouts, deadlines, durations, lambda.http's received_at. */
#ifndef CLC_COMMON_MONOTONIC_H
#define CLC_COMMON_MONOTONIC_H

double monotonic_now(void);

#endif
