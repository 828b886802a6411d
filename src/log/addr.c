/* Addresses in log lines: "192.0.2.1:80", "[2001:db8::1]:80", "name:80".
 * Written by hand because inet_ntop may use stdio internally, and text
 * from it would depend on nothing we control.
 */
#include <netinet/in.h>
#include <string.h>

#include "s5_log.h"
#include "s5_proto.h"

static void put_v4(struct s5log_line *l, const uint8_t ip[4])
{
	for (int i = 0; i < 4; i++) {
		if (i)
			s5log_str(l, ".");
		s5log_uint(l, ip[i]);
	}
}

static void put_hex16(struct s5log_line *l, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[4];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = digits[v & 0xf];
		v >>= 4;
	} while (v);
	s5log_strn(l, tmp + i, sizeof(tmp) - i);
}

/* RFC 5952 section 4.2: "::" replaces the longest run of two or more zero
 * groups, the first one on a tie. Sets *start and returns the run length
 * (0: no run). */
static int zero_run(const unsigned g[8], int *start)
{
	int best = 0, run = 0;

	for (int i = 0; i < 8; i++) {
		run = g[i] ? 0 : run + 1;
		if (run > best) {
			best = run;
			*start = i - run + 1;
		}
	}
	return best >= 2 ? best : 0;
}

/* ::ffff:a.b.c.d keeps the dotted IPv4 part (RFC 5952 section 5). */
static bool put_v4mapped(struct s5log_line *l, const uint8_t ip[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	if (memcmp(ip, prefix, sizeof(prefix)) != 0)
		return false;
	s5log_str(l, "::ffff:");
	put_v4(l, ip + 12);
	return true;
}

static void put_v6(struct s5log_line *l, const uint8_t ip[16])
{
	unsigned g[8];
	int start = 0, run;

	if (put_v4mapped(l, ip))
		return;
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)ip[2 * i] << 8 | ip[2 * i + 1];
	run = zero_run(g, &start);
	for (int i = 0; i < 8; i++) {
		if (run && i == start) {
			s5log_str(l, "::");
			i += run - 1;
			continue;
		}
		if (i && !(run && i == start + run))
			s5log_str(l, ":");
		put_hex16(l, g[i]);
	}
}

static void put_port(struct s5log_line *l, uint16_t port)
{
	s5log_str(l, ":");
	s5log_uint(l, port);
}

void s5log_sockaddr(struct s5log_line *l, const struct sockaddr *sa,
		    socklen_t len)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		put_v4(l, (const uint8_t *)&sin.sin_addr);
		put_port(l, ntohs(sin.sin_port));
	} else if (sa && sa->sa_family == AF_INET6 &&
		   len >= (socklen_t)sizeof(sin6)) {
		memcpy(&sin6, sa, sizeof(sin6));
		s5log_str(l, "[");
		put_v6(l, sin6.sin6_addr.s6_addr);
		s5log_str(l, "]");
		put_port(l, ntohs(sin6.sin6_port));
	} else {
		s5log_str(l, "?");
	}
}

/* A name comes from the program or the proxy: anything outside printable
 * ASCII is shown as '?'. */
static void put_name(struct s5log_line *l, const char *name, size_t len)
{
	char c;

	for (size_t i = 0; i < len; i++) {
		c = name[i];
		s5log_strn(l, (c >= 0x20 && c < 0x7f) ? &c : "?", 1);
	}
}

void s5log_s5addr(struct s5log_line *l, const struct s5_addr *a)
{
	if (!a) {
		s5log_str(l, "?");
		return;
	}
	switch (a->atyp) {
	case S5_ATYP_IPV4:
		put_v4(l, a->u.v4);
		break;
	case S5_ATYP_IPV6:
		s5log_str(l, "[");
		put_v6(l, a->u.v6);
		s5log_str(l, "]");
		break;
	case S5_ATYP_DOMAIN:
		put_name(l, a->u.dom.name, a->u.dom.name_len);
		break;
	default:
		s5log_str(l, "?");
		return;
	}
	put_port(l, a->port);
}

size_t s5_fmt_ip(char out[S5_IP_TEXT_MAX], int family, const uint8_t *addr)
{
	/* A line of its own, never written: the same digits as a log line
	 * without its prefix. */
	struct s5log_line l = { .level = S5LOG_ERROR };

	if (family == AF_INET)
		put_v4(&l, addr);
	else if (family == AF_INET6)
		put_v6(&l, addr);
	else
		s5log_str(&l, "?");
	if (l.len >= S5_IP_TEXT_MAX)
		l.len = S5_IP_TEXT_MAX - 1; /* cannot happen: 45 at most */
	memcpy(out, l.buf, l.len);
	out[l.len] = '\0';
	return l.len;
}

void s5log_unmapped(const struct s5_addr *a, const char *hint)
{
	struct s5log_line l;

	s5log_begin(&l, S5LOG_ERROR);
	s5log_str(&l, "connect ");
	s5log_s5addr(&l, a);
	s5log_str(&l, ": a fake address that no host name maps to (");
	s5log_str(&l, hint);
	s5log_str(&l, "); refused");
	s5log_end(&l);
}
