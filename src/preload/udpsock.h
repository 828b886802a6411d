/* S5FD_UDP: the state of one UDP socket (udpsock.c), shared by every
 * descriptor that refers to the socket, and its association with the
 * proxy's relay. The send and receive policy is in udp.c. */
#ifndef S5_UDPSOCK_H
#define S5_UDPSOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fd.h"
#include "s5_udp.h"

/* One association (RFC 1928 section 7): a control connection that keeps
 * it alive, and the relay named in the reply. The relay never changes
 * once the association is published; a new association is a new object,
 * so a thread that holds a reference reads it without a lock. */
struct s5_udp_assoc {
	struct s5_obj obj;          /* first */
	_Atomic int ctl_fd;         /* internal descriptor, -1 once closed;
				       changed under s5_udp_lock only */
	_Atomic int64_t checked_ms; /* when the control connection was last
				       seen open */
	struct s5_udp u;            /* the relay; hdr_guess is atomic */
};

struct s5_udp_sock {
	struct s5_obj obj; /* first */
	int family;        /* the socket's, immutable */
	/* The latest association, one reference held; NULL before the
	 * first. Replaced under s5_udp_lock; a dead one stays until
	 * replaced, so replies already queued from its relay are still
	 * recognised. */
	_Atomic(struct s5_udp_assoc *) assoc;
	_Atomic bool associated; /* an association existed once */
	/* The UDP_SEGMENT socket option (GSO for every send) when nonzero:
	 * read when the socket is first seen, then kept by setsockopt(). */
	_Atomic int gso;
	/* Guarded by s5_udp_lock: */
	pid_t assoc_pid; /* process associating it now, or 0 */
	int refused;     /* -errno when the proxy refused UDP ASSOCIATE */
	/* The virtual peer below is set; written under the lock, read
	 * without it first, so that sockets without a peer take no lock. */
	_Atomic bool connected;
	struct sockaddr_storage peer; /* as the kernel would show it */
	socklen_t peer_len;
	struct s5_addr peer_target;   /* what the relay is told */
	/* Fake-address destinations, by port, to name the source of their
	 * replies (the relay reports the address the proxy resolved).
	 * n_named is also read without the lock, to skip the lock when it
	 * is zero. */
	_Atomic int n_named;
	struct {
		uint16_t port;
		struct sockaddr_storage fake;
		socklen_t len;
	} named[8];
};

/* A new socket state with one reference, for a socket of family. */
struct s5_udp_sock *s5_udp_sock_new(int family);

/* fd's state with a reference (s5_obj_put(&s->obj) when done), or NULL. */
struct s5_udp_sock *s5_udp_sock_get(int fd);

/* The association to send through, live (created or renewed when
 * needed), with a reference (s5_obj_put(&a->obj)); or NULL with *err set
 * (the proxy's refusal, or why it could not be reached). */
struct s5_udp_assoc *s5_udp_sock_ready(struct s5_udp_sock *s, int fd,
				       int *err);

/* The latest association, live or not, with a reference; NULL if none. */
struct s5_udp_assoc *s5_udp_sock_assoc(struct s5_udp_sock *s);

/* Ends the association (the next send makes a new one). */
void s5_udp_sock_drop_assoc(struct s5_udp_sock *s);

/* Guards the fields marked above. Lock order: s5_udp_lock, then the
 * descriptor table (lock-free), then slab locks. */
void s5_udp_lock(void);
void s5_udp_unlock(void);

#endif
