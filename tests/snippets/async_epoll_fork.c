/* fork() during the asynchronous connect (async.h), with the epoll set
 * shared by parent and child (one open epoll description):
 *   - The child waits on the shared set too, bounded: it must see the
 *     socket either succeed (writable, no error, SO_ERROR 0, the
 *     destination as peer, not before the proxy's reply) or fail
 *     clearly (EPOLLERR and a nonzero SO_ERROR); it never reads. The
 *     parent, meanwhile, gets its connection as if there had been no
 *     fork: writable after the reply, SO_ERROR 0, an exact echo, and
 *     still an echo after the child has exited.
 *   - The child closes its copy at once and exits: the parent's
 *     handshake goes on and the connection echoes.
 *   - A refused CONNECT (REP 2): the parent sees EACCES once; the child
 *     waiting on the shared set sees a failure, not a connection.
 * Every wait is bounded; a child that hangs is killed and fails the
 * snippet. */
#include <sys/wait.h>

#include "async_waiters.h"

enum { SAW_SUCCESS = 0, SAW_FAILURE = 1, SAW_NOTHING = 2, SAW_BAD = 3 };

/* The child: waits on the shared set for the socket's outcome, then for
 * the parent's go-ahead before reading SO_ERROR (so it cannot take the
 * parent's error), and exits with what it saw. */
static void child_watch(int ep, int fd, int port, double t0, int go)
{
	struct epoll_event e[4];
	double end = async_ms() + 2500;
	char c;
	int r, err, saw = SAW_NOTHING;
	uint32_t ev = 0;

	while (saw == SAW_NOTHING && async_ms() < end) {
		r = epoll_wait(ep, e, 4, 500);
		if (r < 0 && errno != EINTR)
			_exit(SAW_BAD);
		if (r > 0 && e[0].data.u64 != aw_tag(fd)) {
			fprintf(stderr, "FAIL child: epoll data %#llx\n",
				(unsigned long long)e[0].data.u64);
			_exit(SAW_BAD);
		}
		if (r > 0) {
			ev = e[0].events;
			saw = (ev & EPOLLERR) ? SAW_FAILURE : SAW_SUCCESS;
		}
	}
	if (saw == SAW_NOTHING) {
		fprintf(stderr, "FAIL child: no outcome in 2.5 s\n");
		_exit(SAW_NOTHING);
	}
	if (saw == SAW_SUCCESS && (!(ev & EPOLLOUT) || async_ms() - t0 < 290)) {
		fprintf(stderr, "FAIL child: events %#x after %.0f ms\n", ev,
			async_ms() - t0);
		_exit(SAW_BAD);
	}
	if (read(go, &c, 1) != 1)
		_exit(SAW_BAD);
	err = async_so_error(fd);
	if (saw == SAW_FAILURE && err <= 0) {
		fprintf(stderr, "FAIL child: EPOLLERR, SO_ERROR %d\n", err);
		_exit(SAW_BAD);
	}
	if (saw == SAW_SUCCESS && (err != 0 || !async_peer_is(fd, port))) {
		fprintf(stderr, "FAIL child: writable, SO_ERROR %s, peer %s\n",
			async_errname(err),
			async_errname(async_peer_errno(fd)));
		_exit(SAW_BAD);
	}
	_exit(saw);
}

/* The child's exit status, waiting at most 3 s (then it is killed). */
static int reap(pid_t pid)
{
	int st, i;

	for (i = 0; i < 300; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
		async_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 101;
}

static int child_waits(int port, int want)
{
	double t0;
	int ep, s, go[2], st, e;
	pid_t pid;

	ep = epoll_create1(EPOLL_CLOEXEC);
	s = async_start(port, &t0);
	if (ep < 0 || s < 0 || pipe(go) != 0 ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLOUT, aw_tag(s)))
		FAIL("set-up: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		close(go[1]);
		child_watch(ep, s, port, t0, go[0]);
	}
	close(go[0]);
	if (want == 0) {
		if (async_ep_one(ep, 1000, aw_tag(s), EPOLLOUT, 0, t0, 290,
				 "parent, child waiting too") != 0)
			goto fail;
	} else if (async_ep_one(ep, 1000, aw_tag(s), ASYNC_EP_FAIL,
				ASYNC_EP_FAIL_MAY, t0, 90,
				"parent, failing, child waiting too") != 0) {
		goto fail;
	}
	e = async_so_error(s);
	if (e != want || (want != 0 && async_so_error(s) != 0)) {
		fprintf(stderr, "FAIL parent: SO_ERROR %s, expected %s once\n",
			async_errname(e), async_errname(want));
		goto fail;
	}
	if (want == 0 && (!async_peer_is(s, port) ||
			  async_echo(s, "parent") != 0))
		goto fail;
	if (write(go[1], "g", 1) != 1)
		goto fail;
	st = reap(pid);
	if (st != SAW_SUCCESS && st != SAW_FAILURE)
		FAIL("child inheriting the handshake (port %d): status %d",
		     port, st);
	if (want != 0 && st != SAW_FAILURE)
		FAIL("the parent's CONNECT was refused, the child saw a "
		     "connection");
	if (want == 0 && async_echo(s, "after the child") != 0)
		return 1;
	close(go[1]);
	close(s);
	close(ep);
	return 0;
fail:
	close(go[1]);
	reap(pid);
	return 1;
}

static int child_closes(void)
{
	double t0;
	int ep, s, st;
	pid_t pid;

	ASYNC_STEP("fork: the child closes its copy");
	ep = epoll_create1(EPOLL_CLOEXEC);
	s = async_start(PORT_OK(200), &t0);
	if (ep < 0 || s < 0 ||
	    async_ep_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLOUT, aw_tag(s)))
		FAIL("set-up: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		close(s);
		_exit(0);
	}
	st = reap(pid);
	if (st != 0)
		FAIL("child: status %d", st);
	if (async_ep_one(ep, 1000, aw_tag(s), EPOLLOUT, 0, t0, 190,
			 "parent, the child closed its copy") != 0 ||
	    async_so_error(s) != 0 || async_echo(s, "closed copy") != 0)
		return 1;
	close(s);
	close(ep);
	return 0;
}

__attribute__((visibility("default"))) int snippet_run(void)
{
	if (async_setup() != 0)
		return 1;
	ASYNC_STEP("fork: the child waits too, success");
	if (child_waits(PORT_OK(300), 0) != 0)
		return 1;
	ASYNC_STEP("fork: the child waits too, refused");
	if (child_waits(PORT_REP(2), EACCES) != 0 || child_closes() != 0)
		return 1;
	return async_blocking_ok();
}
