/* A client that connects with io_uring (IORING_OP_CONNECT), for
 * test_supervise.py: the connect reaches the kernel without any socket
 * system call of the program's, so neither the preload library nor a
 * seccomp filter sees it.
 *
 *   uring_client ADDR PORT
 *
 * Sets up a ring; if that fails (ENOSYS from a supervisor that refuses
 * io_uring, or anything else) it says so and falls back to a plain
 * connect(), as programs with an io_uring back end do. Then it fetches /
 * from the HTTP server at ADDR:PORT (an IPv4 address). Prints one JSON
 * object: setup (the ring's errno name, "ok" when it worked), via
 * ("io_uring" or "connect"), connect (its errno name), the answer. Exit
 * status 0 when it got that far.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_util.h"

#define IO_TIMEOUT_MS 10000

static int ring_connect(struct io_uring *ring, int fd,
			const struct sockaddr_in *sa)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe = NULL;
	int r;

	if (sqe == NULL)
		return EBUSY;
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)sa,
			      sizeof(*sa));
	r = io_uring_submit(ring);
	if (r < 0)
		return -r;
	r = io_uring_wait_cqe(ring, &cqe);
	if (r < 0)
		return -r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r < 0 ? -r : 0;
}

int main(int argc, char **argv)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: t\r\n\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct io_uring ring;
	int fd, r, setup, e;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: uring_client ADDR PORT\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	r = io_uring_queue_init(4, &ring, 0);
	setup = r < 0 ? -r : 0;
	if (setup == 0) {
		e = ring_connect(&ring, fd, &sa);
		io_uring_queue_exit(&ring);
	} else {
		e = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
			    ? 0
			    : errno;
	}
	printf("{\"setup\": \"%s\", \"via\": \"%s\", \"connect\": \"%s\"",
	       ename(setup), setup == 0 ? "io_uring" : "connect", ename(e));
	if (e == 0 && write(fd, req, sizeof(req) - 1) ==
			      (ssize_t)(sizeof(req) - 1))
		put_reply_json(fd, IO_TIMEOUT_MS);
	printf("}\n");
	close(fd);
	return 0;
}
