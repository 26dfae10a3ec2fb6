/* The device registry: life-cycle calls in order, saved state framing, ACPI fragments. */
#include "device.h"

#include <string.h>

int devices_add(struct devices *ds, struct device *d, struct vm *vm, mc_err *err)
{
	if (ds->n == DEVICES_MAX || devices_find(ds, d->name)) {
		int r = mc_errorf(err, 0, "device %s: %s", d->name,
				  ds->n == DEVICES_MAX ? "too many devices" : "name taken");
		d->ops->destroy(d);
		return r;
	}
	d->vm = vm;
	if (d->ops->realize(d, vm, err) < 0) {
		/* before destroy: a device may keep its name inside itself (virtio-net0) */
		int r = mc_wrap(err, "device %s", d->name);
		d->ops->destroy(d);
		return r;
	}
	if (d->ops->reset)
		d->ops->reset(d);
	ds->d[ds->n++] = d;
	return 0;
}

struct device *devices_find(const struct devices *ds, const char *name)
{
	for (unsigned i = 0; i < ds->n; i++)
		if (strcmp(ds->d[i]->name, name) == 0)
			return ds->d[i];
	return NULL;
}

void devices_reset(struct devices *ds)
{
	for (unsigned i = 0; i < ds->n; i++)
		if (ds->d[i]->ops->reset)
			ds->d[i]->ops->reset(ds->d[i]);
}

void devices_pause(struct devices *ds)
{
	for (unsigned i = 0; i < ds->n; i++)
		if (ds->d[i]->ops->pause)
			ds->d[i]->ops->pause(ds->d[i]);
}

void devices_resume(struct devices *ds)
{
	for (unsigned i = ds->n; i-- > 0;)
		if (ds->d[i]->ops->resume)
			ds->d[i]->ops->resume(ds->d[i]);
}

int devices_save(struct devices *ds, struct state_w *w, mc_err *err)
{
	state_put32(w, DEVICES_STATE_MAGIC);
	state_put32(w, DEVICES_STATE_FORMAT);
	state_put32(w, ds->n);
	for (unsigned i = 0; i < ds->n; i++) {
		struct device *d = ds->d[i];
		size_t nl = strlen(d->name);
		state_put16(w, (uint16_t)nl);
		state_put(w, d->name, nl);
		state_put32(w, d->state_version);
		size_t at = w->len;
		state_put32(w, 0); /* length, filled in below */
		if (d->ops->save)
			d->ops->save(d, w);
		if (!w->oom) {
			uint32_t len = (uint32_t)(w->len - at - 4);
			uint8_t b[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
					(uint8_t)(len >> 24)};
			memcpy(w->p + at, b, 4);
		}
	}
	if (w->oom)
		return mc_errorf(err, 12 /* ENOMEM */, "saving device state");
	return 0;
}

bool devices_state_has(const uint8_t *buf, size_t len, const char *name)
{
	struct state_r r;
	state_r_init(&r, buf, len);
	uint32_t magic = state_get32(&r), format = state_get32(&r), n = state_get32(&r);
	if (r.bad || magic != DEVICES_STATE_MAGIC || format != DEVICES_STATE_FORMAT)
		return false;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		uint16_t nl = state_get16(&r);
		const uint8_t *nm = state_get(&r, nl);
		(void)state_get32(&r);
		uint32_t dlen = state_get32(&r);
		(void)state_get(&r, dlen);
		if (!r.bad && strlen(name) == nl && memcmp(nm, name, nl) == 0)
			return true;
	}
	return false;
}

int devices_load(struct devices *ds, const uint8_t *buf, size_t len, mc_err *err)
{
	struct state_r r;
	state_r_init(&r, buf, len);
	uint32_t magic = state_get32(&r), format = state_get32(&r), n = state_get32(&r);
	if (r.bad || magic != DEVICES_STATE_MAGIC)
		return mc_errorf(err, 0, "device state: not a minivm device state stream");
	if (format != DEVICES_STATE_FORMAT)
		return mc_errorf(err, 0, "device state: format %u, this minivm reads %u", format,
				 DEVICES_STATE_FORMAT);
	if (n != ds->n)
		return mc_errorf(err, 0, "device state: %u devices saved, this VM has %u", n,
				 ds->n);
	for (uint32_t i = 0; i < n; i++) {
		uint16_t nl = state_get16(&r);
		const uint8_t *name = state_get(&r, nl);
		uint32_t version = state_get32(&r), dlen = state_get32(&r);
		const uint8_t *body = state_get(&r, dlen);
		if (r.bad)
			return mc_errorf(err, 0, "device state: cut short in device %u", i);
		struct device *d = NULL;
		for (unsigned k = 0; k < ds->n && !d; k++)
			if (strlen(ds->d[k]->name) == nl && memcmp(ds->d[k]->name, name, nl) == 0)
				d = ds->d[k];
		if (!d)
			return mc_errorf(err, 0, "device state: unknown device `%.*s`", (int)nl,
					 (const char *)name);
		if (version > d->state_version || version < d->state_min_version)
			return mc_errorf(err, 0,
					 "device %s: state version %u (this minivm reads %u-%u)",
					 d->name, version, d->state_min_version, d->state_version);
		struct state_r dr;
		state_r_init(&dr, body, dlen);
		if (d->ops->load && d->ops->load(d, version, &dr, err) < 0)
			return mc_wrap(err, "device %s: load", d->name);
		if (dr.bad || dr.off != dlen)
			return mc_errorf(err, 0,
					 "device %s: state of %u bytes does not match (read %zu)",
					 d->name, dlen, dr.off);
	}
	if (r.off != len)
		return mc_errorf(err, 0, "device state: %zu bytes left over", len - r.off);
	return 0;
}

size_t devices_acpi_aml(struct devices *ds, uint8_t *buf, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < ds->n; i++) {
		struct device *d = ds->d[i];
		if (!d->ops->acpi_aml)
			continue;
		size_t room = n < max ? max - n : 0;
		n += d->ops->acpi_aml(d, buf && room ? buf + n : NULL, room);
	}
	return n;
}

void devices_destroy(struct devices *ds)
{
	while (ds->n > 0) {
		struct device *d = ds->d[--ds->n];
		d->ops->destroy(d);
	}
}
