/* Where the library's log lines go (logfile.c): stderr, or the file
 * SOCKS5WRAP_LOG_FILE names, kept as an internal descriptor. */
#ifndef S5_LOGFILE_H
#define S5_LOGFILE_H

#include "s5_log.h"

/* Before anything else: lines at level ERROR go to stderr, written with a
 * raw system call that passes through no hook. */
void s5_logfile_early(void);

/* The configured level, and the file when path is not NULL (on failure,
 * stderr, with a warning). */
void s5_logfile_setup(enum s5log_level level, const char *path);

#endif
