/* allowall: runs a program under a seccomp filter that allows every call.
 *
 *   allowall PROGRAM [ARG...]
 *
 * Sets no_new_privs, installs a one-instruction filter (SECCOMP_RET_ALLOW)
 * and execs PROGRAM. The benchmarks set the supervisor's cost on calls its
 * filter lets through against this one: what any seccomp filter costs a
 * system call, whatever the filter says.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define PROG "allowall"

int main(int argc, char **argv)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };

	if (argc < 2) {
		fprintf(stderr, "usage: " PROG " PROGRAM [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		bench_die(PROG, "PR_SET_NO_NEW_PRIVS", errno);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		bench_die(PROG, "seccomp", errno);
	execvp(argv[1], argv + 1);
	bench_die(PROG, argv[1], errno);
}
