/* The library's one pthread_atfork entry (fork.h). */
#include <pthread.h>
#include <stddef.h>

#include "fork.h"

/* Written by constructors before the program runs; read-only after. */
static struct {
	pthread_mutex_t *m;
	void (*child)(void);
} locks[S5_FORK_ORDERS];

void s5_fork_lock(enum s5_fork_order order, pthread_mutex_t *m,
		  void (*child)(void))
{
	locks[order].m = m;
	locks[order].child = child;
}

static void prepare(void)
{
	int i;

	for (i = 0; i < S5_FORK_ORDERS; i++)
		if (locks[i].m != NULL)
			pthread_mutex_lock(locks[i].m);
}

static void parent(void)
{
	int i;

	for (i = S5_FORK_ORDERS - 1; i >= 0; i--)
		if (locks[i].m != NULL)
			pthread_mutex_unlock(locks[i].m);
}

/* In the child only the forking thread exists: a fresh lock is the
 * released one. */
static void child(void)
{
	int i;

	for (i = S5_FORK_ORDERS - 1; i >= 0; i--) {
		if (locks[i].m == NULL)
			continue;
		pthread_mutex_init(locks[i].m, NULL);
		if (locks[i].child != NULL)
			locks[i].child();
	}
}

void s5_fork_install(void)
{
	pthread_atfork(prepare, parent, child);
}
