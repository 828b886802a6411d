/* Reply codes (RFC 1928 section 6): the errno a failed connect reports,
 * per the table in DESIGN.md, and a text for logs.
 */
#include <errno.h>

#include "s5_proto.h"

static const struct {
	int err;
	const char *text;
} rep_table[] = {
	[S5_REP_SUCCEEDED] = { 0, "succeeded" },
	[S5_REP_GENERAL_FAILURE] = { ECONNREFUSED, "general SOCKS server failure" },
	[S5_REP_NOT_ALLOWED] = { EACCES, "connection not allowed by ruleset" },
	[S5_REP_NET_UNREACHABLE] = { ENETUNREACH, "network unreachable" },
	[S5_REP_HOST_UNREACHABLE] = { EHOSTUNREACH, "host unreachable" },
	[S5_REP_CONN_REFUSED] = { ECONNREFUSED, "connection refused" },
	[S5_REP_TTL_EXPIRED] = { ETIMEDOUT, "TTL expired" },
	[S5_REP_CMD_UNSUPPORTED] = { EOPNOTSUPP, "command not supported" },
	[S5_REP_ATYP_UNSUPPORTED] = { EAFNOSUPPORT,
				      "address type not supported" },
};

#define REP_COUNT (sizeof(rep_table) / sizeof(rep_table[0]))

int s5_rep_errno(uint8_t rep)
{
	/* Codes 0x09..0xff are unassigned; a refusal is the safe reading. */
	if (rep >= REP_COUNT)
		return ECONNREFUSED;
	return rep_table[rep].err;
}

const char *s5_rep_str(uint8_t rep)
{
	if (rep >= REP_COUNT)
		return "unassigned reply code";
	return rep_table[rep].text;
}
