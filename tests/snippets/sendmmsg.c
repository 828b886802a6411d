/* sendmmsg() and recvmmsg(): a batch through the relay and back. */
#include <sys/uio.h>
#include <time.h>

#include "udp.h"

#define N 4

__attribute__((visibility("default"))) int snippet_run(void)
{
	struct sockaddr_in dst = udp_dst();
	struct mmsghdr out[N], in[N];
	struct iovec oiov[N], iiov[N];
	char obuf[N][8], ibuf[N][16];
	int fd = udp_socket(), i, got = 0, r;

	memset(out, 0, sizeof(out));
	memset(in, 0, sizeof(in));
	for (i = 0; i < N; i++) {
		snprintf(obuf[i], sizeof(obuf[i]), "msg %d", i);
		oiov[i] = (struct iovec){ obuf[i], strlen(obuf[i]) };
		out[i].msg_hdr.msg_name = &dst;
		out[i].msg_hdr.msg_namelen = sizeof(dst);
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
		iiov[i] = (struct iovec){ ibuf[i], sizeof(ibuf[i]) };
		in[i].msg_hdr.msg_iov = &iiov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, out, N, 0);
	if (r != N)
		FAIL("sendmmsg: %d %s", r, strerror(errno));
	for (i = 0; i < 20 && got < N; i++) {
		r = recvmmsg(fd, in + got, (unsigned int)(N - got),
			     MSG_WAITFORONE, NULL);
		if (r < 0)
			FAIL("recvmmsg: %s", strerror(errno));
		got += r;
	}
	for (i = 0; i < N; i++)
		if (in[i].msg_len != strlen(obuf[i]) ||
		    memcmp(ibuf[i], obuf[i], in[i].msg_len) != 0)
			FAIL("datagram %d came back wrong", i);
	close(fd);
	return 0;
}
