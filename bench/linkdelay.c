/* linkdelay: a point-to-point link with a fixed one-way delay, between
 * two network namespaces of its own, for time-to-first-byte in round
 * trips. This kernel has no netem; a TCP relay in user space could delay
 * data but not the TCP handshake, which its kernel would answer at once.
 *
 *   linkdelay DELAY_MS LIFETIME_SECONDS
 *
 * Makes two new network namespaces, "client" and "server", with a TUN
 * device named s5d0 in each, and stays in the namespace it started in.
 * Every IP packet read from one TUN device is written to the other
 * DELAY_MS later, in order: a round trip between the namespaces takes
 * 2 * DELAY_MS. Prints
 *   "client /proc/PID/fd/N" and "server /proc/PID/fd/M"
 * (namespace files for nsenter --net=); the caller gives the devices
 * addresses and brings them up. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN.
 * The namespaces and devices go away with this process.
 *
 * On SIGTERM, SIGINT or when LIFETIME_SECONDS have passed it prints
 *   "packets P dropped D"
 * and exits: P packets passed on, D dropped because a queue was full.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"

#define PROG "linkdelay"
#define QLEN 1024 /* packets in flight per direction */
#define PKT 2048  /* the devices' MTU is 1500 */

struct packet {
	int64_t due;
	size_t len;
	uint8_t data[PKT];
};

/* Packets from TUN device i, waiting to be written to the other one. */
struct queue {
	struct packet p[QLEN];
	size_t head, count;
};

static struct queue q[2];
static volatile sig_atomic_t stop;
static uint64_t passed, dropped;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int tun_open(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		bench_die(PROG, "/dev/net/tun", errno);
	strcpy(ifr.ifr_name, "s5d0");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		bench_die(PROG, "TUNSETIFF", errno);
	return fd;
}

/* A new network namespace with a TUN device; its namespace file in *ns. */
static int side(int *ns)
{
	if (unshare(CLONE_NEWNET) < 0)
		bench_die(PROG, "unshare(CLONE_NEWNET)", errno);
	*ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*ns < 0)
		bench_die(PROG, "/proc/self/ns/net", errno);
	return tun_open();
}

/* Everything waiting on tun[i], into queue i. */
static void take(int fd, struct queue *x, int64_t delay)
{
	struct packet *p;
	uint8_t scratch[PKT];
	ssize_t r;

	for (;;) {
		p = x->count < QLEN ? &x->p[(x->head + x->count) % QLEN] : NULL;
		r = read(fd, p != NULL ? p->data : scratch, PKT);
		if (r <= 0)
			return;
		if (p == NULL) {
			dropped++;
			continue;
		}
		p->len = (size_t)r;
		p->due = bench_now_ns() + delay;
		x->count++;
	}
}

/* The packets of queue x that are due, to fd. */
static void give(int fd, struct queue *x, int64_t now)
{
	struct packet *p;

	while (x->count > 0 && (p = &x->p[x->head])->due <= now) {
		if (write(fd, p->data, p->len) == (ssize_t)p->len)
			passed++;
		else
			dropped++;
		x->head = (x->head + 1) % QLEN;
		x->count--;
	}
}


int main(int argc, char **argv)
{
	struct pollfd pf[2];
	struct timespec ts, *tmo;
	sigset_t waitmask;
	int64_t delay, now, next;
	int orig, ns[2], tun[2], i;

	if (argc != 3) {
		fprintf(stderr, "usage: " PROG " DELAY_MS LIFETIME_SECONDS\n");
		return 2;
	}
	delay = bench_num(PROG, "delay", argv[1], 0, 10000) * 1000000;
	bench_stop_signals(&waitmask, on_signal);
	alarm((unsigned int)bench_num(PROG, "lifetime", argv[2], 1, 3600));
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0)
		bench_die(PROG, "/proc/self/ns/net", errno);
	for (i = 0; i < 2; i++)
		tun[i] = side(&ns[i]);
	if (setns(orig, CLONE_NEWNET) < 0)
		bench_die(PROG, "setns back", errno);
	printf("client /proc/%d/fd/%d\nserver /proc/%d/fd/%d\n", (int)getpid(),
	       ns[0], (int)getpid(), ns[1]);
	fflush(stdout);
	while (!stop) {
		now = bench_now_ns();
		next = -1;
		for (i = 0; i < 2; i++) {
			give(tun[1 - i], &q[i], now);
			if (q[i].count > 0 &&
			    (next < 0 || q[i].p[q[i].head].due < next))
				next = q[i].p[q[i].head].due;
			pf[i].fd = tun[i];
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		tmo = NULL;
		if (next >= 0) {
			next = next > now ? next - now : 0;
			ts.tv_sec = next / 1000000000;
			ts.tv_nsec = next % 1000000000;
			tmo = &ts;
		}
		if (ppoll(pf, 2, tmo, &waitmask) < 0 && errno != EINTR)
			bench_die(PROG, "ppoll", errno);
		for (i = 0; i < 2; i++)
			if (pf[i].revents & POLLIN)
				take(tun[i], &q[i], delay);
	}
	printf("packets %llu dropped %llu\n", (unsigned long long)passed,
	       (unsigned long long)dropped);
	return 0;
}
