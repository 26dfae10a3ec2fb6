/* Byte streams for saved device state: a growable writer and a bounds-checked reader, both
 * little-endian. A reader that runs past its end (a short or corrupt stream) returns zeros from
 * then on and remembers it (r->bad), so a device's load reads its fields straight through and
 * checks once at the end.
 */
#ifndef MINIVM_STATE_H
#define MINIVM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_w {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};
struct state_r {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

void state_w_free(struct state_w *w);
void state_put(struct state_w *w, const void *src, size_t n);
void state_put8(struct state_w *w, uint8_t v);
void state_put16(struct state_w *w, uint16_t v);
void state_put32(struct state_w *w, uint32_t v);
void state_put64(struct state_w *w, uint64_t v);

static inline void state_r_init(struct state_r *r, const uint8_t *p, size_t len)
{
	*r = (struct state_r){.p = p, .len = len};
}
/* Returns a pointer to the next n bytes, or NULL (and r->bad) when fewer are left. */
const uint8_t *state_get(struct state_r *r, size_t n);
uint8_t state_get8(struct state_r *r);
uint16_t state_get16(struct state_r *r);
uint32_t state_get32(struct state_r *r);
uint64_t state_get64(struct state_r *r);

#endif
