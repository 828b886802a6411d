/* S5FD_INTERNAL: the library's own descriptors (the log file, UDP control
 * connections, the tree's name table) among the program's
 * (kind_internal.c). They live at high numbers, close-on-exec but for the
 * name table's, which programs the process execs inherit (tree.c); the
 * program cannot close them, and a program
 * that wants one's number (dup2 onto it) gets it while ours moves. Before
 * the library writes to, closes or moves one, the table checks that it is
 * still the file the library opened: after a close the hooks did not see
 * (closefrom, a raw close_range system call) the number may be the
 * program's. */
#ifndef S5_KIND_INTERNAL_H
#define S5_KIND_INTERNAL_H

#include "fd.h"

/* Moves a descriptor the library just opened to a high number,
 * close-on-exec, and marks it internal with its owner (NULL: none; the
 * owner is told of later moves through ops->moved). Returns the
 * descriptor to use (the old one is closed when it moved). */
int s5_internal_adopt(int fd, struct s5_obj *owner);

/* Marks fd, already at a high number (s5_internal_base), internal with
 * no owner, keeping its close-on-exec flag as it is. */
void s5_internal_keep(int fd);

/* The lowest number internal descriptors take. */
int s5_internal_base(void);

/* Closes an internal descriptor if it is still the library's; a number
 * that now belongs to the program is only forgotten. */
void s5_internal_close(int fd);

/* A program wants the number of one of our descriptors (dup2 onto it):
 * ours moves to another high number, its owner is told, the old number is
 * closed. Returns 0 or -errno. */
int s5_internal_relocate(int fd);

#endif
