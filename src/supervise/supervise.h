/* The seccomp supervisor: what the launcher calls.
 *
 * A preloaded library sees only calls made through libc. Go programs,
 * statically linked programs and io_uring make their system calls
 * themselves, so the launcher can instead stay alive as the program's
 * parent and answer the calls that matter for it: the child installs a
 * seccomp filter whose listener the parent holds, then execs PROGRAM.
 * See README "How it is built: the supervisor" for the whole design.
 */
#ifndef S5_SUPERVISE_H
#define S5_SUPERVISE_H

#include <stdbool.h>

struct s5_config;

/* False when this build has no supervisor (an architecture the filter
 * does not know). */
bool s5s_built(void);

/* Runs PROGRAM (path, as found; argv[0] as the user typed it) under the
 * supervisor with configuration c (kept until return). Returns the exit
 * status for the launcher: the program's own, 128+N when a signal N
 * killed it, 125 when supervising was impossible (after a message on
 * stderr), 126/127 when the exec failed. */
int s5s_run(const char *path, char **argv, const struct s5_config *c);

#endif
