/* sup_race MODE HOST PORT: a program that races its own threads against
 * the supervisor, which checks a call and may then let the kernel run it.
 * Whatever the timing, nothing may reach HOST:PORT directly: the test's
 * leak capture watches the wire.
 *
 *   msgname      sendmsg() on a UDP socket while another thread flips
 *                msg_name between NULL and HOST:PORT
 *   swapsend     sendmsg() and sendto() naming HOST:PORT on descriptor
 *                100, which another thread dup2()s between an AF_UNIX
 *                socket and a UDP socket
 *   swapconnect  connect() to HOST:PORT on descriptor 100, which another
 *                thread dup2()s between an AF_UNIX socket and a fresh TCP
 *                socket
 *   fastopen     sendmsg() with MSG_FASTOPEN on a fresh TCP socket each
 *                time while another thread flips msg_name as in msgname
 *
 * Each runs for at most RACE_MS milliseconds (default 1500) and prints
 * one line of counts. Built with gcc -static -pthread. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT 100

static struct sockaddr_in dst;
static struct msghdr shared_msg;
static atomic_int stop;
static int unix_fd, inet_type;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void spin(void)
{
	for (volatile int i = 0; i < 64; i++)
		;
}

static void *flip_name(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		*(void *volatile *)&shared_msg.msg_name = &dst;
		*(volatile socklen_t *)&shared_msg.msg_namelen = sizeof(dst);
		spin();
		*(void *volatile *)&shared_msg.msg_name = NULL;
		*(volatile socklen_t *)&shared_msg.msg_namelen = 0;
		spin();
	}
	return NULL;
}

/* Puts the AF_UNIX socket and a fresh IPv4 socket at SLOT in turn. */
static void *swap_slot(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = socket(AF_INET, inet_type, 0);

		if (fd >= 0) {
			dup2(fd, SLOT);
			close(fd);
		}
		spin();
		dup2(unix_fd, SLOT);
		spin();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long deadline, ok = 0, refused = 0, other = 0;
	const char *mode;
	char c = 'x';
	struct iovec iov = { &c, 1 };
	pthread_t t;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: sup_race MODE HOST PORT\n");
		return 2;
	}
	mode = argv[1];
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1)
		return 2;
	deadline = now_ms() + (getenv("RACE_MS") ? atol(getenv("RACE_MS"))
						 : 1500);
	shared_msg.msg_iov = &iov;
	shared_msg.msg_iovlen = 1;
	if (strcmp(mode, "msgname") == 0) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		pthread_create(&t, NULL, flip_name, NULL);
		while (now_ms() < deadline) {
			if (sendmsg(fd, &shared_msg, MSG_DONTWAIT) == 1)
				ok++;
			else if (errno == EPERM || errno == EDESTADDRREQ)
				refused++;
			else
				other++;
		}
	} else if (strcmp(mode, "fastopen") == 0) {
		pthread_create(&t, NULL, flip_name, NULL);
		while (now_ms() < deadline) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			if (sendmsg(fd, &shared_msg,
				    MSG_FASTOPEN | MSG_DONTWAIT |
					    MSG_NOSIGNAL) >= 0)
				ok++;
			else if (errno == EINVAL || errno == EDESTADDRREQ ||
				 errno == EPIPE || errno == ENOTCONN)
				refused++;
			else
				other++;
			close(fd);
		}
	} else if (strcmp(mode, "swapsend") == 0 ||
		   strcmp(mode, "swapconnect") == 0) {
		bool conn = strcmp(mode, "swapconnect") == 0;
		struct msghdr m = { .msg_name = &dst,
				    .msg_namelen = sizeof(dst),
				    .msg_iov = &iov,
				    .msg_iovlen = 1 };

		unix_fd = socket(AF_UNIX, conn ? SOCK_STREAM : SOCK_DGRAM, 0);
		inet_type = conn ? SOCK_STREAM : SOCK_DGRAM;
		dup2(unix_fd, SLOT);
		pthread_create(&t, NULL, swap_slot, NULL);
		while (now_ms() < deadline) {
			int r = conn ? connect(SLOT, (struct sockaddr *)&dst,
					       sizeof(dst))
				     : (ok + refused + other) % 2
					       ? (int)sendmsg(SLOT, &m,
							      MSG_DONTWAIT)
					       : (int)sendto(SLOT, &c, 1,
							     MSG_DONTWAIT,
							     (struct sockaddr *)&dst,
							     sizeof(dst));

			if (r >= 0)
				ok++;
			else if (errno == EPERM || errno == EINVAL ||
				 errno == EAFNOSUPPORT || errno == EBADF)
				refused++;
			else
				other++;
		}
	} else {
		fprintf(stderr, "sup_race: unknown mode %s\n", mode);
		return 2;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("%s: ok %ld refused %ld other %ld\n", mode, ok, refused, other);
	return 0;
}
