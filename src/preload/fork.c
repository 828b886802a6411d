/* The library's one pthread_atfork entry (fork.h). */
#include <pthread.h>
#include <stddef.h>

#include "fork.h"

/* Written by constructors before the program runs; read-only after. */
static const struct s5_fork_ops *handlers[S5_FORK_ORDERS];

void s5_fork_register(enum s5_fork_order order, const struct s5_fork_ops *ops)
{
	handlers[order] = ops;
}

static void prepare(void)
{
	int i;

	for (i = 0; i < S5_FORK_ORDERS; i++)
		if (handlers[i] != NULL && handlers[i]->prepare != NULL)
			handlers[i]->prepare();
}

static void parent(void)
{
	int i;

	for (i = S5_FORK_ORDERS - 1; i >= 0; i--)
		if (handlers[i] != NULL && handlers[i]->parent != NULL)
			handlers[i]->parent();
}

static void child(void)
{
	int i;

	for (i = S5_FORK_ORDERS - 1; i >= 0; i--)
		if (handlers[i] != NULL && handlers[i]->child != NULL)
			handlers[i]->child();
}

void s5_fork_install(void)
{
	pthread_atfork(prepare, parent, child);
}
