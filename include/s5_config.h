/* Configuration: the environment, read once, into one immutable struct.
 *
 * Parsers here do no I/O. The environment is read through a lookup function
 * so tests can feed any set of variables; resolving a proxy host name is a
 * separate step (s5_config_resolve_proxy) that takes the resolver to use.
 *
 * Error texts name the variable and say what is wrong, never echo a
 * password, and fit in S5_ERR_MAX bytes.
 */
#ifndef S5_CONFIG_H
#define S5_CONFIG_H

#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s5_log.h"
#include "s5_proto.h"

#define S5_ERR_MAX 256
#define S5_DEFAULT_PORT 1080
#define S5_DEFAULT_TIMEOUT_MS 10000
#define S5_DEFAULT_NO_PROXY "127.0.0.0/8,::1"
/* RFC 2544's benchmarking range, which fake-IP proxies commonly use for
 * this, and a unique-local IPv6 /64 (RFC 4193) of our own. */
#define S5_DEFAULT_FAKE_NET "198.18.0.0/15"
#define S5_DEFAULT_FAKE_NET6 "fd53:5357::/64"

/* ---- proxy URL ------------------------------------------------------- */

/* SOCKS5_PROXY: "host:port", "host", "[v6]:port", "[v6]",
 * "socks5://[user[:pass]@]host[:port][/]" or "socks5h://..." (scheme in any
 * case). user and pass are percent-decoded; they may then hold any byte
 * but NUL. */
struct s5_url {
	char host[S5_NAME_MAX + 1]; /* name, IPv4 text, or IPv6 text without [] */
	uint16_t port;
	bool has_user, has_pass;
	uint8_t user_len, pass_len;
	char user[S5_CRED_MAX + 1];
	char pass[S5_CRED_MAX + 1];
};

/* Returns 0, or -EINVAL with a message in err (which never contains the
 * password). */
int s5_url_parse(const char *s, struct s5_url *out, char *err, size_t errlen);
/* The same, with error texts that name var instead of SOCKS5_PROXY. */
int s5_url_parse_var(const char *var, const char *s, struct s5_url *out,
		     char *err, size_t errlen);

/* ---- exclusion list -------------------------------------------------- */

/* One CIDR, address, or host pattern, with an optional port (0 = any). */
struct s5_cidr {
	sa_family_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix;     /* 0..32 or 0..128 */
	uint16_t port;      /* 0 = every port */
	uint8_t addr[16];   /* network order, bits past prefix zeroed */
};

struct s5_hostpat {
	bool suffix;   /* written ".corp.example": matches corp.example itself
			  and every name below it */
	uint16_t port; /* 0 = every port */
	uint8_t len;
	char name[S5_NAME_MAX + 1]; /* lower case, no leading dot, no trailing dot */
};

struct s5_exclude {
	/* A lone "*" in curl's NO_PROXY: every destination is direct. */
	bool all;
	size_t n_cidrs, n_hosts;
	struct s5_cidr *cidrs;    /* malloc'd */
	struct s5_hostpat *hosts; /* malloc'd */
};

/* SOCKS5WRAP_NO_PROXY: comma-separated entries, blanks around entries
 * ignored, empty entries ignored: "10.0.0.0/8", "192.0.2.1", "192.0.2.1:25",
 * "2001:db8::/32", "::1", "[2001:db8::1]:443", "[2001:db8::/32]:443",
 * "intranet.corp", ".corp.example", "host.test:8080".
 * Returns 0, or -EINVAL (message in err), or -ENOMEM. On error *out is
 * left empty. */
int s5_exclude_parse(const char *s, struct s5_exclude *out, char *err,
		     size_t errlen);
void s5_exclude_free(struct s5_exclude *ex);

/* True when the first prefix bits of a and net (network order) are equal. */
bool s5_prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix);

/* One "addr/prefix" or "addr" (prefix = full length). An IPv4-mapped IPv6
 * network becomes IPv4. Returns 0 or -EINVAL. */
int s5_cidr_parse(const char *s, struct s5_cidr *out);

/* True when the address (IPv4-mapped IPv6 counts as IPv4) and port match an
 * entry, or always with ex->all. */
bool s5_exclude_match_addr(const struct s5_exclude *ex,
			   const struct sockaddr *sa, socklen_t len);

/* True when the host name (case-insensitive, a trailing dot ignored) and
 * port match a host entry. port 0 means "port not known yet" (a name
 * lookup) and matches entries with and without a port. Always true
 * with ex->all. */
bool s5_exclude_match_name(const struct s5_exclude *ex, const char *name,
			   uint16_t port);

/* ---- the whole configuration ----------------------------------------- */

enum s5_dns_mode { S5_DNS_REMOTE = 0, S5_DNS_LOCAL = 1 };
enum s5_udp_mode { S5_UDP_PROXY = 0, S5_UDP_BLOCK = 1 };
/* SOCKS5WRAP_BIND: when listen() becomes a SOCKS5 BIND (kind_bind.c). */
enum s5_bind_mode { S5_BIND_AUTO = 0, S5_BIND_OFF = 1, S5_BIND_ALL = 2 };

/* Proxies in one list (SOCKS5_PROXY, -p): at most this many. */
#define S5_PROXY_MAX 8
/* A proxy that refused the connection or never answered is tried after
 * the others for this long (the whole process tree remembers it). */
#define S5_BACKOFF_MS 30000

/* One proxy of the list. */
struct s5_proxy {
	struct s5_url url; /* host/port for messages; credentials in hop */
	/* Addresses: numeric host filled by s5_config_load, a name by
	 * s5_config_resolve_proxy (only the first of a chain: the others
	 * are named to the proxy before them, which resolves them). */
	bool has4, has6, is_name;
	bool unresolved; /* failover: its name did not resolve; skipped */
	struct sockaddr_in addr4;
	struct sockaddr_in6 addr6;
	/* "host:port" or "[v6]:port" for log lines and --check */
	char label[S5_NAME_MAX + 10];
};

/* Where the proxy list came from. */
enum s5_proxy_source { S5_SRC_NONE = 0, S5_SRC_SOCKS5_PROXY, S5_SRC_ALL_PROXY };

struct s5_config {
	/* false: proxying is impossible; every connection that should be
	 * proxied is refused. error says why. */
	bool usable;
	char error[S5_ERR_MAX];

	/* The list: with chain, every connection goes through all of them
	 * in order; without, each new connection takes the first that
	 * answers (failover). n_proxies >= 1 when usable. */
	unsigned n_proxies;
	bool chain; /* SOCKS5WRAP_CHAIN=1 */
	struct s5_proxy proxy[S5_PROXY_MAX];
	/* hop[i]: how the proxy before proxy i in a chain names it, and
	 * proxy i's credentials (from its URL, or SOCKS5_USER and
	 * SOCKS5_PASSWORD). An array of its own: a chained handshake walks
	 * hop[1..n-1] (s5_hs_chain). */
	struct s5_hop hop[S5_PROXY_MAX];
	enum s5_proxy_source source;
	const char *source_var; /* "SOCKS5_PROXY", "ALL_PROXY" or "all_proxy" */
	/* Said once at start-up (info): a variable that was read but not
	 * taken, such as ALL_PROXY with an http:// URL. Empty when none. */
	char notice[S5_ERR_MAX];

	/* SOCKS5WRAP_NO_PROXY, or with ALL_PROXY as the source curl's
	 * no_proxy / NO_PROXY added to S5_DEFAULT_NO_PROXY. */
	struct s5_exclude exclude;
	/* The variable the entries past the default came from (for
	 * messages): "SOCKS5WRAP_NO_PROXY", "no_proxy", "NO_PROXY", or NULL
	 * when there are none. */
	const char *exclude_var;
	int timeout_ms;
	enum s5log_level log_level;
	const char *log_file; /* points into the environment, or NULL */
	enum s5_dns_mode dns;
	enum s5_udp_mode udp; /* SOCKS5WRAP_UDP */
	enum s5_bind_mode bind; /* SOCKS5WRAP_BIND */
	bool pipeline;        /* SOCKS5WRAP_PIPELINE=1 (or OPTIMISTIC) */
	bool optimistic;      /* SOCKS5WRAP_OPTIMISTIC=1: connect() is done
				 once the request left; the first read
				 takes the replies */
	struct s5_cidr fake4; /* SOCKS5WRAP_FAKE_NET */
	struct s5_cidr fake6; /* SOCKS5WRAP_FAKE_NET6 */
};

typedef const char *(*s5_getenv_fn)(const char *name, void *ctx);

/* Reads SOCKS5_PROXY (or ALL_PROXY / all_proxy), SOCKS5_USER,
 * SOCKS5_PASSWORD, SOCKS5WRAP_CHAIN, SOCKS5WRAP_NO_PROXY (or NO_PROXY /
 * no_proxy with ALL_PROXY),
 * SOCKS5WRAP_TIMEOUT, SOCKS5WRAP_LOG, SOCKS5WRAP_LOG_FILE, SOCKS5WRAP_DNS,
 * SOCKS5WRAP_FAKE_NET, SOCKS5WRAP_FAKE_NET6, SOCKS5WRAP_UDP,
 * SOCKS5WRAP_BIND, SOCKS5WRAP_PIPELINE, SOCKS5WRAP_OPTIMISTIC through get. Always fills *c completely: on a bad value c->usable is
 * false and c->error names the variable; the exclusion list then falls
 * back to S5_DEFAULT_NO_PROXY if its own value was the bad one, the log
 * level to error, and a fake range to its default (a range that overlaps
 * loopback, the proxy or an exclusion is a bad value too). Returns 0, or
 * -ENOMEM. */
int s5_config_load(struct s5_config *c, s5_getenv_fn get, void *ctx);

typedef int (*s5_getaddrinfo_fn)(const char *node, const char *service,
				 const struct addrinfo *hints,
				 struct addrinfo **res);
typedef void (*s5_freeaddrinfo_fn)(struct addrinfo *res);

/* Looks up the proxies given by name once with gai (one IPv4 and one IPv6
 * address kept): every one of a failover list, the first of a chain. A
 * failover proxy that does not resolve is marked unresolved and skipped;
 * when none is left (or the first of a chain fails) c is marked unusable
 * with a message. Returns 0 or -errno: -EINVAL when an address it found
 * lies inside a fake range (the error text is then the one s5_config_load
 * gives for a numeric proxy there). A no-op for numeric hosts. */
int s5_config_resolve_proxy(struct s5_config *c, s5_getaddrinfo_fn gai,
			    s5_freeaddrinfo_fn fai);

/* True when sa is the address and port of one of the proxies (so a
 * connection there is never proxied). */
bool s5_config_is_proxy(const struct s5_config *c, const struct sockaddr *sa,
			socklen_t len);

/* The proxy address a socket of this domain can reach: its own family,
 * or for an IPv6 socket that is not IPV6_V6ONLY (v6only false) the
 * IPv4-mapped form of an IPv4 proxy. Returns 0 or -EAFNOSUPPORT. */
int s5_config_pick_proxy(const struct s5_proxy *p, int domain, bool v6only,
			 struct sockaddr_storage *out, socklen_t *len);

/* Proxy p's entry in c->hop. */
static inline const struct s5_hop *s5_config_hop(const struct s5_config *c,
						 const struct s5_proxy *p)
{
	return &c->hop[p - c->proxy];
}

/* The proxy a chain or a failover list starts with. */
static inline const struct s5_proxy *s5_config_first(const struct s5_config *c)
{
	return &c->proxy[0];
}

/* Frees what s5_config_load allocated and wipes the credentials. */
void s5_config_free(struct s5_config *c);

/* Parses a timeout in seconds ("10", "2.5", "0.25"): more than 0, at most
 * 86400, at most 3 decimals. Returns 0 and *ms, or -EINVAL. */
int s5_parse_timeout(const char *s, int *ms);

#endif
