/* What every exported hook shares: the reentrancy guard, the one
 * prologue, and the epilogue that sets errno.
 *
 * A hook is a thin shell: the prologue, then (for calls that may be the
 * library's) a policy function that returns S5_PASS, a result or -errno.
 * Hooks on the read/write family put one test before the prologue: a
 * descriptor whose part of the table was never mapped cannot be ours
 * (fd.h), and every read() of the program passes there. */
#ifndef S5_HOOK_H
#define S5_HOOK_H

#include <errno.h>
#include <string.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "real.h"

/* Returned by a policy when the call is not the library's: libc does it.
 * A value no real result can take (send and receive results are byte
 * counts: a 1-byte datagram must never read as "not ours"). */
#define S5_PASS INT_MAX

/* Reentrancy guard: while set on this thread, hooks pass straight to libc.
 * Set around the library's own use of libc functions that may call hooked
 * symbols (the resolver connects to name servers). */
bool s5_guarded(void);
void s5_guard_enter(void);
void s5_guard_leave(void);

enum s5_hook_mode {
	S5_HOOK_OURS, /* initialised: the policy decides */
	S5_HOOK_LIBC, /* the library's own call (guard set): straight to libc */
	S5_HOOK_FAIL, /* libc's function is missing: fail closed */
};

enum s5_stage {
	S5_STAGE_SYMBOLS, /* hooks that only keep the table right */
	S5_STAGE_FULL,    /* hooks that route traffic or names */
};

/* Runs the start-up up to stage. For S5_STAGE_FULL, false when a required
 * libc function is missing: the policy would call it, so the hook fails
 * closed. */
static inline bool s5_stage(enum s5_stage stage)
{
	if (stage == S5_STAGE_SYMBOLS) {
		s5_init_symbols();
		return true;
	}
	s5_init();
	return s5_ready();
}

/* The one prologue. Inside the guard nothing is initialised (the guard is
 * set during start-up itself) and the call goes to libc. A macro because
 * it reads real.fn after the start-up filled it. */
#define s5_hook_begin(fn, stage)                                              \
	(s5_guarded() ? (real.fn != NULL ? S5_HOOK_LIBC : S5_HOOK_FAIL)       \
		      : (s5_stage(stage) && real.fn != NULL ? S5_HOOK_OURS     \
							    : S5_HOOK_FAIL))

/* The hooks under names that bind inside the library, for syscall(),
 * which hands socket calls to them: a call by the exported name would go
 * wherever the dynamic linker sends it (libc's, when the library is not
 * first). Each hook's file defines its alias with S5_SELF_ALIAS. */
#if defined(__GNUC__) && !defined(__clang__)
/* libc declares some targets nothrow and leaf; the alias need not say so. */
#define S5_ALIAS(name, other, ...)                                            \
	_Pragma("GCC diagnostic push")                                        \
	_Pragma("GCC diagnostic ignored \"-Wmissing-attributes\"")            \
	extern __typeof__(name) other                                         \
		__attribute__((alias(#name) __VA_ARGS__));                    \
	_Pragma("GCC diagnostic pop")
#else
#define S5_ALIAS(name, other, ...)                                            \
	extern __typeof__(name) other __attribute__((alias(#name) __VA_ARGS__))
#endif
#define S5_SELF_ALIAS(name) S5_ALIAS(name, s5_self_##name)
#define S5_SELF_DECL(name) extern __typeof__(name) s5_self_##name

/* On a 32-bit system glibc gives programs built with _TIME_BITS=64 names
 * of their own for calls whose arguments may hold a time (__sendmsg64,
 * __recvmsg64, __ppoll64...); the library is built with the 32-bit time_t
 * of the plain names, which is what 32-bit programs call. Where libc's
 * function under the other name is the very same one (sendmsg, sendmmsg,
 * getsockopt and setsockopt carry no time of their own: the option
 * numbers differ instead), the hook takes that name too, so that a
 * program built that way cannot send around it. The names are in the
 * version script, marked "time32". */
#if defined(__TIMESIZE) && __TIMESIZE == 32
#define S5_TIME64_ALIAS(name, other)                                          \
	S5_ALIAS(name, other, , visibility("default"))
#else
#define S5_TIME64_ALIAS(name, other) extern int s5_no_##other
#endif
S5_SELF_DECL(connect);
S5_SELF_DECL(sendto);
S5_SELF_DECL(recvfrom);
S5_SELF_DECL(sendmsg);
S5_SELF_DECL(recvmsg);
S5_SELF_DECL(sendmmsg);
S5_SELF_DECL(recvmmsg);
S5_SELF_DECL(setsockopt);
S5_SELF_DECL(getsockopt);
S5_SELF_DECL(close);
S5_SELF_DECL(close_range);

/* Hands an address out as the kernel's get*name calls do: at most the
 * room the caller gave (*len before the call) is copied, the full length
 * is reported. */
static inline void s5_give_addr(struct sockaddr *sa, socklen_t *len,
				socklen_t room,
				const struct sockaddr_storage *addr,
				socklen_t alen)
{
	memcpy(sa, addr, alen < room ? alen : room);
	*len = alen;
}

/* Hook epilogue: r < 0 sets errno and gives -1; otherwise restores the
 * errno the program had (a successful call leaves errno untouched). */
static inline ssize_t s5_result(ssize_t r, int saved_errno)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved_errno;
	return r;
}

#endif
