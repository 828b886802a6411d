/* fclose(): a proxied socket wrapped with fdopen() is closed inside libc,
 * past the close() hook; its state goes with it, and the next socket
 * that gets the number is judged afresh. */
#include <fcntl.h>

#include "udp.h"

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst();
	int u = udp_socket(), t, num;
	FILE *f;

	if (u < 0 || sendto(u, "x", 1, 0, (struct sockaddr *)&dst,
			    sizeof(dst)) != 1)
		FAIL("udp sendto: %s", strerror(errno));
	num = u;
	f = fdopen(u, "r+");
	if (f == NULL)
		FAIL("fdopen: %s", strerror(errno));
	if (fclose(f) != 0)
		FAIL("fclose: %s", strerror(errno));
	if (fcntl(num, F_GETFD) >= 0)
		FAIL("fclose left the socket open");
	t = snippet_connect();
	if (t < 0)
		FAIL("connect after fclose: %s", strerror(errno));
	if (t == num && !snippet_peer_is_dst(t))
		FAIL("the reused number does not show the new peer");
	if (snippet_echo(t, "stream") != 0)
		FAIL("no exact echo on the reused number");
	close(t);
	return 0;
}
