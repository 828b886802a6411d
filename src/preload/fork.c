/* The library's one pthread_atfork entry (fork.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "fork.h"

/* Written by constructors before the program runs, and by kind_conn.c
 * on its first use, which may be while another thread forks: hence the
 * atomic pointers, and prepare() notes which locks it took, so that
 * parent() releases exactly those (a lock registered after prepare ran
 * was never taken). Two threads that fork at
 * once are serialised by the first lock either takes. */
static struct {
	pthread_mutex_t *_Atomic m;
	void (*_Atomic child)(void);
} locks[S5_FORK_ORDERS];
static bool held[S5_FORK_ORDERS]; /* under the locks themselves */

void s5_fork_lock(enum s5_fork_order order, pthread_mutex_t *m,
		  void (*child)(void))
{
	atomic_store(&locks[order].child, child);
	atomic_store(&locks[order].m, m);
}

static void prepare(void)
{
	pthread_mutex_t *m;
	int i;

	for (i = 0; i < S5_FORK_ORDERS; i++) {
		m = atomic_load(&locks[i].m);
		if (m != NULL)
			pthread_mutex_lock(m);
		held[i] = m != NULL;
	}
}

static void parent(void)
{
	int i;

	for (i = S5_FORK_ORDERS - 1; i >= 0; i--)
		if (held[i])
			pthread_mutex_unlock(atomic_load(&locks[i].m));
}

/* In the child only the forking thread exists: a fresh lock is the
 * released one, also for a lock registered too late for prepare() (the
 * thread that may have held it is gone). */
static void child(void)
{
	pthread_mutex_t *m;
	void (*fn)(void);
	int i;

	for (i = S5_FORK_ORDERS - 1; i >= 0; i--) {
		m = atomic_load(&locks[i].m);
		if (m == NULL)
			continue;
		pthread_mutex_init(m, NULL);
		fn = atomic_load(&locks[i].child);
		if (fn != NULL)
			fn();
	}
}

void s5_fork_install(void)
{
	pthread_atfork(prepare, parent, child);
}
