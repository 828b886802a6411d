/* links: fd slab */
/* Unit tests for src/preload/fd.c: the per-descriptor table, its
 * objects and the identity check that keeps a reused number from being
 * taken for ours. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload/fd.h"
#include "preload/slab.h"

/* A kind of object for the tests: counts its releases and moves. */
struct thing {
	struct s5_obj obj;
	int tag;
};

static _Atomic int released, moves;
static struct s5_slab slab = S5_SLAB_INIT(struct thing);

static void thing_release(struct s5_obj *o)
{
	atomic_fetch_add(&released, 1);
	s5_slab_free(&slab, o);
}

static void thing_moved(struct s5_obj *o, int oldfd, int newfd)
{
	(void)o;
	(void)oldfd;
	(void)newfd;
	atomic_fetch_add(&moves, 1);
}

static const struct s5_obj_ops thing_ops = { thing_release, thing_moved };

static struct thing *thing_new(int tag)
{
	struct thing *t = s5_slab_alloc(&slab);

	assert_non_null(t);
	t->tag = tag;
	s5_obj_init(&t->obj, &thing_ops);
	return t;
}

/* An object smaller than the free-list link's place (slab.h): a count
 * and one int. */
struct small {
	_Atomic int refs;
	int x;
};

static struct s5_slab small_slab = S5_SLAB_INIT(struct small);

static void small_objects_keep_their_free_links_to_themselves(void **state)
{
	/* More than one slab's worth at the smallest size (64 KiB / 16). */
	enum { N = 4200 };
	static struct small *o[N];
	int i;

	(void)state;
	assert_true(small_slab.size >= S5_SLAB_MIN);
	for (i = 0; i < N; i++) {
		o[i] = s5_slab_alloc(&small_slab);
		assert_non_null(o[i]);
		o[i]->x = i;
	}
	/* Free every other one: a link written past its own object would
	 * land in a neighbour still in use, or past the end of the slab. */
	for (i = 0; i < N; i += 2)
		s5_slab_free(&small_slab, o[i]);
	for (i = 0; i < N; i++) {
		assert_int_equal(atomic_load(&o[i]->refs), 0);
		if (i % 2)
			assert_int_equal(o[i]->x, i);
	}
	for (i = 1; i < N; i += 2)
		s5_slab_free(&small_slab, o[i]);
	for (i = 0; i < N; i++)
		assert_int_equal(atomic_load(&o[i]->refs), 0);
}

static int reset(void **state)
{
	(void)state;
	atomic_store(&released, 0);
	atomic_store(&moves, 0);
	return 0;
}

static int a_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	return fd;
}

/* Closes fd behind the table's back and puts another open file on the
 * same number, as fclose() or closefrom() followed by open() would. */
static void reuse_number(int fd)
{
	int p[2];

	assert_int_equal(close(fd), 0);
	assert_int_equal(pipe(p), 0);
	if (p[0] != fd)
		assert_int_equal(dup2(p[0], fd), fd);
	if (p[0] != fd)
		close(p[0]);
	close(p[1]);
}

static void untouched_descriptors_have_no_kind(void **state)
{
	(void)state;
	assert_int_equal(s5_fd_kind(-1), S5FD_NONE);
	assert_int_equal(s5_fd_kind(1 << 30), S5FD_NONE);
	assert_null(s5_fd_get(0, S5FD_UDP));
}

static void an_attached_object_comes_back_with_a_reference(void **state)
{
	int fd = a_socket();
	struct thing *t = thing_new(7);
	struct s5_obj *o;

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_UDP, &t->obj), 0);
	assert_true(s5_fd_maybe_ours(fd));
	assert_int_equal(s5_fd_kind(fd), S5FD_UDP);
	o = s5_fd_get(fd, S5FD_UDP);
	assert_ptr_equal(o, &t->obj);
	assert_int_equal(atomic_load(&o->refs), 2);
	s5_obj_put(o);
	/* Another kind asked for: nothing. */
	assert_null(s5_fd_get(fd, S5FD_TCP));
	s5_fd_clear(fd);
	assert_int_equal(atomic_load(&released), 1);
	assert_int_equal(s5_fd_kind(fd), S5FD_NONE);
	close(fd);
}

static void a_reused_number_is_not_ours_and_its_entry_goes(void **state)
{
	int fd = a_socket();
	struct thing *t = thing_new(1);

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_UDP, &t->obj), 0);
	reuse_number(fd);
	/* The unchecked hint still says UDP; the checked lookup does not,
	 * and drops the stale entry with its reference. */
	assert_int_equal(s5_fd_kind(fd), S5FD_UDP);
	assert_null(s5_fd_get(fd, S5FD_UDP));
	assert_int_equal(s5_fd_kind(fd), S5FD_NONE);
	assert_int_equal(atomic_load(&released), 1);
	close(fd);
}

static void attach_replaces_and_drops_the_old_object(void **state)
{
	int fd = a_socket();
	struct thing *a = thing_new(1), *b = thing_new(2);
	struct s5_obj *o;

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_UDP, &a->obj), 0);
	assert_int_equal(s5_fd_attach(fd, S5FD_TCP, &b->obj), 0);
	assert_int_equal(atomic_load(&released), 1);
	o = s5_fd_get(fd, S5FD_TCP);
	assert_ptr_equal(o, &b->obj);
	s5_obj_put(o);
	s5_fd_clear(fd);
	assert_int_equal(atomic_load(&released), 2);
	close(fd);
}

static void attach_to_a_closed_or_huge_descriptor_fails_and_drops(void **state)
{
	int fd = a_socket();
	struct thing *t = thing_new(1), *u = thing_new(2);

	(void)state;
	close(fd);
	assert_int_equal(s5_fd_attach(fd, S5FD_UDP, &t->obj), -EBADF);
	assert_int_equal(s5_fd_attach(1 << 30, S5FD_UDP, &u->obj), -EBADF);
	assert_int_equal(atomic_load(&released), 2);
	assert_int_equal(s5_fd_kind(fd), S5FD_NONE);
}

static void copy_shares_the_object_and_clear_keeps_it_for_the_other(
	void **state)
{
	int fd = a_socket(), fd2 = dup(fd);
	struct thing *t = thing_new(1);
	struct s5_obj *o;

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_UDP, &t->obj), 0);
	s5_fd_copy(fd, fd2);
	s5_fd_clear(fd);
	assert_int_equal(atomic_load(&released), 0);
	o = s5_fd_get(fd2, S5FD_UDP);
	assert_ptr_equal(o, &t->obj);
	s5_obj_put(o);
	s5_fd_clear(fd2);
	assert_int_equal(atomic_load(&released), 1);
	close(fd);
	close(fd2);
}

/* State made on one copy after the copies were made: the other copy
 * finds it; another socket, a stale entry and another kind do not. */
static void a_copy_made_before_the_state_finds_it(void **state)
{
	int fd = a_socket(), fd2 = dup(fd), other = a_socket(), gone;
	struct thing *t = thing_new(1);
	struct s5_obj *o;

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_UDP, &t->obj), 0);
	o = s5_fd_find_same(fd2, S5FD_UDP);
	assert_ptr_equal(o, &t->obj);
	assert_int_equal(atomic_load(&t->obj.refs), 2);
	s5_obj_put(o);
	assert_null(s5_fd_find_same(other, S5FD_UDP));
	assert_null(s5_fd_find_same(fd2, S5FD_TCP));
	assert_null(s5_fd_find_same(fd, S5FD_UDP)); /* not itself */
	/* The entry's number now means another file: not a copy. */
	gone = fd;
	reuse_number(gone);
	assert_null(s5_fd_find_same(fd2, S5FD_UDP));
	assert_int_equal(atomic_load(&released), 1); /* the stale entry went */
	close(gone);
	close(fd2);
	close(other);
}

static void copy_of_a_descriptor_without_state_clears_the_target(void **state)
{
	int fd = a_socket(), fd2 = a_socket();
	struct thing *t = thing_new(1);

	(void)state;
	assert_int_equal(s5_fd_attach(fd2, S5FD_UDP, &t->obj), 0);
	assert_int_equal(dup2(fd, fd2), fd2);
	s5_fd_copy(fd, fd2);
	assert_int_equal(s5_fd_kind(fd2), S5FD_NONE);
	assert_int_equal(atomic_load(&released), 1);
	close(fd);
	close(fd2);
}

static void internal_entries_hold_no_reference_and_are_not_copied(
	void **state)
{
	int fd = a_socket(), fd2 = dup(fd);
	struct thing *t = thing_new(1);
	struct s5_obj *o;

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_INTERNAL, &t->obj), 0);
	assert_int_equal(atomic_load(&t->obj.refs), 1);
	assert_true(s5_fd_is_internal(fd));
	o = s5_fd_owner(fd);
	assert_ptr_equal(o, &t->obj);
	s5_obj_put(o);
	s5_fd_copy(fd, fd2);
	assert_int_equal(s5_fd_kind(fd2), S5FD_NONE);
	assert_null(s5_fd_get(fd, S5FD_INTERNAL));
	s5_fd_clear(fd);
	assert_int_equal(atomic_load(&released), 0);
	s5_obj_put(&t->obj);
	assert_int_equal(atomic_load(&released), 1);
	close(fd);
	close(fd2);
}

static void a_reused_internal_number_is_the_programs(void **state)
{
	int fd = a_socket();

	(void)state;
	assert_int_equal(s5_fd_attach(fd, S5FD_INTERNAL, NULL), 0);
	assert_true(s5_fd_is_internal(fd));
	reuse_number(fd);
	assert_false(s5_fd_is_internal(fd));
	assert_int_equal(s5_fd_kind(fd), S5FD_NONE);
	close(fd);
}

static void ranges_keep_valid_internal_entries_only(void **state)
{
	int a = a_socket(), b = a_socket(), c = a_socket();
	struct thing *t = thing_new(1);
	int lo = a < b ? a : b, hi = a > b ? a : b;

	(void)state;
	lo = lo < c ? lo : c;
	hi = hi > c ? hi : c;
	assert_int_equal(s5_fd_attach(a, S5FD_INTERNAL, NULL), 0);
	assert_int_equal(s5_fd_attach(b, S5FD_INTERNAL, NULL), 0);
	assert_int_equal(s5_fd_attach(c, S5FD_UDP, &t->obj), 0);
	reuse_number(b);
	assert_int_equal(s5_fd_next_internal((unsigned int)lo,
					     (unsigned int)hi),
			 a);
	assert_int_equal(s5_fd_next_internal((unsigned int)a + 1,
					     (unsigned int)hi),
			 -1);
	s5_fd_clear_range((unsigned int)lo, (unsigned int)hi);
	assert_true(s5_fd_is_internal(a));
	assert_int_equal(s5_fd_kind(b), S5FD_NONE);
	assert_int_equal(s5_fd_kind(c), S5FD_NONE);
	assert_int_equal(atomic_load(&released), 1);
	s5_fd_clear(a);
	close(a);
	close(b);
	close(c);
}

static void a_reference_is_never_taken_once_the_count_reached_zero(
	void **state)
{
	struct thing *t = thing_new(1);

	(void)state;
	assert_true(s5_obj_ref(&t->obj));
	s5_obj_put(&t->obj);
	s5_obj_put(&t->obj);
	assert_int_equal(atomic_load(&released), 1);
	/* Type-stable memory: the count is still readable, and zero. */
	assert_false(s5_obj_ref(&t->obj));
}

/* Readers take and drop references while a writer replaces and clears the
 * entry: every object is released exactly once, none while in use. */
struct race {
	int fd;
	_Atomic bool stop;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	struct s5_obj *o;

	while (!atomic_load(&r->stop)) {
		o = s5_fd_get(r->fd, S5FD_UDP);
		if (o == NULL)
			continue;
		assert_true(atomic_load(&o->refs) > 0);
		assert_int_equal(((struct thing *)o)->tag, 99);
		s5_obj_put(o);
	}
	return NULL;
}

static void readers_racing_a_writer_see_whole_objects(void **state)
{
	struct race r = { .fd = a_socket() };
	pthread_t th[3];
	int i, n = 2000;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
	for (i = 0; i < n; i++) {
		struct thing *t = thing_new(99);

		assert_int_equal(s5_fd_attach(r.fd, S5FD_UDP, &t->obj), 0);
		if (i % 2)
			s5_fd_clear(r.fd);
	}
	atomic_store(&r.stop, true);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	s5_fd_clear(r.fd);
	assert_int_equal(atomic_load(&released), n);
	close(r.fd);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(untouched_descriptors_have_no_kind),
		T(small_objects_keep_their_free_links_to_themselves),
		T(an_attached_object_comes_back_with_a_reference),
		T(a_reused_number_is_not_ours_and_its_entry_goes),
		T(attach_replaces_and_drops_the_old_object),
		T(attach_to_a_closed_or_huge_descriptor_fails_and_drops),
		T(copy_shares_the_object_and_clear_keeps_it_for_the_other),
		T(a_copy_made_before_the_state_finds_it),
	T(copy_of_a_descriptor_without_state_clears_the_target),
		T(internal_entries_hold_no_reference_and_are_not_copied),
		T(a_reused_internal_number_is_the_programs),
		T(ranges_keep_valid_internal_entries_only),
		T(a_reference_is_never_taken_once_the_count_reached_zero),
		T(readers_racing_a_writer_see_whole_objects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
