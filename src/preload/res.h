/* The res_query family (res_query.c, res_send.c): in remote DNS mode the
 * library sends the resolver's queries itself, as datagrams that follow
 * the same routes as the program's own, so libc's transport, which the
 * preload cannot see, is never used. */
#ifndef S5_PRELOAD_RES_H
#define S5_PRELOAD_RES_H

#include <resolv.h>
#include <stdbool.h>
#include <stddef.h>

/* Sends the query (qlen bytes) to statp's name servers, honouring its
 * retrans, retry and RES_USEVC / RES_IGNTC options, and puts the reply in
 * ans (anslen bytes). what names the call for the log line. Returns the
 * reply's length (like res_send, possibly more than anslen when a TCP
 * reply was cut to fit, TC then set), or -errno: ESRCH (no name server),
 * EINVAL, ETIMEDOUT (no usable answer), ECONNREFUSED (no server could be
 * reached at all), or why the proxy could not carry it. A server's
 * SERVFAIL, NOTIMP or REFUSED is left in ans when no other server
 * answered. */
int s5_res_send(res_state statp, const unsigned char *q, int qlen,
		unsigned char *ans, int anslen, const char *what);

/* Appends " NAME TYPE" to the text in out (cap bytes): the log's name
 * for a query. */
void s5_res_describe(char *out, size_t cap, const char *name, int type);

/* True when the res_* hooks must hand the call to libc: our own calls
 * (reentrancy guard) and SOCKS5WRAP_DNS=local. Runs s5_init(). */
bool s5_res_libc(void);

/* The process-wide resolver state, initialised as libc's res_query would
 * (res_init on first use); NULL with a log line when it cannot be. */
res_state s5_res_default(void);

#endif
