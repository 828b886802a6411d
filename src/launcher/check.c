/* --check: is the proxy there, and does it accept our credentials?
 *
 * The same handshake the library runs, stopped after authentication
 * (cmd 0), so a user can tell a wrong address from a wrong password
 * before blaming the program.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "s5_config.h"
#include "s5_log.h"
#include "s5_net.h"
#include "launcher.h"

/* "[v6]:port" or "v4:port", and the name in front when the proxy was
 * given by name: "proxy.example (192.0.2.1:1080)". */
#define LABEL_MAX (S5_NAME_MAX + INET6_ADDRSTRLEN + 16)

static void format_label(const struct s5_config *c, const struct sockaddr *sa,
			 char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	char addr[INET6_ADDRSTRLEN + 10];
	uint16_t port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
		snprintf(addr, sizeof(addr), "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
		snprintf(addr, sizeof(addr), "%s:%u", ip, port);
	}
	if (s5_config_first(c)->is_name)
		snprintf(buf, cap, "%s (%s)", s5_config_first(c)->url.host,
			 addr);
	else
		snprintf(buf, cap, "%s", addr);
}

static void report_success(const char *label, const struct s5_hs *hs)
{
	if (hs->method == S5_METHOD_USERPASS)
		printf("proxy %s reachable; method: username/password; "
		       "authentication succeeded\n", label);
	else
		printf("proxy %s reachable; method: no authentication\n",
		       label);
}

/* hs.why is set once the handshake itself failed; before that, the
 * connect to the proxy is what went wrong. */
static void report_failure(const char *label, const struct s5_hs *hs,
			   int err)
{
	const char *why;

	if (hs->state == S5HS_FAILED && hs->why)
		why = hs->why;
	else if (hs->state == S5HS_SEND_GREETING && hs->out_off == 0)
		why = "cannot connect";
	else
		why = "handshake failed";
	fprintf(stderr, "socks5wrap: proxy %s: %s: %s\n", label, why,
		s5l_strerror(err));
}

/* One attempt on one address. Returns 0 or 1. */
static int try_address(const struct s5_config *c, const struct sockaddr *sa,
		       socklen_t len)
{
	char label[LABEL_MAX];
	struct s5_hs hs;
	int fd, rc;

	format_label(c, sa, label, sizeof(label));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "socks5wrap: proxy %s: no socket: %s\n", label,
			s5l_strerror(errno));
		return 1;
	}
	s5_hs_init(&hs, 0, NULL, c->hop[0].auth, c->hop[0].user,
		   c->hop[0].user_len, c->hop[0].pass, c->hop[0].pass_len);
	rc = s5_proxy_connect(fd, sa, len, &hs, &s5_io_libc, c->timeout_ms);
	close(fd);
	if (rc == 0)
		report_success(label, &hs);
	else
		report_failure(label, &hs, -rc);
	s5_hs_wipe(&hs);
	return rc == 0 ? 0 : 1;
}

/* IPv4 first: it is what most proxies listen on, and a host name that
 * resolves to both is most often reachable that way. */
static int try_all(const struct s5_config *c)
{
	int rc = 1;

	if (s5_config_first(c)->has4)
		rc = try_address(c,
				 (const struct sockaddr *)&s5_config_first(c)->addr4,
				 sizeof(struct sockaddr_in));
	if (rc != 0 && s5_config_first(c)->has6)
		rc = try_address(c,
				 (const struct sockaddr *)&s5_config_first(c)->addr6,
				 sizeof(struct sockaddr_in6));
	return rc;
}

int s5l_check(void)
{
	struct s5_config c;
	int rc = s5l_load_config(&c);

	if (rc)
		return rc;
	/* Only -v shows the net module's own lines: without it, our one
	 * summary line is enough. */
	s5log_setup(c.log_level >= S5LOG_INFO ? c.log_level : S5LOG_NONE,
		    STDERR_FILENO, write);
	rc = try_all(&c);
	s5_config_free(&c);
	return rc;
}
