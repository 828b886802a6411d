/* What happens to UDP datagrams: to excluded peers they go direct; to all
 * others they go through the association (udpsock.c) with the RFC 1928
 * section 7 header; with SOCKS5WRAP_UDP=block they are refused. Replies
 * are accepted from the relay, or directly from excluded peers only. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#include "preload.h"
#include "s5_dns.h"
#include "s5_log.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
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

static int real_close_fn(int fd)
{
	return real.close(fd);
}

struct s5_udp_io s5_udp_io_real = {
	.sendmsg = real_sendmsg_fn,
	.recvmsg = real_recvmsg_fn,
	.recv = real_recv_fn,
	.close = real_close_fn,
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

/* The state of a datagram socket that sends to (or connects to) dst: an
 * existing one, or a new one for a UDP socket seen for the first time.
 * *r is S5_PASS when the socket is not ours at all, or -errno. */
static struct s5_udp_sock *sock_for(int fd, const struct sockaddr *dst,
				    socklen_t dlen, int *r)
{
	struct s5_udp_sock *s = s5_fd_udp_get(fd);
	struct s5_sock_info si;

	*r = S5_PASS;
	if (s != NULL)
		return s;
	if (dst == NULL || dlen < sizeof(sa_family_t) ||
	    (dst->sa_family != AF_INET && dst->sa_family != AF_INET6) ||
	    s5_sock_info(fd, &si) < 0 ||
	    (si.domain != AF_INET && si.domain != AF_INET6))
		return NULL;
	if (si.type == SOCK_DGRAM && (si.protocol == IPPROTO_UDP ||
				      si.protocol == IPPROTO_UDPLITE)) {
		s = s5_udp_sock_new(si.domain);
		if (s == NULL) {
			*r = -ENOMEM;
			return NULL;
		}
		/* Set before the first send; later changes come through
		 * s5_udp_setsockopt(). */
		atomic_store(&s->gso, gso_option(fd));
		/* One reference for the descriptor, one for this call. */
		s5_udp_sock_ref(s);
		if (s5_fd_set_udp(fd, s) < 0)
			s5_udp_sock_put(s);
		return s;
	}
	if (si.type == SOCK_DGRAM || si.type == SOCK_RAW)
		*r = s5_refuse_other(dst, dlen, &si);
	return NULL;
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

/* Remembers that port leads to a fake address, to name the source of the
 * replies (the relay reports the address the proxy resolved). */
static void remember_named(struct s5_udp_sock *s, const struct sockaddr *dst,
			   socklen_t dlen, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < s->n_named; i++)
		if (s->named[i].port == port)
			goto store;
	if (s->n_named == sizeof(s->named) / sizeof(s->named[0]))
		return;
	i = s->n_named++;
store:
	s->named[i].port = port;
	memcpy(&s->named[i].fake, dst, dlen);
	s->named[i].len = dlen;
}

/* GSO sends one buffer that the kernel cuts into many datagrams; each
 * would need its own header, and only the first would get ours (the rest
 * would reach the relay as bare payload). Linux answers EIO when GSO
 * cannot be used, and programs that use it then fall back to plain sends.
 * A program asks for it per send (a control message) or for every send
 * (the socket option, which also applies to our own sendmsg). */
static bool wants_gso(const struct s5_udp_sock *s, const struct msghdr *msg)
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
	struct s5_addr target;
	bool fake;
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
	r = s5_udp_sock_ready(s, fd);
	if (r < 0)
		return r;
	if (fake)
		remember_named(s, dst, dlen, target.port);
	return s5_udp_send(&s->u, fd, &target, msg->msg_iov,
			   msg->msg_iovlen, flags, &s5_udp_io_real);
}

ssize_t s5_udp_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	const struct sockaddr *dst = msg->msg_name;
	socklen_t dlen = msg->msg_namelen;
	struct sockaddr_storage peer;
	struct s5_udp_sock *s;
	ssize_t r;
	int why;

	if (dst == NULL && s5_fd_kind(fd) != S5FD_UDP)
		return S5_PASS;
	s = sock_for(fd, dst, dlen, &why);
	if (s == NULL)
		return why;
	if (dst == NULL) {
		/* send()/write() on a socket connect()ed through the proxy
		 * goes to its virtual peer; any other is the kernel's. */
		if (!s->connected) {
			s5_udp_sock_put(s);
			return S5_PASS;
		}
		memcpy(&peer, &s->peer, s->peer_len);
		dlen = s->peer_len;
		dst = (const struct sockaddr *)&peer;
	}
	r = send_via_relay(s, fd, msg, flags, dst, dlen);
	s5_udp_sock_put(s);
	return r;
}

/* ---- receiving -------------------------------------------------------- */

static bool same_sockaddr(const struct sockaddr *a, const struct sockaddr *b)
{
	struct s5_addr x, y;

	if (s5_addr_from_sockaddr(&x, a, sizeof(struct sockaddr_storage)) < 0 ||
	    s5_addr_from_sockaddr(&y, b, sizeof(struct sockaddr_storage)) < 0)
		return false;
	return x.atyp == y.atyp && x.port == y.port &&
	       memcmp(&x.u, &y.u, x.atyp == S5_ATYP_IPV4 ? 4 : 16) == 0;
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
	unsigned int i;
	int len;

	/* A reply to a name: one name sent to on this port names it. First,
	 * because the proxy may have resolved the name to an address of the
	 * other family, which this socket could not show. */
	for (i = 0; i < s->n_named; i++)
		if (s->named[i].port == a.port &&
		    s->named[i].fake.ss_family == s->u.family) {
			memcpy(out, &s->named[i].fake, s->named[i].len);
			return s->named[i].len;
		}
	if (a.atyp == S5_ATYP_DOMAIN) {
		pool = s5_pool();
		if (pool == NULL ||
		    s5_pool_lookup(pool, a.u.dom.name, s5_now_s(), v4, v6) < 0)
			return 0;
		a.atyp = s->u.family == AF_INET ? S5_ATYP_IPV4 : S5_ATYP_IPV6;
		memcpy(a.atyp == S5_ATYP_IPV4 ? a.u.v4 : a.u.v6,
		       a.atyp == S5_ATYP_IPV4 ? v4 : v6,
		       a.atyp == S5_ATYP_IPV4 ? 4 : 16);
	}
	len = s5_addr_to_sockaddr(&a, s->u.family, out);
	return len > 0 ? (socklen_t)len : 0;
}

/* A socket connect()ed through the proxy accepts only its peer, as the
 * kernel would: the same address and port, or for a peer known by name
 * (the relay reports whatever address the proxy resolved) the same port. */
static bool from_peer(const struct s5_udp_sock *s, const struct s5_addr *src,
		      const struct sockaddr *shown)
{
	if (!s->connected)
		return true;
	if (s->peer_target.atyp == S5_ATYP_DOMAIN)
		return src->port == s->peer_target.port;
	return same_sockaddr(shown, (const struct sockaddr *)&s->peer);
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
static ssize_t recv_valid(struct s5_udp_sock *s, int fd, struct msghdr *msg,
			  int flags)
{
	struct sockaddr_storage shown;
	struct s5_udp_dgram d;
	size_t clen;
	socklen_t slen;
	ssize_t r;

	for (;;) {
		r = s5_udp_recv(&s->u, fd, msg->msg_iov, msg->msg_iovlen,
				msg->msg_control, msg->msg_controllen, &clen,
				flags, &d, &s5_udp_io_real);
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
			    from_peer(s, &d.src, (struct sockaddr *)&shown))
				break;
		}
		/* Not for the program: gone, also when it only peeked. */
		if (flags & MSG_PEEK)
			s5_udp_discard(fd, &s5_udp_io_real);
	}
	if (s->connected)
		/* The kernel shows a connected socket's peer as given. */
		give_name(msg, &s->peer, s->peer_len);
	else
		give_name(msg, &shown, slen);
	msg->msg_controllen = clen;
	msg->msg_flags = d.msg_flags;
	return r;
}

ssize_t s5_udp_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct s5_udp_sock *s = s5_fd_udp_get(fd);
	ssize_t r;

	if (s == NULL)
		return S5_PASS;
	/* Never associated: a plain UDP socket (it only talked to excluded
	 * peers so far), the kernel's business. */
	if (!s->associated) {
		s5_udp_sock_put(s);
		return S5_PASS;
	}
	r = recv_valid(s, fd, msg, flags);
	s5_udp_sock_put(s);
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

/* connect(AF_UNSPEC): the virtual peer goes. Linux also gives back a port
 * it picked by itself, and the next datagram would leave from a new one,
 * which the relay does not accept (RFC 1928 section 7: it relays for the
 * client's address and port). So the socket takes its port back; if that
 * is not possible, the association goes and the next send makes one. */
static int udp_disconnect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct s5_udp_sock *s = s5_fd_udp_get(fd);
	struct sockaddr_storage before, after;
	socklen_t blen = sizeof(before), alen = sizeof(after);
	bool had;
	int r = 0;

	if (s == NULL)
		return S5_PASS;
	had = getsockname(fd, (struct sockaddr *)&before, &blen) == 0 &&
	      local_port(&before) != 0;
	if (real.connect(fd, sa, len) < 0) {
		r = -errno;
		goto out;
	}
	s5_udp_lock();
	s->connected = false;
	s5_udp_unlock();
	if (!had || !s->associated ||
	    (getsockname(fd, (struct sockaddr *)&after, &alen) == 0 &&
	     local_port(&after) == local_port(&before)))
		goto out;
	blen = any_with_port(&before);
	if (bind(fd, (struct sockaddr *)&before, blen) < 0)
		s5_udp_sock_drop_assoc(s);
out:
	s5_udp_sock_put(s);
	return r;
}

/* connect() through the proxy: the association, then the socket itself is
 * connected to the relay (the kernel then delivers only the relay's
 * datagrams), and the program's peer becomes virtual. */
static int connect_via_relay(struct s5_udp_sock *s, int fd,
			     const struct sockaddr *sa, socklen_t len,
			     const struct s5_addr *target)
{
	int r;

	if (udp_blocked())
		return -EPERM;
	if (!s5_proxy_ready()) {
		s5_report_config_error();
		return -ECONNREFUSED;
	}
	r = s5_udp_sock_ready(s, fd);
	if (r < 0)
		return r;
	if (real.connect(fd, (struct sockaddr *)&s->u.relay,
			 s->u.relay_len) < 0)
		return -errno;
	s5_udp_lock();
	memcpy(&s->peer, sa, len);
	s->peer_len = len;
	s->peer_target = *target;
	s->connected = true;
	s5_udp_unlock();
	return 0;
}

int s5_udp_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct s5_udp_sock *s;
	struct s5_addr target;
	bool fake;
	int r;

	if (sa->sa_family == AF_UNSPEC)
		return udp_disconnect(fd, sa, len);
	s = sock_for(fd, sa, len, &r);
	if (s == NULL)
		return r;
	r = s5_route_dst(sa, len, &target, &fake);
	if (r == S5_PASS) {
		/* A direct peer: the kernel connects; no virtual peer. */
		s5_udp_lock();
		s->connected = false;
		s5_udp_unlock();
	} else if (r == 0) {
		r = connect_via_relay(s, fd, sa, len, &target);
	}
	s5_udp_sock_put(s);
	return r;
}

void s5_udp_setsockopt(int fd, int level, int name)
{
	struct s5_udp_sock *s;

	if (level != SOL_UDP || name != UDP_SEGMENT)
		return;
	/* A socket without state yet reads the option when it gets one. */
	s = s5_fd_udp_get(fd);
	if (s == NULL)
		return;
	atomic_store(&s->gso, gso_option(fd));
	s5_udp_sock_put(s);
}

bool s5_udp_peer(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct s5_udp_sock *s = s5_fd_udp_get(fd);
	bool ok = false;

	if (s == NULL)
		return false;
	s5_udp_lock();
	if (s->connected) {
		memcpy(peer, &s->peer, s->peer_len);
		*len = s->peer_len;
		ok = true;
	}
	s5_udp_unlock();
	s5_udp_sock_put(s);
	return ok;
}
