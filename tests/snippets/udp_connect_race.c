/* send() on a UDP socket that another thread connects through the proxy
 * and disconnects meanwhile: each datagram goes to the virtual peer with
 * a header, or fails with EDESTADDRREQ; none reaches the relay bare (the
 * fake proxy reports any datagram it cannot parse, which fails the run).
 *
 * To make the other thread's step land anywhere in a send, also between
 * the library's look at the socket and its system call, both threads
 * share one CPU, and a fast interval timer interrupts the sender with a
 * handler that yields the CPU to the other thread, which takes one step
 * (connect or disconnect) and yields it back. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/time.h>

#include "udp.h"

#define STEPS 4000

static int fd;
static atomic_bool done;

static void yield_cpu(int sig)
{
	(void)sig;
	sched_yield();
}

static void *toggler(void *arg)
{
	struct sockaddr_in dst = udp_dst();
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	sigset_t alrm;
	int i, *bad = arg;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL);
	for (i = 0; i < STEPS; i++) {
		if ((i % 2 ? connect(fd, &unspec, sizeof(unspec))
			   : connect(fd, (struct sockaddr *)&dst,
				     sizeof(dst))) != 0) {
			*bad = errno;
			break;
		}
		sched_yield();
	}
	atomic_store(&done, true);
	return NULL;
}

static int race(long *sent, long *refused)
{
	struct sigaction sa = { .sa_handler = yield_cpu,
				.sa_flags = SA_RESTART };
	struct itimerval every = { { 0, 50 }, { 0, 50 } }, off = { 0 };
	cpu_set_t one;
	pthread_t th;
	char buf[64];
	int bad = 0, e;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0)
		FAIL("sched_setaffinity: %s", strerror(errno));
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		FAIL("sigaction: %s", strerror(errno));
	atomic_store(&done, false);
	if (pthread_create(&th, NULL, toggler, &bad) != 0)
		FAIL("pthread_create");
	setitimer(ITIMER_REAL, &every, NULL);
	while (!atomic_load(&done)) {
		if (send(fd, "udp-race", 8, MSG_DONTWAIT) == 8)
			++*sent;
		else if ((e = errno) == EDESTADDRREQ || e == ENOTCONN)
			++*refused;
		else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
			FAIL("send: %s", strerror(e));
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_join(th, NULL);
	if (bad != 0)
		FAIL("connect/disconnect: %s", strerror(bad));
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	long sent = 0, refused = 0;
	char buf[64];

	fd = udp_socket();
	if (fd < 0)
		FAIL("socket: %s", strerror(errno));
	if (race(&sent, &refused) != 0)
		return 1;
	close(fd);
	if (sent == 0 || refused == 0)
		FAIL("%ld sends went, %ld were refused: no race", sent,
		     refused);
	/* A fresh socket, connected, still echoes. */
	fd = udp_connected();
	if (fd < 0)
		FAIL("connect: %s", strerror(errno));
	if (send(fd, "udp-race", 8, 0) != 8 ||
	    recv(fd, buf, sizeof(buf), 0) != 8 || memcmp(buf, "udp-race", 8))
		FAIL("echo after the race: %s", strerror(errno));
	close(fd);
	return 0;
}
