/* One UDP association: where the relay is, and whether the control
 * connection that keeps it alive is still open (RFC 1928 section 7).
 */
#include <errno.h>
#include <string.h>

#include "s5_udp.h"
#include "udp_internal.h"

void s5_udp_init(struct s5_udp *u, int family)
{
	memset(u, 0, sizeof(*u));
	u->family = family;
	u->ctl_fd = -1;
	u->hdr_guess = S5_UDP_GUESS_INIT;
}

static bool is_v4mapped(const uint8_t v6[16])
{
	static const uint8_t prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	return memcmp(v6, prefix, sizeof(prefix)) == 0;
}

/* IPv4, written either way. */
static bool is_ipv4(const struct s5_addr *a)
{
	return a->atyp == S5_ATYP_IPV4 ||
	       (a->atyp == S5_ATYP_IPV6 && is_v4mapped(a->u.v6));
}

/* 0.0.0.0, :: or ::ffff:0.0.0.0. */
static bool is_unspecified(const struct s5_addr *a)
{
	static const uint8_t zero[16];

	if (a->atyp == S5_ATYP_IPV4)
		return memcmp(a->u.v4, zero, 4) == 0;
	if (is_v4mapped(a->u.v6))
		return memcmp(a->u.v6 + 12, zero, 4) == 0;
	return memcmp(a->u.v6, zero, 16) == 0;
}

int s5_udp_set_relay(struct s5_udp *u, const struct s5_addr *bound,
		     const struct sockaddr *proxy, socklen_t proxy_len,
		     bool v6only)
{
	struct sockaddr_storage ss;
	struct s5_addr a;
	int n;

	/* Section 7: datagrams go to BND.ADDR:BND.PORT of the reply. We can
	 * only send to an address, and port 0 is nowhere. */
	if ((bound->atyp != S5_ATYP_IPV4 && bound->atyp != S5_ATYP_IPV6) ||
	    bound->port == 0)
		return -EPROTO;
	a = *bound;
	/* Servers behind one address (dante with "external: 0.0.0.0", ssh
	 * -D) answer with the unspecified address: the relay is then on the
	 * host we already talk to. */
	if (is_unspecified(&a)) {
		n = s5_addr_from_sockaddr(&a, proxy, proxy_len);
		if (n < 0)
			return n;
		a.port = bound->port;
	}
	/* An IPV6_V6ONLY socket cannot reach an IPv4 relay, not even as
	 * ::ffff:a.b.c.d. */
	if (u->family == AF_INET6 && v6only && is_ipv4(&a))
		return -EAFNOSUPPORT;
	n = s5_addr_to_sockaddr(&a, u->family, &ss);
	if (n < 0)
		return n;
	memcpy(&u->relay, &ss, sizeof(ss));
	u->relay_len = (socklen_t)n;
	return 0;
}

int s5_udp_discard(int fd, const struct s5_udp_io *io)
{
	uint8_t byte;
	ssize_t r;

	/* A one-byte buffer takes the whole datagram off the queue (UDP
	 * drops the rest); MSG_TRUNC only makes the length visible, and
	 * MSG_DONTWAIT keeps us from waiting for another datagram if a
	 * thread of the program took this one meanwhile. */
	do
		r = io->recv(fd, &byte, 1, MSG_TRUNC | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* A non-blocking peek at the control connection. The server sends nothing
 * after its reply (section 6), so we read what it may send anyway: bytes
 * left in the queue would hide a later end of file from the peek. */
static bool ctl_open(int fd, const struct s5_udp_io *io)
{
	uint8_t junk[64];
	ssize_t r;

	r = io->recv(fd, junk, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r > 0) {
		(void)io->recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		return true;
	}
	if (r == 0)
		return false;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

bool s5_udp_alive(struct s5_udp *u, const struct s5_udp_io *io)
{
	int saved = errno;
	int fd = __atomic_load_n(&u->ctl_fd, __ATOMIC_ACQUIRE);
	int64_t now, last;
	bool open;

	if (fd < 0)
		return false;
	/* Section 7: the association ends when the control connection
	 * does. Checking costs a system call, so at most every
	 * S5_UDP_CHECK_MS, and by one thread at a time: the one that moves
	 * checked_ms on does the check; the others take the connection as
	 * alive meanwhile, as they do between two checks. */
	now = io->now_ms();
	last = __atomic_load_n(&u->checked_ms, __ATOMIC_RELAXED);
	if (now - last < S5_UDP_CHECK_MS ||
	    !__atomic_compare_exchange_n(&u->checked_ms, &last, now, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return true;
	open = ctl_open(fd, io);
	/* Closed only if it is still the one checked: another thread may
	 * have closed it (and a new association may have taken its place)
	 * meanwhile. */
	if (!open && __atomic_compare_exchange_n(&u->ctl_fd, &fd, -1, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
		(void)io->close(fd);
	/* The hooks leave errno alone on success: EAGAIN is not news. */
	errno = saved;
	return open;
}

void s5_udp_close(struct s5_udp *u, const struct s5_udp_io *io)
{
	int saved = errno;
	/* Taken, so that two threads closing at once close it once. */
	int fd = __atomic_exchange_n(&u->ctl_fd, -1, __ATOMIC_ACQ_REL);

	if (fd >= 0)
		(void)io->close(fd);
	errno = saved;
}
