/* The supervisor's event loop.
 *
 * One poll() over: the seccomp listener (a caught call to receive), a
 * signalfd (children that ended, signals to pass on to the program), the
 * DNS responder's sockets and forwarded queries, and every pending
 * operation's descriptor (a handshake with the proxy, a direct connect on
 * a blocking socket). Each operation carries its own deadline, so a slow
 * proxy delays only the call that waits for it.
 *
 * The loop ends when the program has ended and no process is left in its
 * tree: the supervisor is a child subreaper, so orphaned descendants
 * become its children, and waitpid() telling ECHILD means none is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "s5_log.h"
#include "sup.h"

int s5s_op_add(struct sup *s, struct s5s_op *op)
{
	if (s->n_ops == s->cap_ops) {
		size_t cap = s->cap_ops ? s->cap_ops * 2 : 16;
		struct s5s_op **n = realloc(s->ops, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->ops = n;
		s->cap_ops = cap;
	}
	s->ops[s->n_ops++] = op;
	return 0;
}

static void op_remove(struct sup *s, struct s5s_op *op)
{
	size_t i;

	for (i = 0; i < s->n_ops; i++)
		if (s->ops[i] == op) {
			s->ops[i] = s->ops[--s->n_ops];
			return;
		}
}

void s5s_op_finish(struct sup *s, struct s5s_op *op, int err, int64_t val)
{
	op_remove(s, op);
	if (op->saved_fl >= 0)
		(void)fcntl(op->call.fd, F_SETFL, op->saved_fl);
	s5s_answer(s, &op->call, err, val);
	if (op->call.fd >= 0)
		close(op->call.fd);
	s5_hs_wipe(&op->hs);
	free(op->data);
	free(op);
}

static void log_proxy_outcome(struct s5s_op *op, int r)
{
	s5_tcp_log_outcome(&op->hs.dst, (struct sockaddr *)&op->proxy,
			   op->plen, &op->hs, r, s5_now_ms() - op->t0);
}

/* A handshake that failed: the next proxy of a failover list when this
 * one was not there; else the socket may be connected to the proxy with
 * the exchange half done: shut it down so nothing the program writes next
 * reaches the proxy as raw bytes. Returns true when op is finished. */
static bool proxy_failed(struct sup *s, struct s5s_op *op, int r)
{
	if (s5s_proxy_next(s, op, r))
		return false;
	log_proxy_outcome(op, r);
	shutdown(op->call.fd, SHUT_RDWR);
	s5s_op_finish(s, op, -r, 0);
	return true;
}

static int so_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

bool s5s_op_step(struct sup *s, struct s5s_op *op, short revents)
{
	int fd = op->call.fd;
	ssize_t n;
	int r;

	if (op->kind == S5S_OP_PROXY) {
		r = s5_hs_step(&op->hs, fd, &s5_io_libc);
		if (r == -EAGAIN && (revents & (POLLERR | POLLHUP | POLLNVAL)))
			r = s5_hs_poll_failed(&op->hs, fd, &s5_io_libc,
					      revents);
		if (r == -EAGAIN) {
			op->want = op->hs.want;
			return false;
		}
		if (r < 0)
			return proxy_failed(s, op, r);
		s5_try_alive(&op->try);
		log_proxy_outcome(op, 0);
		s5s_peers_put(&s->peers, fd, (struct sockaddr *)&op->dst,
			      op->dlen, (struct sockaddr *)&op->proxy,
			      op->plen);
	} else if (op->want == POLLOUT) {
		struct pollfd p = { fd, POLLOUT, 0 };

		if (poll(&p, 1, 0) == 0)
			return false;
		r = so_error(fd);
		if (r) {
			s5s_op_finish(s, op, r, 0);
			return true;
		}
	}
	if (!op->data) {
		s5s_op_finish(s, op, 0, 0);
		return true;
	}
	/* MSG_FASTOPEN's data now that the connection is there, or a TCP
	 * send that waited for room. */
	n = send(fd, op->data, op->data_len,
		 op->send_flags | MSG_DONTWAIT | MSG_NOSIGNAL);
	r = n < 0 ? errno : 0;
	if (r == EPIPE)
		s5s_sigpipe(s, &op->call, op->send_flags);
	s5s_op_finish(s, op, r, n);
	return true;
}

static void expire_ops(struct sup *s, int64_t now)
{
	size_t i = 0;

	while (i < s->n_ops) {
		struct s5s_op *op = s->ops[i];

		if (op->deadline < 0 || now < op->deadline) {
			i++;
			continue;
		}
		/* op leaves the list (the same i holds another next), or
		 * goes on with the next proxy and a fresh deadline. */
		if (!proxy_failed(s, op, s5_hs_expire(&op->hs)))
			i++;
	}
}

static int64_t next_deadline(const struct sup *s)
{
	int64_t d = -1;
	size_t i;

	for (i = 0; i < s->n_ops; i++)
		if (s->ops[i]->deadline >= 0 &&
		    (d < 0 || s->ops[i]->deadline < d))
			d = s->ops[i]->deadline;
	for (i = 0; i < S5S_FWD_MAX; i++)
		if (s->dns.fwd[i].fd >= 0 &&
		    (d < 0 || s->dns.fwd[i].deadline < d))
			d = s->dns.fwd[i].deadline;
	return d;
}

/* One caught call. */
static void receive(struct sup *s)
{
	struct seccomp_notif *req = s->req;
	struct s5s_call c;

	memset(req, 0, s->req_size);
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
		return; /* ENOENT: the caller went away meanwhile */
	memset(&c, 0, sizeof(c));
	c.id = req->id;
	c.tid = (pid_t)req->pid;
	c.nr = req->data.nr;
	memcpy(c.args, req->data.args, sizeof(c.args));
	s5s_handle(s, &c);
}

static void reap(struct sup *s, bool *none_left)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG | __WALL);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0) {
			*none_left = errno == ECHILD;
			return;
		}
		if (p == 0)
			return;
		if (p == s->child) {
			s->child_done = true;
			s->child_status = st;
		}
	}
}

/* Signals sent to the launcher go on to the program; those the terminal
 * sends (SI_KERNEL) reached the program's process group already. */
static void take_signals(struct sup *s, bool *none_left)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(s, none_left);
			continue;
		}
		if (si.ssi_code != SI_KERNEL && !s->child_done)
			kill(s->child, (int)si.ssi_signo);
	}
}

static int exit_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 125;
}

/* The fixed slots of the poll array. */
enum { P_LISTENER, P_SIGNALS, P_DNS4, P_DNS6, P_FIXED };

int s5s_loop(struct sup *s)
{
	struct pollfd *pf = NULL;
	struct s5s_op **polled = NULL;
	bool none_left = false;
	size_t cap = 0;

	reap(s, &none_left);
	while (!(s->child_done && none_left)) {
		size_t n = P_FIXED, i, nf, base;
		int64_t d = next_deadline(s), now;
		int timeout = -1;

		if (cap < P_FIXED + S5S_FWD_MAX + s->n_ops) {
			size_t c2 = P_FIXED + S5S_FWD_MAX + s->n_ops + 64;
			struct pollfd *np = realloc(pf, c2 * sizeof(*np));
			struct s5s_op **no = np ? realloc(polled,
							  c2 * sizeof(*no))
						: NULL;

			if (np)
				pf = np;
			if (!no) {
				/* Keep serving what fits; try again next
				 * round. */
				s5log_msg(S5LOG_ERROR, "supervisor: out of "
					  "memory", NULL);
				sleep(1);
				continue;
			}
			polled = no;
			cap = c2;
		}
		pf[P_LISTENER] = (struct pollfd){
			s->listener_hup ? -1 : s->listener, POLLIN, 0 };
		pf[P_SIGNALS] = (struct pollfd){ s->sigfd, POLLIN, 0 };
		pf[P_DNS4] = (struct pollfd){ s->dns.fd4, POLLIN, 0 };
		pf[P_DNS6] = (struct pollfd){ s->dns.fd6, POLLIN, 0 };
		for (i = 0; i < S5S_FWD_MAX; i++)
			pf[n++] = (struct pollfd){ s->dns.fwd[i].fd, POLLIN, 0 };
		base = n;
		for (i = 0; i < s->n_ops; i++) {
			polled[i] = s->ops[i];
			pf[n++] = (struct pollfd){ s->ops[i]->call.fd,
						   s->ops[i]->want, 0 };
		}
		nf = n;
		if (d >= 0) {
			now = s5_now_ms();
			timeout = d <= now ? 0
					   : (d - now > 60000 ? 60000
							      : (int)(d - now));
		}
		if (poll(pf, nf, timeout) < 0) {
			if (errno != EINTR)
				sleep(1);
			continue;
		}
		if (pf[P_SIGNALS].revents)
			take_signals(s, &none_left);
		/* The listener hangs up when no supervised task is left. */
		if (pf[P_LISTENER].revents & POLLIN)
			receive(s);
		else if (pf[P_LISTENER].revents & (POLLHUP | POLLERR))
			s->listener_hup = true;
		if (pf[P_DNS4].revents & POLLIN)
			s5s_dns_serve(s, s->dns.fd4);
		if (pf[P_DNS6].revents & POLLIN)
			s5s_dns_serve(s, s->dns.fd6);
		for (i = 0; i < S5S_FWD_MAX; i++)
			if (pf[P_FIXED + i].revents && s->dns.fwd[i].fd >= 0)
				s5s_dns_fwd_ready(s, &s->dns.fwd[i]);
		for (i = base; i < nf; i++)
			if (pf[i].revents)
				(void)s5s_op_step(s, polled[i - base],
						  pf[i].revents);
		now = s5_now_ms();
		expire_ops(s, now);
		s5s_dns_fwd_expire(s, now);
	}
	free(pf);
	free(polled);
	return exit_status(s->child_status);
}
