/* MSI-X: capability, table, PBA, routes and irqfds (msix.h). */
#include "msix.h"

#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"

static uint64_t entry_addr(const struct msix_vec *v)
{
	return get32(v->entry) | (uint64_t)get32(v->entry + 4) << 32;
}

static uint32_t entry_data(const struct msix_vec *v)
{
	return get32(v->entry + 8);
}

static bool entry_masked(const struct msix_vec *v)
{
	return get32(v->entry + 12) & MSIX_ENTRY_MASKED;
}

static void warn(struct msix *m, mc_err *err)
{
	mc_log_warn("%s: MSI-X: %s", m->f->name, mc_error_text(*err));
	mc_error_free(err);
}

/* Point v's GSI at its table entry (lock held). */
static void route(struct msix *m, struct msix_vec *v)
{
	uint64_t a = entry_addr(v);
	uint32_t d = entry_data(v);
	if (!v->has_gsi || (v->route_addr == a && v->route_data == d))
		return;
	mc_err err = NULL;
	if (m->chip && irq_msi_update(m->chip, v->gsi, a, d, m->defer, &err) < 0) {
		warn(m, &err);
		return;
	}
	if (m->defer)
		atomic_store(&m->stale, true);
	v->route_addr = a;
	v->route_data = d;
}

static int ensure_gsi(struct msix *m, struct msix_vec *v, mc_err *err)
{
	if (v->has_gsi)
		return 0;
	uint64_t a = entry_addr(v);
	uint32_t d = entry_data(v);
	uint32_t gsi = IRQ_FIRST_DYNAMIC_GSI + (uint32_t)(v - m->vec); /* tests: any number */
	if (m->chip && irq_msi_alloc(m->chip, a, d, m->defer, &gsi, err) < 0)
		return -1;
	if (m->defer)
		atomic_store(&m->stale, true);
	v->gsi = gsi;
	v->has_gsi = true;
	v->route_addr = a;
	v->route_data = d;
	return 0;
}

/* The interrupt a vector held back while it was masked (lock held). */
static void fire(struct msix *m, struct msix_vec *v)
{
	atomic_fetch_add(&m->fired, 1);
	if (!m->chip)
		return;
	mc_err err = NULL;
	if (irq_msi_signal(m->chip, entry_addr(v), entry_data(v), &err) < 0)
		warn(m, &err);
}

/* Recompute each vector's mask after the control register or an entry changed; an unmasked
 * vector gets its route first, then its pending interrupt (lock held). */
static void update_masks(struct msix *m)
{
	for (unsigned i = 0; i < m->nvec; i++) {
		struct msix_vec *v = &m->vec[i];
		bool masked = !m->enabled || m->fmask || entry_masked(v);
		if (masked) {
			atomic_store(&v->masked, true);
			continue;
		}
		route(m, v);
		atomic_store(&v->masked, false);
		/* pairs with msix_notify: it sets pending, then looks at masked */
		if (atomic_exchange(&v->pending, false))
			fire(m, v);
	}
}

int msix_init(struct msix *m, struct pci_function *f, unsigned nvec, unsigned bar,
	      uint32_t table_off, uint32_t pba_off, struct irq_chip *chip, mc_err *err)
{
	memset(m, 0, sizeof(*m));
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS || (table_off & 7) ||
	    (pba_off & 7))
		return mc_errorf(err, 0, "%s: MSI-X with %u vectors in BAR %u", f->name, nvec, bar);
	m->f = f;
	m->chip = chip;
	m->nvec = nvec;
	m->defer = true; /* until the device goes live: msix_commit */
	pthread_mutex_init(&m->lock, NULL);
	for (unsigned i = 0; i < nvec; i++) {
		put32(m->vec[i].entry + 12, MSIX_ENTRY_MASKED);
		atomic_store(&m->vec[i].masked, true);
	}
	uint8_t body[MSIX_CAP_LEN - 2];
	put16(body, (uint16_t)(nvec - 1)); /* table size - 1; enable and function mask off */
	put32(body + 2, table_off | bar);
	put32(body + 6, pba_off | bar);
	if (pci_function_add_cap(f, PCI_CAP_ID_MSIX, body, sizeof(body), &m->cap, err) < 0) {
		pthread_mutex_destroy(&m->lock);
		return -1;
	}
	static const uint8_t ctrl_mask[2] = {0, (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8};
	pci_function_set_wmask(f, m->cap + 2, 2, ctrl_mask);
	return 0;
}

void msix_fini(struct msix *m)
{
	if (!m->f)
		return;
	for (unsigned i = 0; i < m->nvec; i++) {
		mc_err err = NULL;
		if (m->vec[i].has_gsi && m->chip && irq_msi_free(m->chip, m->vec[i].gsi, &err) < 0)
			mc_error_free(&err);
		m->vec[i].has_gsi = false;
	}
	pthread_mutex_destroy(&m->lock);
	m->f = NULL;
}

void msix_cfg_written(struct msix *m, uint32_t off, uint32_t len)
{
	if (off + len <= (uint32_t)m->cap + 2 || off >= (uint32_t)m->cap + 4)
		return;
	uint16_t ctrl = get16(m->f->cfg + m->cap + 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fmask = ctrl & MSIX_CTRL_MASKALL;
	update_masks(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	if ((len != 4 && len != 8) || off % len || off >= (uint64_t)m->nvec * MSIX_ENTRY_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	struct msix_vec *v = &m->vec[off / MSIX_ENTRY_SIZE];
	unsigned at = (unsigned)(off % MSIX_ENTRY_SIZE);
	pthread_mutex_lock(&m->lock);
	if (!is_write) {
		memcpy(data, v->entry + at, len);
		pthread_mutex_unlock(&m->lock);
		return;
	}
	memcpy(v->entry + at, data, len);
	/* vector control: only the mask bit is writable */
	put32(v->entry + 12, get32(v->entry + 12) & MSIX_ENTRY_MASKED);
	if (at + len > 12) {
		update_masks(m);
	} else if (!atomic_load(&v->masked)) {
		route(m, v); /* changed while unmasked: the spec leaves it undefined; follow it */
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	if (is_write)
		return; /* read-only */
	memset(data, 0, len);
	if ((len != 4 && len != 8) || off % len)
		return;
	for (uint32_t i = 0; i < len * 8; i++) {
		uint64_t vec = off * 8 + i;
		if (vec < m->nvec && atomic_load(&m->vec[vec].pending))
			data[i / 8] |= (uint8_t)(1u << (i % 8));
	}
}

uint16_t msix_bind(struct msix *m, struct msix_src *s, uint16_t vec)
{
	pthread_mutex_lock(&m->lock);
	mc_err err = NULL;
	struct msix_vec *v = vec < m->nvec ? &m->vec[vec] : NULL;
	if (v && ensure_gsi(m, v, &err) < 0) {
		warn(m, &err);
		v = NULL;
	}
	if (s->bound && (!v || s->gsi != v->gsi)) {
		if (m->chip && irq_irqfd_deassign(m->chip, s->fd, s->gsi, &err) < 0)
			warn(m, &err);
		s->bound = false;
	}
	if (v && !s->bound) {
		if (m->chip && irq_irqfd_assign(m->chip, s->fd, v->gsi, -1, &err) < 0) {
			warn(m, &err);
			v = NULL;
		} else {
			s->bound = true;
			s->gsi = v->gsi;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return v ? vec : MSIX_NO_VECTOR;
}

/* Lock held. */
static void commit_locked(struct msix *m)
{
	mc_err err = NULL;
	m->defer = false;
	if (m->chip && irq_commit(m->chip, &err) < 0) {
		warn(m, &err); /* stale stays set: the next interrupt tries again */
		return;
	}
	atomic_store(&m->stale, false);
}

void msix_commit(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	commit_locked(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_defer(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	m->defer = true;
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, struct msix_src *s, uint16_t vec)
{
	if (vec >= m->nvec)
		return;
	/* an interrupt before the transport committed the routes (it does at DRIVER_OK): an
	 * irqfd whose route KVM does not have yet would inject nothing */
	if (atomic_load(&m->stale))
		msix_commit(m);
	struct msix_vec *v = &m->vec[vec];
	if (atomic_load(&v->masked)) {
		atomic_store(&v->pending, true);
		/* unmasked meanwhile, and update_masks may have looked at pending before we set
		 * it: take it back and send it ourselves (twice at worst, never lost) */
		if (atomic_load(&v->masked) || !atomic_exchange(&v->pending, false))
			return;
	}
	if (s && s->bound) {
		uint64_t one = 1;
		ssize_t n = write(s->fd, &one, sizeof(one));
		(void)n; /* EAGAIN only when the counter is saturated: an interrupt is due anyway */
	} else {
		/* no irqfd on this vector (its binding failed): inject it ourselves */
		pthread_mutex_lock(&m->lock);
		fire(m, v);
		pthread_mutex_unlock(&m->lock);
	}
}

void msix_save(struct msix *m, struct state_w *w)
{
	pthread_mutex_lock(&m->lock);
	state_put8(w, (uint8_t)m->nvec);
	for (unsigned i = 0; i < m->nvec; i++) {
		state_put(w, m->vec[i].entry, MSIX_ENTRY_SIZE);
		state_put8(w, atomic_load(&m->vec[i].pending));
	}
	pthread_mutex_unlock(&m->lock);
}

int msix_load(struct msix *m, struct state_r *r, mc_err *err)
{
	unsigned n = state_get8(r);
	if (r->bad || n != m->nvec)
		return mc_errorf(err, 0, "%s: MSI-X: %u vectors saved, %u here", m->f->name, n,
				 m->nvec);
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = state_get(r, MSIX_ENTRY_SIZE);
		bool pending = state_get8(r) != 0;
		if (!e)
			break;
		memcpy(m->vec[i].entry, e, MSIX_ENTRY_SIZE);
		put32(m->vec[i].entry + 12, get32(e + 12) & MSIX_ENTRY_MASKED);
		atomic_store(&m->vec[i].pending, pending);
		route(m, &m->vec[i]);
	}
	uint16_t ctrl = get16(m->f->cfg + m->cap + 2);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fmask = ctrl & MSIX_CTRL_MASKALL;
	update_masks(m);
	pthread_mutex_unlock(&m->lock);
	if (r->bad)
		return mc_errorf(err, 0, "%s: MSI-X table cut short", m->f->name);
	return 0;
}
