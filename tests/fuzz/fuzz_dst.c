/* libFuzzer target for s5_dst_read and s5_route_dst: how a destination
 * is read for each kind of socket, and where it goes.
 *
 * Input: one byte choosing the socket (bit 0: IPv6, bits 1..2: UDP, raw,
 * TCP, ICMP datagram), one byte whose bit 0 says connect() rather than a
 * send, then the address bytes as the program would pass them (any
 * length, any family), in an allocation of exactly that length so that
 * ASan sees a read past it. Beyond "no crash":
 *  - the result is S5_DST_ADDR, S5_DST_NONE, S5_PASS or -EAFNOSUPPORT
 *    (no V6ONLY socket here);
 *  - an address is AF_INET or AF_INET6 with the length of its structure,
 *    and s5_route_dst can always read it (never -EAFNOSUPPORT);
 *  - AF_UNSPEC on an IPv4 UDP or raw send is read as IPv4, never as
 *    "no address".
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../src/preload/conf.h"
#include "../../src/preload/hook.h"
#include "../../src/preload/names.h"
#include "../../src/preload/real.h"
#include "../../src/preload/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stand-ins for the rest of the library: no configuration (nothing
 * excluded), a fake range without names, no remembered addresses, and a
 * getsockopt that says "not V6ONLY". */
struct s5_real real;
struct s5_config s5_cfg;

bool s5_is_fake(int family, const uint8_t *addr)
{
	return family == AF_INET && addr[0] == 198 && (addr[1] & 0xfe) == 18;
}

int s5_fake_to_name(int family, const uint8_t *addr, char *name)
{
	(void)family;
	(void)addr;
	(void)name;
	return -ENOENT;
}

bool s5_is_direct(int family, const uint8_t *addr)
{
	(void)family;
	(void)addr;
	return false;
}

static int no_opt(int fd, int level, int name, void *val, socklen_t *len)
{
	(void)fd;
	(void)level;
	(void)name;
	(void)val;
	(void)len;
	errno = EBADF;
	return -1;
}

static const struct s5_sock_info kinds[] = {
	{ AF_INET, SOCK_DGRAM, IPPROTO_UDP },
	{ AF_INET6, SOCK_DGRAM, IPPROTO_UDP },
	{ AF_INET, SOCK_RAW, IPPROTO_ICMP },
	{ AF_INET6, SOCK_RAW, IPPROTO_ICMPV6 },
	{ AF_INET, SOCK_STREAM, IPPROTO_TCP },
	{ AF_INET6, SOCK_STREAM, IPPROTO_TCP },
	{ AF_INET, SOCK_DGRAM, IPPROTO_ICMP },
	{ AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct s5_sock_info *si;
	struct sockaddr_storage out;
	struct s5_addr target;
	socklen_t olen = 0;
	sa_family_t fam = 0;
	bool connect, fake;
	uint8_t *addr;
	size_t len;
	int r;

	if (size < 2)
		return 0;
	real.getsockopt = no_opt;
	si = &kinds[data[0] & 7];
	connect = data[1] & 1;
	len = size - 2;
	addr = malloc(len ? len : 1);
	if (addr == NULL)
		return 0;
	memcpy(addr, data + 2, len);
	if (len >= sizeof(fam))
		memcpy(&fam, addr, sizeof(fam));
	r = s5_dst_read(-1, si, connect,
			len ? (const struct sockaddr *)(void *)addr : NULL,
			(socklen_t)len, &out, &olen);
	if (r != S5_DST_ADDR && r != S5_DST_NONE && r != S5_PASS &&
	    r != -EAFNOSUPPORT)
		abort();
	if (r == S5_DST_ADDR) {
		if (!((out.ss_family == AF_INET &&
		       olen == sizeof(struct sockaddr_in)) ||
		      (out.ss_family == AF_INET6 &&
		       olen == sizeof(struct sockaddr_in6))))
			abort();
		if (s5_route_dst((struct sockaddr *)&out, olen, &target,
				 &fake) == -EAFNOSUPPORT)
			abort();
	}
	if (fam == AF_UNSPEC && len >= sizeof(struct sockaddr_in) &&
	    si->domain == AF_INET && !connect &&
	    (si->type == SOCK_DGRAM || si->type == SOCK_RAW) &&
	    r != S5_DST_ADDR)
		abort();
	free(addr);
	return 0;
}
