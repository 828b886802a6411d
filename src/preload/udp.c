/* What happens to UDP datagrams (udp.h): to excluded peers they go
 * direct; to all others they go through the socket's association
 * (udpsock.c) with the RFC 1928 section 7 header; with
 * SOCKS5WRAP_UDP=block they are refused. Replies are accepted from the
 * relay, or directly from excluded peers only. Any other kind of socket
 * (raw, ICMP, SCTP...) that sends to a proxied destination is refused. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <string.h>

#include "conf.h"
#include "fork.h"
#include "hook.h"
#include "names.h"
#include "udp.h"
#include "udpsock.h"
#include "s5_dns.h"
#include "s5_log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static ssize_t real_sendmsg_fn(int fd, const struct msghdr *m, int flags)
{
	return real.sendmsg(fd, m, flags);
}

static ssize_t real_recvmsg_fn(int fd, struct msghdr *m, int flags)
{
	return real.recvmsg(fd, m, flags);
}

static ssize_t real_recv_fn(int fd, void *buf, size_t len, int flags)
{
	return real.recv(fd, buf, len, flags);
}

/* The udp layer's seam, made of the real libc functions. */
static const struct s5_udp_io io_real = {
	.sendmsg = real_sendmsg_fn,
	.recvmsg = real_recvmsg_fn,
	.recv = real_recv_fn,
	.now_ms = s5_now_ms,
};

/* ---- which sockets ---------------------------------------------------- */

/* The socket's UDP_SEGMENT option: the segment size, or 0 when GSO is off
 * (or the kernel predates the option). */
static int gso_option(int fd)
{
	socklen_t len = sizeof(int);
	int v = 0;

	if (real.getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) < 0)
		return 0;
	return v;
}

/* What an existing state says about its socket. */
static void info_of(const struct s5_udp_sock *s, struct s5_sock_info *si)
{
	si->domain = s->family;
	si->type = SOCK_DGRAM;
	si->protocol = IPPROTO_UDP;
}

/* The state of a datagram socket that sends to (or connects to) a
 * destination: an existing one, or a new one for a UDP socket seen for
 * the first time. NULL with *r = S5_PASS when the socket is not the
 * library's business (not an internet socket, a TCP socket), or with
 * *r = -errno; *si describes the socket in any case. */
/* Serialises making a socket's state, so that two threads sending first
 * on one new socket share one state (and one association) rather than
 * each make their own. Lock order: create_lock, then s5_udp_lock (a
 * stale entry dropped here may end an association). */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static struct s5_udp_sock *sock_new_locked(int fd, int domain, int *r)
{
	struct s5_udp_sock *s = s5_udp_sock_get(fd);
	struct s5_obj *same;

	if (s != NULL)
		return s; /* another thread was first */
	/* A copy made before the socket had state has it now: one socket,
	 * one state and one association, whichever copy sends first. */
	same = s5_fd_find_same(fd, S5FD_UDP);
	if (same != NULL) {
		(void)s5_obj_ref(same); /* one is held: cannot fail */
		(void)s5_fd_attach(fd, S5FD_UDP, same);
		return (struct s5_udp_sock *)same;
	}
	s = s5_udp_sock_new(domain);
	if (s == NULL) {
		*r = -ENOMEM;
		return NULL;
	}
	/* Set before the first send; later changes come through
	 * s5_udp_setsockopt(). */
	atomic_store(&s->gso, gso_option(fd));
	/* One reference for the descriptor, one for this call. */
	s5_obj_ref(&s->obj);
	(void)s5_fd_attach(fd, S5FD_UDP, &s->obj);
	return s;
}

static struct s5_udp_sock *sock_for(int fd, struct s5_sock_info *si, int *r)
{
	struct s5_udp_sock *s = s5_udp_sock_get(fd);

	*r = S5_PASS;
	if (s != NULL) {
		info_of(s, si);
		return s;
	}
	if (s5_sock_info(fd, si) < 0)
		si->domain = AF_UNSPEC; /* not a socket: the kernel's */
	if (!s5_sock_is_udp(si))
		return NULL;
	pthread_mutex_lock(&create_lock);
	s = sock_new_locked(fd, si->domain, r);
	pthread_mutex_unlock(&create_lock);
	return s;
}

/* A socket the library does not carry (raw, ICMP, SCTP, any non-UDP
 * datagram socket) sending to dst: S5_PASS or the refusal. TCP reads no
 * address from a send (Fast Open has its own path); sockets of other
 * domains, and descriptors that are no sockets, are the kernel's. */
static int other_send(int fd, const struct s5_sock_info *si,
		      const struct sockaddr *dst, socklen_t dlen)
{
	struct sockaddr_storage d;
	socklen_t dl;
	int r;

	if (dst == NULL || (si->domain != AF_INET && si->domain != AF_INET6) ||
	    si->type == SOCK_STREAM)
		return S5_PASS;
	r = s5_dst_read(fd, si, false, dst, dlen, &d, &dl);
	if (r != S5_DST_ADDR)
		return r == S5_DST_NONE ? S5_PASS : r;
	return s5_refuse_other((struct sockaddr *)&d, dl, si);
}

static bool udp_blocked(void)
{
	if (s5_cfg.udp == S5_UDP_BLOCK) {
		s5log_msg(S5LOG_INFO,
			  "udp datagram refused (SOCKS5WRAP_UDP=block)", NULL);
		return true;
	}
	return false;
}

/* dst as the socket's family shows it (an IPv4 address on an IPv6 socket
 * as IPv4-mapped, as the kernel does). Returns the length, or 0. */
static socklen_t in_family(const struct sockaddr *dst, socklen_t dlen,
			   int family, struct sockaddr_storage *out)
{
	struct s5_addr a;
	int n;

	if (dst->sa_family == family) {
		memcpy(out, dst, dlen);
		return dlen;
	}
	if (s5_addr_from_sockaddr(&a, dst, dlen) < 0)
		return 0;
	n = s5_addr_to_sockaddr(&a, family, out);
	return n > 0 ? (socklen_t)n : 0;
}

/* Remembers that port leads to a fake address, to name the source of the
 * replies (the relay reports the address the proxy resolved). */
static void remember_named(struct s5_udp_sock *s, const struct sockaddr *dst,
			   socklen_t dlen, uint16_t port)
{
	struct sockaddr_storage shown;
	socklen_t len = in_family(dst, dlen, s->family, &shown);
	int i, n;

	if (len == 0)
		return;
	s5_udp_lock();
	n = atomic_load(&s->n_named);
	for (i = 0; i < n; i++)
		if (s->named[i].port == port)
			break;
	if (i < (int)(sizeof(s->named) / sizeof(s->named[0]))) {
		s->named[i].port = port;
		memcpy(&s->named[i].fake, &shown, len);
		s->named[i].len = len;
		if (i == n)
			atomic_store(&s->n_named, n + 1);
	}
	s5_udp_unlock();
}

/* GSO sends one buffer that the kernel cuts into many datagrams; each
 * would need its own header, and only the first would get ours (the rest
 * would reach the relay as bare payload). Linux answers EIO when GSO
 * cannot be used, and programs that use it then fall back to plain sends.
 * A program asks for it per send (a control message) or for every send
 * (the socket option, which also applies to our own sendmsg). */
static bool wants_gso(struct s5_udp_sock *s, const struct msghdr *msg)
{
	struct cmsghdr *c;

	if (atomic_load_explicit(&s->gso, memory_order_relaxed) != 0)
		return true;
	if (msg->msg_control == NULL)
		return false;
	for (c = CMSG_FIRSTHDR(msg); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)msg, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT)
			return true;
	return false;
}

/* ---- sending ---------------------------------------------------------- */

static ssize_t send_via_relay(struct s5_udp_sock *s, int fd,
			      const struct msghdr *msg, int flags,
			      const struct sockaddr *dst, socklen_t dlen)
{
	struct s5_udp_assoc *a;
	struct s5_addr target;
	bool fake;
	ssize_t n;
	int r = s5_route_dst(dst, dlen, &target, &fake);

	if (r != 0)
		return r;
	if (udp_blocked())
		return -EPERM;
	if (!s5_proxy_ready()) {
		s5_report_config_error();
		return -ECONNREFUSED;
	}
	if (wants_gso(s, msg))
		return -EIO;
	a = s5_udp_sock_ready(s, fd, &r);
	if (a == NULL)
		return r;
	if (fake)
		remember_named(s, dst, dlen, target.port);
	n = s5_udp_send(&a->u, fd, &target, msg->msg_iov, msg->msg_iovlen,
			flags, &io_real);
	s5_obj_put(&a->obj);
	return n;
}

/* The virtual peer, copied under the lock; false when not connected
 * through the proxy. */
static bool peer_of(struct s5_udp_sock *s, struct sockaddr_storage *peer,
		    socklen_t *len, struct s5_addr *target)
{
	bool ok;

	if (!atomic_load(&s->connected))
		return false;
	s5_udp_lock();
	ok = s->connected;
	if (ok) {
		memcpy(peer, &s->peer, s->peer_len);
		*len = s->peer_len;
		if (target != NULL)
			*target = s->peer_target;
	}
	s5_udp_unlock();
	return ok;
}

static bool same_sockaddr(const struct sockaddr *a, const struct sockaddr *b)
{
	struct s5_addr x, y;

	if (s5_addr_from_sockaddr(&x, a, sizeof(struct sockaddr_storage)) < 0 ||
	    s5_addr_from_sockaddr(&y, b, sizeof(struct sockaddr_storage)) < 0)
		return false;
	return x.atyp == y.atyp && x.port == y.port &&
	       memcmp(&x.u, &y.u, x.atyp == S5_ATYP_IPV4 ? 4 : 16) == 0;
}

/* send() without an address on a socket without a virtual peer. The
 * datagram goes where the kernel's peer is, but named: another thread may
 * connect the socket through the proxy at any moment, which makes the
 * relay the kernel's peer, and a datagram must never reach the relay
 * without a header. A peer that came meanwhile takes the datagram through
 * the relay; a socket whose kernel peer is still the relay has just been
 * disconnected (connect(AF_UNSPEC)) and has no peer, as the kernel says;
 * any other peer is one the socket was connected to directly (an excluded
 * one) or outside the library, and is routed as if named. */
static ssize_t send_to_kernel_peer(struct s5_udp_sock *s, int fd,
				   const struct msghdr *msg, int flags)
{
	struct sockaddr_storage kp, vp;
	socklen_t kl = sizeof(kp), vl;
	struct s5_udp_assoc *a;
	struct msghdr named;
	bool relay;
	ssize_t r;

	if (real.getpeername(fd, (struct sockaddr *)&kp, &kl) < 0)
		return errno == ENOTCONN ? -EDESTADDRREQ : -errno;
	if (peer_of(s, &vp, &vl, NULL))
		return send_via_relay(s, fd, msg, flags, (struct sockaddr *)&vp,
				      vl);
	a = s5_udp_sock_assoc(s);
	relay = a != NULL && same_sockaddr((struct sockaddr *)&kp,
					   (struct sockaddr *)&a->u.relay);
	if (a != NULL)
		s5_obj_put(&a->obj);
	if (relay)
		return -EDESTADDRREQ;
	r = send_via_relay(s, fd, msg, flags, (struct sockaddr *)&kp, kl);
	if (r != S5_PASS)
		return r;
	named = *msg;
	named.msg_name = &kp;
	named.msg_namelen = kl;
	r = real.sendmsg(fd, &named, flags);
	return r < 0 ? -errno : r;
}

ssize_t s5_udp_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct sockaddr_storage d;
	struct s5_udp_sock *s;
	struct s5_sock_info si;
	socklen_t dl = 0;
	ssize_t r;
	int why;

	if (msg->msg_name == NULL && s5_fd_kind(fd) != S5FD_UDP)
		return S5_PASS;
	s = sock_for(fd, &si, &why);
	if (s == NULL)
		return why != S5_PASS ? why
				      : other_send(fd, &si, msg->msg_name,
						   msg->msg_namelen);
	r = s5_dst_read(fd, &si, false, msg->msg_name, msg->msg_namelen, &d,
			&dl);
	/* No address: send()/write() on a socket connect()ed through the
	 * proxy goes to its virtual peer; any other to the kernel's. */
	if (r == S5_DST_NONE && !peer_of(s, &d, &dl, NULL))
		r = send_to_kernel_peer(s, fd, msg, flags);
	else if (r == S5_DST_ADDR || r == S5_DST_NONE)
		r = send_via_relay(s, fd, msg, flags, (struct sockaddr *)&d,
				   dl);
	s5_obj_put(&s->obj);
	return r;
}

/* ---- receiving -------------------------------------------------------- */

/* A name sent to on this port: its fake address, shown as the source. */
static socklen_t named_source(struct s5_udp_sock *s, uint16_t port,
			      struct sockaddr_storage *out)
{
	socklen_t len = 0;
	int i, n;

	if (atomic_load(&s->n_named) == 0)
		return 0;
	s5_udp_lock();
	n = atomic_load(&s->n_named);
	for (i = 0; i < n; i++)
		if (s->named[i].port == port) {
			memcpy(out, &s->named[i].fake, s->named[i].len);
			len = s->named[i].len;
			break;
		}
	s5_udp_unlock();
	return len;
}

/* The source the program sees, in the socket's family: an address as
 * the relay reported it, a name as its fake address. Returns the length,
 * or 0 when it cannot be shown in this family (then the datagram goes). */
static socklen_t show_source(struct s5_udp_sock *s, const struct s5_addr *src,
			     struct sockaddr_storage *out)
{
	struct s5_addr a = *src;
	uint8_t v4[4], v6[16];
	struct s5_pool *pool;
	socklen_t named;
	int len;

	/* A reply to a name: one name sent to on this port names it. First,
	 * because the proxy may have resolved the name to an address of the
	 * other family, which this socket could not show. */
	named = named_source(s, a.port, out);
	if (named > 0)
		return named;
	if (a.atyp == S5_ATYP_DOMAIN) {
		pool = s5_pool();
		if (pool == NULL ||
		    s5_pool_lookup(pool, a.u.dom.name, s5_now_s(), v4, v6) < 0)
			return 0;
		a.atyp = s->family == AF_INET ? S5_ATYP_IPV4 : S5_ATYP_IPV6;
		memcpy(a.atyp == S5_ATYP_IPV4 ? a.u.v4 : a.u.v6,
		       a.atyp == S5_ATYP_IPV4 ? v4 : v6,
		       a.atyp == S5_ATYP_IPV4 ? 4 : 16);
	}
	len = s5_addr_to_sockaddr(&a, s->family, out);
	return len > 0 ? (socklen_t)len : 0;
}

/* The virtual peer, if any, for one receive. */
struct peer_view {
	bool connected;
	struct sockaddr_storage peer;
	socklen_t len;
	struct s5_addr target;
};

/* A socket connect()ed through the proxy accepts only its peer, as the
 * kernel would: the same address and port, or for a peer known by name
 * (the relay reports whatever address the proxy resolved) the same port. */
static bool from_peer(const struct peer_view *p, const struct s5_addr *src,
		      const struct sockaddr *shown)
{
	if (!p->connected)
		return true;
	if (p->target.atyp == S5_ATYP_DOMAIN)
		return src->port == p->target.port;
	return same_sockaddr(shown, (const struct sockaddr *)&p->peer);
}

static void give_name(struct msghdr *msg, const struct sockaddr_storage *src,
		      socklen_t len)
{
	if (msg->msg_name == NULL)
		return;
	memcpy(msg->msg_name, src,
	       len < msg->msg_namelen ? len : msg->msg_namelen);
	msg->msg_namelen = len;
}

/* One datagram for the program, or -errno; datagrams that are not for it
 * are consumed and skipped (a blocking call waits for the next one, a
 * non-blocking one ends with EAGAIN). */
static ssize_t recv_valid(struct s5_udp_sock *s, struct s5_udp_assoc *a,
			  int fd, struct msghdr *msg, int flags)
{
	struct sockaddr_storage shown;
	struct s5_udp_dgram d;
	struct peer_view p;
	size_t clen;
	socklen_t slen;
	ssize_t r;

	p.connected = peer_of(s, &p.peer, &p.len, &p.target);
	for (;;) {
		r = s5_udp_recv(&a->u, fd, msg->msg_iov, msg->msg_iovlen,
				msg->msg_control, msg->msg_controllen, &clen,
				flags, &d, &io_real);
		if (r == -EBADMSG)
			continue;
		if (r < 0)
			return r;
		if (d.from == S5_UDP_FROM_OTHER) {
			if (s5_exclude_match_addr(&s5_cfg.exclude,
						  (struct sockaddr *)&d.src_raw,
						  d.src_raw_len)) {
				memcpy(&shown, &d.src_raw, d.src_raw_len);
				slen = d.src_raw_len;
				break;
			}
		} else {
			slen = show_source(s, &d.src, &shown);
			if (slen > 0 &&
			    from_peer(&p, &d.src, (struct sockaddr *)&shown))
				break;
		}
		/* Not for the program: gone, also when it only peeked. */
		if (flags & MSG_PEEK)
			s5_udp_discard(fd, &io_real);
	}
	if (p.connected)
		/* The kernel shows a connected socket's peer as given. */
		give_name(msg, &p.peer, p.len);
	else
		give_name(msg, &shown, slen);
	msg->msg_controllen = clen;
	msg->msg_flags = d.msg_flags;
	return r;
}

ssize_t s5_udp_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct s5_udp_sock *s = s5_udp_sock_get(fd);
	struct s5_udp_assoc *a = NULL;
	ssize_t r = S5_PASS;

	if (s == NULL)
		return S5_PASS;
	/* Never associated: a plain UDP socket (it only talked to excluded
	 * peers so far), the kernel's business. */
	if (atomic_load(&s->associated))
		a = s5_udp_sock_assoc(s);
	if (a != NULL) {
		r = recv_valid(s, a, fd, msg, flags);
		s5_obj_put(&a->obj);
	}
	s5_obj_put(&s->obj);
	return r;
}

/* ---- connect and peer ------------------------------------------------- */

static uint16_t local_port(const struct sockaddr_storage *ss)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	if (ss->ss_family == AF_INET) {
		memcpy(&s4, ss, sizeof(s4));
		return ntohs(s4.sin_port);
	}
	memcpy(&s6, ss, sizeof(s6));
	return ntohs(s6.sin6_port);
}

/* The wildcard address of ss's family with its port. */
static socklen_t any_with_port(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	uint16_t port = htons(local_port(ss));

	if (ss->ss_family == AF_INET) {
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = port;
		memcpy(ss, &s4, sizeof(s4));
		return sizeof(s4);
	}
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = port;
	memcpy(ss, &s6, sizeof(s6));
	return sizeof(s6);
}

static void set_disconnected(struct s5_udp_sock *s)
{
	s5_udp_lock();
	s->connected = false;
	s5_udp_unlock();
}

/* connect(AF_UNSPEC): the virtual peer goes. Linux also gives back a port
 * it picked by itself, and the next datagram would leave from a new one,
 * which the relay does not accept (RFC 1928 section 7: it relays for the
 * client's address and port). So the socket takes its port back; if that
 * is not possible, the association goes and the next send makes one. */
int s5_udp_disconnect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct s5_udp_sock *s = s5_udp_sock_get(fd);
	struct sockaddr_storage before, after;
	socklen_t blen = sizeof(before), alen = sizeof(after);
	bool had;
	int r = 0;

	if (s == NULL)
		return S5_PASS;
	had = real.getsockname(fd, (struct sockaddr *)&before, &blen) == 0 &&
	      local_port(&before) != 0;
	if (real.connect(fd, sa, len) < 0) {
		r = -errno;
		goto out;
	}
	set_disconnected(s);
	if (!had || !atomic_load(&s->associated) ||
	    (real.getsockname(fd, (struct sockaddr *)&after, &alen) == 0 &&
	     local_port(&after) == local_port(&before)))
		goto out;
	blen = any_with_port(&before);
	if (real.bind(fd, (struct sockaddr *)&before, blen) < 0)
		s5_udp_sock_drop_assoc(s);
out:
	s5_obj_put(&s->obj);
	return r;
}

/* connect() through the proxy: the association, then the socket itself is
 * connected to the relay (the kernel then delivers only the relay's
 * datagrams), and the program's peer becomes virtual. */
static int connect_via_relay(struct s5_udp_sock *s, int fd,
			     const struct sockaddr *dst, socklen_t dlen,
			     const struct s5_addr *target)
{
	struct sockaddr_storage shown;
	struct s5_udp_assoc *a;
	socklen_t slen = in_family(dst, dlen, s->family, &shown);
	int r;

	if (udp_blocked())
		return -EPERM;
	if (!s5_proxy_ready()) {
		s5_report_config_error();
		return -ECONNREFUSED;
	}
	if (slen == 0)
		return -EAFNOSUPPORT;
	a = s5_udp_sock_ready(s, fd, &r);
	if (a == NULL)
		return r;
	/* The virtual peer first: once the kernel's peer is the relay, a
	 * send() without an address must already find it, or it would
	 * reach the relay without a header. */
	s5_udp_lock();
	memcpy(&s->peer, &shown, slen);
	s->peer_len = slen;
	s->peer_target = *target;
	s->connected = true;
	s5_udp_unlock();
	r = real.connect(fd, (struct sockaddr *)&a->u.relay, a->u.relay_len);
	r = r < 0 ? -errno : 0;
	s5_obj_put(&a->obj);
	if (r < 0)
		set_disconnected(s);
	return r;
}

int s5_udp_connect(int fd, const struct sockaddr *dst, socklen_t dlen)
{
	struct s5_sock_info known;
	struct s5_udp_sock *s;
	struct s5_addr target;
	bool fake;
	int r;

	s = sock_for(fd, &known, &r);
	if (s == NULL)
		return r;
	r = s5_route_dst(dst, dlen, &target, &fake);
	if (r == S5_PASS)
		/* A direct peer: the kernel connects; no virtual peer. */
		set_disconnected(s);
	else if (r == 0)
		r = connect_via_relay(s, fd, dst, dlen, &target);
	s5_obj_put(&s->obj);
	return r;
}

void s5_udp_setsockopt(int fd, int level, int name)
{
	struct s5_udp_sock *s;

	if (level != SOL_UDP || name != UDP_SEGMENT)
		return;
	/* A socket without state yet reads the option when it gets one. */
	s = s5_udp_sock_get(fd);
	if (s == NULL)
		return;
	atomic_store(&s->gso, gso_option(fd));
	s5_obj_put(&s->obj);
}

bool s5_udp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct s5_udp_sock *s = s5_udp_sock_get(fd);
	bool ok;

	if (s == NULL)
		return false;
	ok = peer_of(s, peer, len, NULL);
	s5_obj_put(&s->obj);
	return ok;
}

__attribute__((constructor)) static void register_fork(void)
{
	s5_fork_lock(S5_FORK_UDP_NEW, &create_lock, NULL);
}
