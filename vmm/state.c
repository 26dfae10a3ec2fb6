/* Saved-state byte streams (state.h). */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"

void state_w_free(struct state_w *w)
{
	free(w->p);
	*w = (struct state_w){0};
}

void state_put(struct state_w *w, const void *src, size_t n)
{
	if (w->oom)
		return;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap - w->len < n)
			cap *= 2;
		uint8_t *p = realloc(w->p, cap);
		if (!p) {
			w->oom = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

void state_put8(struct state_w *w, uint8_t v)
{
	state_put(w, &v, 1);
}
void state_put16(struct state_w *w, uint16_t v)
{
	uint8_t b[2];
	put16(b, v);
	state_put(w, b, 2);
}
void state_put32(struct state_w *w, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	state_put(w, b, 4);
}
void state_put64(struct state_w *w, uint64_t v)
{
	uint8_t b[8];
	put64(b, v);
	state_put(w, b, 8);
}

const uint8_t *state_get(struct state_r *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t state_get8(struct state_r *r)
{
	const uint8_t *p = state_get(r, 1);
	return p ? p[0] : 0;
}
uint16_t state_get16(struct state_r *r)
{
	const uint8_t *p = state_get(r, 2);
	return p ? get16(p) : 0;
}
uint32_t state_get32(struct state_r *r)
{
	const uint8_t *p = state_get(r, 4);
	return p ? get32(p) : 0;
}
uint64_t state_get64(struct state_r *r)
{
	const uint8_t *p = state_get(r, 8);
	return p ? get64(p) : 0;
}
