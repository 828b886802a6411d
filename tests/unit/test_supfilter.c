/* links: supervise/filter */
/* The supervisor's seccomp program: run by a small classic-BPF
 * interpreter of our own on seccomp_data inputs (every jump checked to
 * stay inside the program), then loaded into the kernel in a child to
 * check that the kernel accepts it and acts on it. */
#include <errno.h>
#include <linux/audit.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervise/sup.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#define NOTIFY SECCOMP_RET_USER_NOTIF
#define ENOSYS_RET (SECCOMP_RET_ERRNO | ENOSYS)
#define ALLOW SECCOMP_RET_ALLOW

/* Runs prog on d; fails the test on an instruction we do not expect or a
 * jump out of the program. */
static uint32_t run(const struct sock_filter *prog, size_t n,
		    const struct seccomp_data *d)
{
	uint32_t a = 0;
	size_t pc = 0;

	while (pc < n) {
		const struct sock_filter *f = &prog[pc];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k + 4 <= sizeof(*d));
			assert_int_equal(f->k % 4, 0);
			memcpy(&a, (const uint8_t *)d + f->k, 4);
			pc++;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += 1 + (a == f->k ? f->jt : f->jf);
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += 1 + (a >= f->k ? f->jt : f->jf);
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += 1 + ((a & f->k) ? f->jt : f->jf);
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("unexpected instruction %#x at %zu", f->code,
				 pc);
		}
	}
	fail_msg("ran off the end of the program");
	return 0;
}

static uint32_t eval(uint32_t arch, int nr, uint64_t a3, uint64_t a4)
{
	struct sock_filter prog[S5S_FILTER_MAX];
	struct seccomp_data d;
	size_t n = s5s_filter(prog);

	assert_true(n > 0 && n <= S5S_FILTER_MAX);
	memset(&d, 0, sizeof(d));
	d.arch = arch;
	d.nr = nr;
	d.args[3] = a3;
	d.args[4] = a4;
	return run(prog, n, &d);
}

#define NATIVE AUDIT_ARCH_X86_64

static void test_caught_calls_notify(void **state)
{
	(void)state;
	assert_int_equal(eval(NATIVE, __NR_connect, 0, 0), NOTIFY);
	assert_int_equal(eval(NATIVE, __NR_sendmsg, 0, 0), NOTIFY);
	assert_int_equal(eval(NATIVE, __NR_sendmmsg, 0, 0), NOTIFY);
	assert_int_equal(eval(NATIVE, __NR_getpeername, 0, 0), NOTIFY);
}

static void test_other_calls_run(void **state)
{
	static const int nrs[] = { __NR_read, __NR_write, __NR_close,
				   __NR_socket, __NR_recvfrom, __NR_recvmsg,
				   __NR_bind, __NR_getsockname, __NR_execve,
				   __NR_clone, __NR_exit_group };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++)
		assert_int_equal(eval(NATIVE, nrs[i], 0, 0), ALLOW);
}

static void test_sendto_only_with_an_address_or_fastopen(void **state)
{
	(void)state;
	assert_int_equal(eval(NATIVE, __NR_sendto, 0, 0), ALLOW);
	assert_int_equal(eval(NATIVE, __NR_sendto, MSG_DONTWAIT, 0), ALLOW);
	assert_int_equal(eval(NATIVE, __NR_sendto, 0, 0x7ffc1000), NOTIFY);
	/* A pointer whose low half is zero still is a pointer. */
	assert_int_equal(eval(NATIVE, __NR_sendto, 0, 1ULL << 32), NOTIFY);
	assert_int_equal(eval(NATIVE, __NR_sendto, MSG_FASTOPEN, 0), NOTIFY);
	assert_int_equal(eval(NATIVE, __NR_sendto,
			      MSG_FASTOPEN | MSG_NOSIGNAL, 0),
			 NOTIFY);
}

static void test_io_uring_and_foreign_abis_refused(void **state)
{
	(void)state;
	assert_int_equal(eval(NATIVE, __NR_io_uring_setup, 0, 0), ENOSYS_RET);
	/* i386's socketcall and connect, through int 0x80. */
	assert_int_equal(eval(AUDIT_ARCH_I386, 102, 0, 0), ENOSYS_RET);
	assert_int_equal(eval(AUDIT_ARCH_I386, 362, 0, 0), ENOSYS_RET);
	assert_int_equal(eval(AUDIT_ARCH_I386, __NR_read, 0, 0), ENOSYS_RET);
	/* x32: the same table with bit 30 set. */
	assert_int_equal(eval(NATIVE, 0x40000000 | __NR_connect, 0, 0),
			 ENOSYS_RET);
	assert_int_equal(eval(NATIVE, 0x40000000 | __NR_read, 0, 0),
			 ENOSYS_RET);
}

/* In the kernel, without a listener: a call the filter notifies fails
 * with ENOSYS (seccomp_unotify(2)), io_uring_setup too, and the rest
 * runs. The child reports which of those held in its exit status. */
static void test_kernel_takes_the_filter(void **state)
{
	struct sock_filter insns[S5S_FILTER_MAX];
	struct sock_fprog prog;
	int st;
	pid_t pid;

	(void)state;
	prog.len = (unsigned short)s5s_filter(insns);
	prog.filter = insns;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bits = 0, fd;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			_exit(100);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0)
			bits |= 1;
		if (syscall(SYS_connect, fd, NULL, 0) < 0 && errno == ENOSYS)
			bits |= 2;
		if (syscall(SYS_io_uring_setup, 1, NULL) < 0 &&
		    errno == ENOSYS)
			bits |= 4;
		if (syscall(SYS_sendto, fd, "x", 1, MSG_NOSIGNAL, NULL, 0) < 0 &&
		    errno != ENOSYS)
			bits |= 8; /* ran: ENOTCONN / EPIPE */
		if (getpid() > 0)
			bits |= 16;
		_exit(bits);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("child status %#x", st);
	assert_int_equal(WEXITSTATUS(st), 31);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caught_calls_notify),
		cmocka_unit_test(test_other_calls_run),
		cmocka_unit_test(test_sendto_only_with_an_address_or_fastopen),
		cmocka_unit_test(test_io_uring_and_foreign_abis_refused),
		cmocka_unit_test(test_kernel_takes_the_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
