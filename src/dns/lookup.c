/* Name -> slot and slot -> name.
 *
 * A hit is one hash and a short chain walk (the index has twice as many
 * buckets as slots). A miss takes a never-used slot while there are any;
 * once every slot has been used, it scans the last-use array for the
 * least recently used slot past its grace period. That scan is
 * O(capacity) but reads only 4 bytes per slot (32 KiB at the default
 * capacity) and happens only for a new name in a full pool, which is
 * simpler than an LRU list that every hit would have to relink.
 */
#include <errno.h>
#include <string.h>

#include "dns_internal.h"

uint32_t s5p_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV offset basis */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 16777619u; /* FNV prime */
	}
	return h;
}

/* Chains are bounded by the capacity, so a walk that takes more steps
 * has met a loop; it cannot happen after s5p_repair, but a lookup must
 * not spin if it ever did. */
static uint32_t find(struct s5_pool *p, const char *name, uint8_t len,
		     uint32_t hash)
{
	struct s5p_slot *slots = s5p_slots(p);
	uint32_t idx = s5p_buckets(p)[s5p_bucket_of(p, hash)];
	uint32_t steps;

	for (steps = 0; idx && idx <= p->capacity && steps < p->capacity;
	     steps++) {
		struct s5p_slot *s = &slots[idx - 1];

		if (s->state == S5P_SLOT_USED && s->hash == hash &&
		    s->len == len && memcmp(s->name, name, len) == 0)
			return idx - 1;
		idx = s->next;
	}
	return S5P_NONE;
}

static void unlink_slot(struct s5_pool *p, uint32_t slot)
{
	struct s5p_slot *slots = s5p_slots(p);
	uint32_t *link = &s5p_buckets(p)[s5p_bucket_of(p, slots[slot].hash)];
	uint32_t steps;

	for (steps = 0; *link && *link <= p->capacity && steps < p->capacity;
	     steps++) {
		if (*link == slot + 1) {
			*link = slots[slot].next;
			return;
		}
		link = &slots[*link - 1].next;
	}
}

/* Written so that an overflowing last + grace cannot make a slot look
 * old, and a clock that went back cannot either. */
static bool past_grace(const struct s5_pool *p, uint32_t last, uint32_t now)
{
	return now >= last && now - last >= p->grace_s;
}

/* A FREE slot below p->fresh (left by a dead holder) is taken at once. */
static uint32_t oldest_recyclable(struct s5_pool *p, uint32_t now)
{
	struct s5p_slot *slots = s5p_slots(p);
	uint32_t *last = s5p_last(p);
	uint32_t i, best = S5P_NONE;

	for (i = 0; i < p->capacity; i++) {
		if (slots[i].state != S5P_SLOT_USED)
			return i;
		if (past_grace(p, last[i], now) &&
		    (best == S5P_NONE || last[i] < last[best]))
			best = i;
	}
	return best;
}

static int take_slot(struct s5_pool *p, uint32_t now, uint32_t *out)
{
	uint32_t slot;

	if (p->fresh < p->capacity) {
		*out = p->fresh++;
		return 0;
	}
	slot = oldest_recyclable(p, now);
	if (slot == S5P_NONE)
		return -ENOSPC;
	if (s5p_slots(p)[slot].state == S5P_SLOT_USED) {
		unlink_slot(p, slot);
		s5p_step();
		s5p_slots(p)[slot].state = S5P_SLOT_FREE;
	}
	*out = slot;
	return 0;
}

/* The slot is FREE here. It becomes USED only when the name is whole,
 * and is linked only once USED (see the rule in pool.c). */
static void fill_slot(struct s5_pool *p, uint32_t slot, const char *name,
		      uint8_t len, uint32_t hash)
{
	struct s5p_slot *s = &s5p_slots(p)[slot];
	uint32_t *head = &s5p_buckets(p)[s5p_bucket_of(p, hash)];

	memcpy(s->name, name, len);
	s->name[len] = '\0';
	s->len = len;
	s->hash = hash;
	s5p_step();
	s->state = S5P_SLOT_USED;
	s->next = *head;
	s5p_step();
	*head = slot + 1;
}

/* Never moves a last use backwards, so the grace period only grows. */
static void touch(struct s5_pool *p, uint32_t slot, uint32_t now)
{
	uint32_t *last = &s5p_last(p)[slot];

	if (now > *last)
		*last = now;
}

int s5_pool_lookup(struct s5_pool *p, const char *name, uint32_t now_s,
		   uint8_t *v4, uint8_t *v6)
{
	char norm[S5_NAME_MAX + 1];
	int len = s5_name_normalize(name, norm);
	uint32_t hash, slot;
	int rc;

	if (len < 0)
		return len;
	hash = s5p_hash(norm, (size_t)len);
	rc = s5p_lock(p);
	if (rc)
		return rc;
	slot = find(p, norm, (uint8_t)len, hash);
	if (slot == S5P_NONE) {
		rc = take_slot(p, now_s, &slot);
		if (!rc) {
			/* A recycled slot's old use must not shield it. */
			s5p_last(p)[slot] = now_s;
			fill_slot(p, slot, norm, (uint8_t)len, hash);
		}
	}
	if (!rc)
		touch(p, slot, now_s);
	s5p_unlock(p);
	if (!rc)
		s5p_addr_of(p, slot, v4, v6);
	return rc;
}

int s5_pool_reverse(struct s5_pool *p, int family, const uint8_t *addr,
		    uint32_t now_s, char *name, size_t cap)
{
	struct s5p_slot *s;
	uint32_t slot;
	int rc;

	if (s5p_slot_of(p, family, addr, &slot))
		return -ENOENT;
	rc = s5p_lock(p);
	if (rc)
		return rc;
	s = &s5p_slots(p)[slot];
	if (s->state != S5P_SLOT_USED) {
		rc = -ENOENT;
	} else if (cap <= s->len) {
		rc = -ERANGE;
	} else {
		memcpy(name, s->name, (size_t)s->len + 1);
		rc = s->len;
		touch(p, slot, now_s);
	}
	s5p_unlock(p);
	return rc;
}
