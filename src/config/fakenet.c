/* What a fake-address range must stay clear of.
 *
 * Every address inside SOCKS5WRAP_FAKE_NET / SOCKS5WRAP_FAKE_NET6 is taken
 * for a fake one, before any other rule: a connect there goes to the proxy
 * by name or fails with EHOSTUNREACH. A range that covers loopback would
 * therefore break every local connection, one that covers the proxy would
 * leave the library unable to reach it, and one that covers an exclusion
 * entry would make that entry unreachable. Such a range is a configuration
 * error, reported like any other bad value.
 *
 * A lone "*" in curl's NO_PROXY (struct s5_exclude's all) is no entry to
 * stay clear of: with it every name is excluded, so it is looked up
 * directly and no fake address is ever handed out.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "cfg.h"

struct special {
	const char *what; /* as the error text names it */
	struct s5_cidr net;
};

/* 240.0.0.0/4 is left out on purpose: apart from the broadcast address it
 * carries no traffic of its own, and Linux routes it like any unicast
 * range, so a fake range there harms nothing. */
static const struct special special4[] = {
	{ "loopback (127.0.0.0/8)",
	  { .family = AF_INET, .prefix = 8, .addr = { 127 } } },
	{ "the unspecified range (0.0.0.0/8)",
	  { .family = AF_INET, .prefix = 8, .addr = { 0 } } },
	{ "link-local (169.254.0.0/16)",
	  { .family = AF_INET, .prefix = 16, .addr = { 169, 254 } } },
	{ "multicast (224.0.0.0/4)",
	  { .family = AF_INET, .prefix = 4, .addr = { 224 } } },
	{ "broadcast (255.255.255.255)",
	  { .family = AF_INET, .prefix = 32, .addr = { 255, 255, 255, 255 } } },
};

/* s5_cidr_parse turns an IPv4-mapped network into IPv4, so a fake IPv6
 * range can only reach ::ffff:0:0/96 by being wider than it. */
static const struct special special6[] = {
	{ "loopback (::1)",
	  { .family = AF_INET6, .prefix = 128, .addr = { [15] = 1 } } },
	{ "the unspecified address (::)",
	  { .family = AF_INET6, .prefix = 128, .addr = { 0 } } },
	{ "IPv4-mapped (::ffff:0:0/96)",
	  { .family = AF_INET6,
	    .prefix = 96,
	    .addr = { [10] = 0xff, [11] = 0xff } } },
	{ "link-local (fe80::/10)",
	  { .family = AF_INET6, .prefix = 10, .addr = { 0xfe, 0x80 } } },
	{ "multicast (ff00::/8)",
	  { .family = AF_INET6, .prefix = 8, .addr = { 0xff } } },
};

/* Two prefixes overlap exactly when the shorter one contains the other. */
static bool overlap(const struct s5_cidr *a, const struct s5_cidr *b)
{
	unsigned shorter = a->prefix < b->prefix ? a->prefix : b->prefix;

	return a->family == b->family &&
	       s5_prefix_match(a->addr, b->addr, shorter);
}

/* "addr/prefix", or the address alone for a single one. */
static void msg_cidr(struct s5_msg *m, const struct s5_cidr *c)
{
	char text[S5_IP_TEXT_MAX];

	s5_msg_strn(m, text, s5_fmt_ip(text, c->family, c->addr));
	if (c->prefix != (c->family == AF_INET ? 32 : 128)) {
		s5_msg_str(m, "/");
		s5_msg_uint(m, c->prefix);
	}
}

/* Starts the error text: "VAR: RANGE overlaps WHAT". */
static void conflict(struct s5_msg *m, char *err, size_t errlen,
		     const char *var, const struct s5_cidr *net,
		     const char *what)
{
	s5_msg_init(m, err, errlen);
	s5_msg_str(m, var);
	s5_msg_str(m, ": ");
	msg_cidr(m, net);
	s5_msg_str(m, " overlaps ");
	s5_msg_str(m, what);
}

static const struct special *special_hit(const struct s5_cidr *net)
{
	const struct special *t = net->family == AF_INET ? special4 : special6;
	size_t n = net->family == AF_INET
			   ? sizeof(special4) / sizeof(special4[0])
			   : sizeof(special6) / sizeof(special6[0]);
	size_t i;

	for (i = 0; i < n; i++)
		if (overlap(net, &t[i].net))
			return &t[i];
	return NULL;
}

/* One of the proxies' known addresses inside net, in *ip. */
static bool proxy_inside(const struct s5_config *c,
			 const struct s5_cidr *net, struct s5_ip *ip)
{
	const struct s5_proxy *p;
	unsigned i;

	for (i = 0; i < c->n_proxies && i < S5_PROXY_MAX; i++) {
		p = &c->proxy[i];
		if (p->has4 &&
		    s5_ip_from_sockaddr(ip, (const struct sockaddr *)&p->addr4,
					sizeof(p->addr4)) &&
		    ip->family == net->family &&
		    s5_prefix_match(ip->addr, net->addr, net->prefix))
			return true;
		if (p->has6 &&
		    s5_ip_from_sockaddr(ip, (const struct sockaddr *)&p->addr6,
					sizeof(p->addr6)) &&
		    ip->family == net->family &&
		    s5_prefix_match(ip->addr, net->addr, net->prefix))
			return true;
	}
	return false;
}

/* An entry of prefix 0 ("0.0.0.0/0": every IPv4 destination direct) is
 * the one exception: no range could avoid it, and asking for it means
 * "everything else", which fake addresses already are, since they are
 * recognised before the exclusion list is read. */
static const struct s5_cidr *exclusion_hit(const struct s5_exclude *ex,
					   const struct s5_cidr *net)
{
	size_t i;

	for (i = 0; i < ex->n_cidrs; i++)
		if (ex->cidrs[i].prefix > 0 && overlap(net, &ex->cidrs[i]))
			return &ex->cidrs[i];
	return NULL;
}

int s5_fake_net_check(const struct s5_config *c, const char *var,
		      const struct s5_cidr *net, char *err, size_t errlen)
{
	const struct special *sp = special_hit(net);
	const struct s5_cidr *entry;
	char text[S5_IP_TEXT_MAX];
	struct s5_msg m;
	struct s5_ip ip;

	if (sp) {
		conflict(&m, err, errlen, var, net, sp->what);
		return -EINVAL;
	}
	if (proxy_inside(c, net, &ip)) {
		conflict(&m, err, errlen, var, net, "the proxy's address (");
		s5_msg_strn(&m, text, s5_fmt_ip(text, ip.family, ip.addr));
		s5_msg_str(&m, ")");
		return -EINVAL;
	}
	entry = exclusion_hit(&c->exclude, net);
	if (entry) {
		conflict(&m, err, errlen, var, net, "an entry of ");
		s5_msg_str(&m, c->exclude_var ? c->exclude_var :
						"SOCKS5WRAP_NO_PROXY");
		s5_msg_str(&m, " (");
		msg_cidr(&m, entry);
		s5_msg_str(&m, ")");
		return -EINVAL;
	}
	return 0;
}
