/* Names: who answers a host name, the fake-address pool, and the real
 * resolver behind the reentrancy guard (names.c, libc_resolver.c,
 * hostent.c). */
#ifndef S5_NAMES_H
#define S5_NAMES_H

#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s5_dns.h"

enum s5_name_route {
	S5_NAME_LIBC,    /* numeric, localhost, /etc/hosts, or DNS=local */
	S5_NAME_DIRECT,  /* the exclusion list names it: libc, then direct */
	S5_NAME_FAKE,    /* the proxy resolves it: hand out a fake address */
	S5_NAME_INVALID, /* cannot be a DNS name: EAI_NONAME */
	S5_NAME_LOOPBACK, /* below "localhost": the loopback addresses */
};

/* 127.0.0.1 and ::1, the answer for names below localhost. */
extern const uint8_t s5_loopback4[4];
extern const uint8_t s5_loopback6[16];

/* Decides who answers node; for every route but LIBC-by-number, norm
 * (S5_NAME_MAX + 1 bytes) gets the normalised name. */
enum s5_name_route s5_name_route(const char *node, char *norm);

struct s5_pool;
/* The process's pool, mapped at start-up; NULL when it cannot be. */
struct s5_pool *s5_pool(void);

/* At start-up: finds or makes the tree's table (s5_tree_table). */
void s5_pool_early(void);
/* The process tree's table, found through SOCKS5WRAP_TABLE and /proc, or
 * made (tree.c); NULL when no table can be mapped at all. */
struct s5_pool *s5_tree_table(void);
/* Seconds on CLOCK_MONOTONIC (shared by all processes: fork-safe). */
uint32_t s5_now_s(void);

/* Remembers an address that an excluded name resolved to. */
void s5_remember_direct(const struct sockaddr *sa);
/* True for an address remembered by s5_remember_direct. */
bool s5_is_direct(int family, const uint8_t *addr);
/* True when a reverse lookup of sa may ask the system resolver: local
 * DNS mode, or an address that is loopback or excluded. In remote mode a
 * PTR query for any other address would tell the local resolver whom the
 * program talks to. */
bool s5_reverse_allowed(const struct sockaddr *sa, socklen_t len);

/* True when addr lies in the configured fake range of its family. */
bool s5_is_fake(int family, const uint8_t *addr);
/* The name behind a fake address: its length, or -ENOENT. */
int s5_fake_to_name(int family, const uint8_t *addr, char *name);

/* The real resolver functions with the reentrancy guard set, so the
 * queries libc sends go to its name server directly (libc_resolver.c). */
int s5_libc_getaddrinfo(const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res);
int s5_libc_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			char *host, socklen_t hostlen, char *serv,
			socklen_t servlen, int flags);
int s5_libc_gethostbyname2_r(const char *name, int af, struct hostent *ret,
			     char *buf, size_t buflen,
			     struct hostent **result, int *h_errnop);
struct hostent *s5_libc_gethostbyname2(const char *name, int af);
int s5_libc_gethostbyaddr_r(const void *addr, socklen_t len, int type,
			    struct hostent *ret, char *buf, size_t buflen,
			    struct hostent **result, int *h_errnop);
struct hostent *s5_libc_gethostbyaddr(const void *addr, socklen_t len,
				      int type);

/* Lays out a hostent for one address (4 or 16 bytes per af) and its
 * name in buf. Returns 0 or ERANGE (hostent.c). */
int s5_hostent_fill(struct hostent *he, char *buf, size_t buflen,
		    const char *name, int af, const uint8_t *addr);

/* True when sa holds a fake address; gives its family and bytes. */
bool s5_sockaddr_fake(const struct sockaddr *sa, socklen_t len, int *family,
		      uint8_t addr[16]);

#endif
