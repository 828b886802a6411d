/* SOCKS5 wire format (RFC 1928, RFC 1929).
 *
 * Pure code: builders write into a caller's buffer, parsers read from one.
 * Nothing here does I/O, allocates, or keeps state. Every builder and parser
 * checks the buffer length before each field. Multi-byte fields are in network
 * byte order on the wire; ports are in host byte order in struct s5_addr.
 *
 * Return conventions:
 *   builders: length written (> 0), or -ENOBUFS (buffer too small),
 *             -EINVAL (a value that cannot be encoded).
 *   parsers:  length consumed (> 0) when a whole message is in the buffer;
 *             0 when more bytes are needed, with *need set to the total
 *             length the message has at least (so a reader can ask for
 *             exactly that many bytes and never read past the message);
 *             -EPROTO when the bytes cannot be a valid message.
 */
#ifndef S5_PROTO_H
#define S5_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define S5_VERSION 0x05
#define S5_AUTH_VERSION 0x01 /* RFC 1929 sub-negotiation version */

enum s5_method {
	S5_METHOD_NONE = 0x00,
	S5_METHOD_GSSAPI = 0x01,
	S5_METHOD_USERPASS = 0x02,
	S5_METHOD_UNACCEPTABLE = 0xff,
};

enum s5_cmd {
	S5_CMD_CONNECT = 0x01,
	S5_CMD_BIND = 0x02,
	S5_CMD_UDP_ASSOCIATE = 0x03,
};

enum s5_atyp {
	S5_ATYP_IPV4 = 0x01,
	S5_ATYP_DOMAIN = 0x03,
	S5_ATYP_IPV6 = 0x04,
};

/* Reply field values, RFC 1928 section 6. */
enum s5_rep {
	S5_REP_SUCCEEDED = 0x00,
	S5_REP_GENERAL_FAILURE = 0x01,
	S5_REP_NOT_ALLOWED = 0x02,
	S5_REP_NET_UNREACHABLE = 0x03,
	S5_REP_HOST_UNREACHABLE = 0x04,
	S5_REP_CONN_REFUSED = 0x05,
	S5_REP_TTL_EXPIRED = 0x06,
	S5_REP_CMD_UNSUPPORTED = 0x07,
	S5_REP_ATYP_UNSUPPORTED = 0x08,
};

#define S5_NAME_MAX 255 /* a DOMAINNAME is one length octet, then the name */
#define S5_CRED_MAX 255 /* RFC 1929: ULEN and PLEN are one octet each */

/* Largest messages we build or parse. */
#define S5_GREETING_MAX (2 + 255)
#define S5_USERPASS_MAX (3 + 2 * S5_CRED_MAX)
#define S5_ADDR_WIRE_MAX (1 + 1 + S5_NAME_MAX + 2) /* ATYP, len, name, port */
#define S5_REQUEST_MAX (3 + S5_ADDR_WIRE_MAX)
#define S5_REPLY_MAX S5_REQUEST_MAX
#define S5_UDP_HEADER_MAX (3 + S5_ADDR_WIRE_MAX)

/* A SOCKS address: IPv4, IPv6 or a domain name, with a port (host order).
 * name is NUL-terminated for convenience; name_len does not count the NUL. */
struct s5_addr {
	uint8_t atyp; /* enum s5_atyp */
	uint16_t port;
	union {
		uint8_t v4[4];
		uint8_t v6[16];
		struct {
			uint8_t name_len;
			char name[S5_NAME_MAX + 1];
		} dom;
	} u;
};

/* One SOCKS5 server as a client talks to it: how a CONNECT sent to the
 * server before it in a chain names it (IPv4, IPv6 or a name that server
 * resolves), and the RFC 1929 credentials it takes (auth false: the
 * no-authentication method). */
struct s5_hop {
	struct s5_addr addr;
	bool auth;
	uint8_t user_len, pass_len; /* user 1..255 when auth, pass 0..255 */
	char user[S5_CRED_MAX + 1];
	char pass[S5_CRED_MAX + 1];
};

/* A parsed reply to CONNECT / UDP ASSOCIATE (and BIND). */
struct s5_reply {
	uint8_t rep;          /* enum s5_rep */
	struct s5_addr bound; /* BND.ADDR / BND.PORT */
};

/* Greeting: VER NMETHODS METHODS... (section 3). n must be 1..255. */
ssize_t s5_build_greeting(uint8_t *buf, size_t cap, const uint8_t *methods,
			  size_t n);

/* RFC 1929 request: VER ULEN UNAME PLEN PASSWD. ulen must be 1..255,
 * plen 0..255 (an empty password is sent as PLEN 0). */
ssize_t s5_build_userpass(uint8_t *buf, size_t cap, const char *user,
			  size_t ulen, const char *pass, size_t plen);

/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT (section 4). A domain name
 * must be 1..255 bytes. */
ssize_t s5_build_request(uint8_t *buf, size_t cap, uint8_t cmd,
			 const struct s5_addr *dst);

/* UDP request header: RSV(2) FRAG(1)=0 ATYP DST.ADDR DST.PORT (section 7). */
ssize_t s5_build_udp_header(uint8_t *buf, size_t cap,
			    const struct s5_addr *dst);

/* Method selection reply: VER METHOD. Sets *method. */
ssize_t s5_parse_method_reply(const uint8_t *buf, size_t len, size_t *need,
			      uint8_t *method);

/* RFC 1929 reply: VER STATUS. Sets *status (0 means success). The VER byte
 * must be 0x01; some servers answer 0x05 there, which we accept too. */
ssize_t s5_parse_auth_reply(const uint8_t *buf, size_t len, size_t *need,
			    uint8_t *status);

/* Reply: VER REP RSV ATYP BND.ADDR BND.PORT (section 6). A reply with a
 * failure code still parses (out->rep carries it); only bytes that cannot
 * be a reply give -EPROTO (VER != 5, unknown ATYP, empty domain name). */
ssize_t s5_parse_reply(const uint8_t *buf, size_t len, size_t *need,
		       struct s5_reply *out);

/* UDP datagram header from the relay. Returns the header length (the
 * payload follows it), or -EPROTO: too short, RSV != 0, FRAG != 0 (we do
 * not reassemble, section 7 allows dropping), unknown ATYP, empty name.
 * A truncated header is -EPROTO too: a datagram is whole or useless, so
 * *need is not used here. */
ssize_t s5_parse_udp_header(const uint8_t *buf, size_t len,
			    struct s5_addr *src);

/* errno for a reply code, per DESIGN.md: 0 for success, ECONNREFUSED for an
 * unknown code. */
int s5_rep_errno(uint8_t rep);

/* Short English text for a reply code ("connection refused"); never NULL. */
const char *s5_rep_str(uint8_t rep);

/* Conversions between sockaddr and s5_addr. s5_addr_from_sockaddr accepts
 * AF_INET and AF_INET6; an IPv4-mapped IPv6 address becomes ATYP IPV4.
 * Returns 0 or -EAFNOSUPPORT / -EINVAL (short length). */
int s5_addr_from_sockaddr(struct s5_addr *out, const struct sockaddr *sa,
			  socklen_t len);

/* Name form of an address. Returns 0 or -EINVAL (len 0 or > 255). */
int s5_addr_from_name(struct s5_addr *out, const char *name, size_t len,
		      uint16_t port);

/* Writes an IPv4/IPv6 s5_addr as a sockaddr of the requested family
 * (AF_INET, or AF_INET6 with IPv4 as IPv4-mapped; an IPv4-mapped IPv6
 * address into AF_INET becomes the IPv4 address). Returns the sockaddr
 * length, or -EAFNOSUPPORT (a name, or other IPv6 into AF_INET). */
int s5_addr_to_sockaddr(const struct s5_addr *a, int family,
			struct sockaddr_storage *out);

/* For an IPv4 or IPv6 s5_addr: its family (AF_INET, AF_INET6), its 4 or
 * 16 address bytes, and whether it is the unspecified address (0.0.0.0,
 * ::). */
int s5_addr_family(const struct s5_addr *a);
const uint8_t *s5_addr_ip(const struct s5_addr *a);
bool s5_addr_unspecified(const struct s5_addr *a);

/* The IPv4-mapped IPv6 form of s4 (::ffff:a.b.c.d, same port), as an
 * IPv6 socket that is not IPV6_V6ONLY reaches an IPv4 address. */
void s5_sockaddr_mapped(const struct sockaddr_in *s4,
			struct sockaddr_storage *out, socklen_t *len);

#endif
