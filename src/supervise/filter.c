/* The seccomp program the supervised process tree runs under.
 *
 * Classic BPF over struct seccomp_data (seccomp(2)). The program:
 *   - a call made through another ABI (i386 through int 0x80, x32): ENOSYS.
 *     Their numbers differ, so the checks below would not see them;
 *   - io_uring_setup: ENOSYS. io_uring's operations never pass through
 *     seccomp, and programs fall back to plain calls when it is missing;
 *   - connect, sendmsg, sendmmsg, getpeername: a notification to the
 *     supervisor (the address is behind a pointer the filter cannot read);
 *   - sendto with a destination address or MSG_FASTOPEN: a notification;
 *     without either it sends on a connected socket, which connect()
 *     already saw;
 *   - everything else runs untouched, at the cost of running this filter.
 */
#include <errno.h>
#include <linux/audit.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "sup.h"
#include "supervise.h"

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#define X32_BIT 0x40000000u
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* Jump targets are labels resolved once the program is laid out. */
enum label { NEXT = 0, L_NOTIFY, L_ENOSYS, L_ALLOW, L_SENDTO, N_LABELS };

struct ins {
	uint16_t code;
	uint32_t k;
	enum label jt, jf, at; /* at: the label of this instruction */
};

#define LD(off) { BPF_LD | BPF_W | BPF_ABS, (uint32_t)(off), NEXT, NEXT, NEXT }
#define JEQ(v, t) { BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(v), t, NEXT, NEXT }
#define JNE(v, t) { BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(v), NEXT, t, NEXT }
#define JGE(v, t) { BPF_JMP | BPF_JGE | BPF_K, (uint32_t)(v), t, NEXT, NEXT }
#define JSET(v, t) { BPF_JMP | BPF_JSET | BPF_K, (uint32_t)(v), t, NEXT, NEXT }
#define RET(v, lab) { BPF_RET | BPF_K, (uint32_t)(v), NEXT, NEXT, lab }
#define LDL(off, lab) { BPF_LD | BPF_W | BPF_ABS, (uint32_t)(off), NEXT, NEXT, lab }

#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (ARG_LO(i) + 4)

bool s5s_built(void)
{
#ifdef ARCH
	return true;
#else
	return false;
#endif
}

size_t s5s_filter(struct sock_filter *out)
{
#ifdef ARCH
	static const struct ins prog[] = {
		LD(offsetof(struct seccomp_data, arch)),
		JNE(ARCH, L_ENOSYS),
		LD(offsetof(struct seccomp_data, nr)),
#ifdef X32_BIT
		JGE(X32_BIT, L_ENOSYS),
#endif
		JEQ(__NR_connect, L_NOTIFY),
		JEQ(__NR_sendmsg, L_NOTIFY),
		JEQ(__NR_sendmmsg, L_NOTIFY),
		JEQ(__NR_getpeername, L_NOTIFY),
		JEQ(__NR_io_uring_setup, L_ENOSYS),
		JEQ(__NR_sendto, L_SENDTO),
		RET(SECCOMP_RET_ALLOW, L_ALLOW),
		/* sendto(fd, buf, len, flags, dest_addr, addrlen) */
		LDL(ARG_LO(4), L_SENDTO),
		JNE(0, L_NOTIFY),
		LD(ARG_HI(4)),
		JNE(0, L_NOTIFY),
		LD(ARG_LO(3)),
		JSET(MSG_FASTOPEN, L_NOTIFY),
		RET(SECCOMP_RET_ALLOW, NEXT),
		RET(SECCOMP_RET_USER_NOTIF, L_NOTIFY),
		RET(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA), L_ENOSYS),
	};
	size_t n = sizeof(prog) / sizeof(prog[0]), i;
	size_t at[N_LABELS];

	_Static_assert(sizeof(prog) / sizeof(prog[0]) <= S5S_FILTER_MAX,
		       "the filter outgrew S5S_FILTER_MAX");
	memset(at, 0, sizeof(at));
	for (i = 0; i < n; i++)
		if (prog[i].at != NEXT)
			at[prog[i].at] = i;
	for (i = 0; i < n; i++) {
		const struct ins *p = &prog[i];
		/* Jumps go forward only, which is what BPF allows. */
		uint8_t jt = p->jt == NEXT ? 0 : (uint8_t)(at[p->jt] - i - 1);
		uint8_t jf = p->jf == NEXT ? 0 : (uint8_t)(at[p->jf] - i - 1);

		out[i] = (struct sock_filter){ p->code, jt, jf, p->k };
	}
	return n;
#else
	(void)out;
	return 0;
#endif
}
