/* A library whose constructor runs a snippet before main() and, because it
 * is a dependency of the program rather than preloaded, before the
 * preloaded library's constructor: hooks must work in that order too. */
#include <dlfcn.h>
#include <stdlib.h>

__attribute__((visibility("default"))) int s5_snippet_ctor_result = -1;

__attribute__((constructor)) static void run_snippet_early(void)
{
	int (*run)(void);

	if (getenv("S5_SNIPPET_CTOR") == NULL)
		return;
	*(void **)&run = dlsym(RTLD_DEFAULT, "snippet_run");
	s5_snippet_ctor_result = run != NULL ? run() : 2;
}
