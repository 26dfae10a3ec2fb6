/* The modern virtio-pci transport (virtio spec 1.2, 4.1): a PCI function on the host bridge
 * (hw/pci.h) with one 64-bit memory BAR holding every structure, vendor capabilities that
 * point into it, MSI-X (hw/msix.h) for interrupts and an ioeventfd per queue for kicks.
 *
 *   BAR 0 (32 KiB)   0x0000 common cfg    0x1000 ISR         0x2000 device cfg
 *                    0x3000 notify (4 bytes per queue: notify_off_multiplier 4)
 *                    0x4000 MSI-X table   0x5000 PBA
 *
 * Capabilities: common (1), notify (2), ISR (3), device (4, when the model has config
 * space), the PCI config access window (5) and MSI-X. Vectors: one per queue plus one for
 * config changes, or as many as the model asks (vd->msix_vectors: virtio-console's 2, which
 * Linux shares: one for config changes, one for every queue). No INTx: the function's interrupt pin
 * is 0, so a guest without MSI-X gets no interrupts from it (Linux's virtio_pci fails the probe
 * then); the ISR register still counts what would have been raised.
 *
 * Locks: register accesses take vd->lock (the core's calls need it); the MSI-X code its own,
 * inside. Config space accesses come with the PCI host's lock held, outside vd->lock.
 */
#include "virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bytes.h"
#include "hw/msix.h"
#include "hw/pci.h"
#include "log.h"
#include "vm.h"

#define VIRTIO_PCI_VENDOR    0x1af4
#define VIRTIO_PCI_DEVICE0   0x1040 /* + the virtio device id */
#define VIRTIO_PCI_SUBSYS_ID 0x1100

#define VP_BAR_SIZE    0x8000u
#define VP_COMMON      0x0000u
#define VP_COMMON_LEN  0x38u
#define VP_ISR	       0x1000u
#define VP_DEVICE      0x2000u
#define VP_NOTIFY      0x3000u
#define VP_NOTIFY_MULT 4u
#define VP_MSIX_TABLE  0x4000u
#define VP_MSIX_PBA    0x5000u
#define VP_REGION      0x1000u		 /* each structure's page */
#define VP_CFG_SRC     VIRTIO_MAX_QUEUES /* the config change's interrupt source */

/* struct virtio_pci_cap's cfg_type */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_PCI_CFG = 5 };

/* struct virtio_pci_common_cfg */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10,
	CC_NUM_QUEUES = 0x12,
	CC_STATUS = 0x14,
	CC_GENERATION = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESC = 0x20,
	CC_Q_DRIVER = 0x28,
	CC_Q_DEVICE = 0x30,
};

struct vpci {
	struct pci_function f;
	struct msix msix;
	struct virtio_dev *vd;
	struct vm *vm;
	struct pci_host *host;
	bool msix_on, registered;
	uint8_t cap_cfg; /* the PCI config access capability's offset */
	/* Common config (vd->lock) */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	_Atomic uint16_t config_vector;
	_Atomic uint8_t isr;
	/* Interrupt sources: each queue, then the config change (VP_CFG_SRC) */
	struct msix_src src[VIRTIO_MAX_QUEUES + 1];
	/* Where the BAR is (vd->lock; written by on_bar with the host's lock held too) and the
	 * queues' ioeventfds on it */
	uint64_t bar_addr;
	bool bar_mapped;
	bool in_load; /* vd->lock is already ours (load) when on_bar runs */
	bool ioev_on[VIRTIO_MAX_QUEUES];
	uint64_t ioev_addr[VIRTIO_MAX_QUEUES];
};

static struct vpci *to_vp(struct virtio_dev *vd)
{
	return vd->transport;
}

/* Each enabled queue has an ioeventfd on its notify address while the BAR is mapped, unless
 * the model handles its notifies in the exit (trap_notify) or expects few (no_ioeventfd); the
 * rest trap (vd->lock held). */
static void sync_ioeventfds(struct vpci *vp)
{
	struct virtio_dev *vd = vp->vd;
	struct irq_chip *chip = &vp->vm->irq;
	for (unsigned q = 0; q < vd->nqueues; q++) {
		uint64_t addr = vp->bar_addr + VP_NOTIFY + VP_NOTIFY_MULT * q;
		bool want = chip->has_ioeventfd && vp->bar_mapped && vd->q[q].vq.enabled &&
			    !vd->q[q].trap_notify && !vd->q[q].no_ioeventfd;
		mc_err err = NULL;
		if (vp->ioev_on[q] && (!want || vp->ioev_addr[q] != addr)) {
			struct ioeventfd io = {
			    .addr = vp->ioev_addr[q], .len = 2, .fd = vd->q[q].kick_fd};
			if (irq_ioeventfd_deassign(chip, &io, &err) < 0) {
				mc_log_warn("%s: queue %u: %s", vd->dev.name, q,
					    mc_error_text(err));
				mc_error_free(&err);
			}
			vp->ioev_on[q] = false;
		}
		if (want && !vp->ioev_on[q]) {
			struct ioeventfd io = {.addr = addr, .len = 2, .fd = vd->q[q].kick_fd};
			if (irq_ioeventfd_assign(chip, &io, &err) < 0) {
				/* the notify write traps instead: slower, still right */
				mc_log_warn("%s: queue %u: %s", vd->dev.name, q,
					    mc_error_text(err));
				mc_error_free(&err);
				continue;
			}
			vp->ioev_on[q] = true;
			vp->ioev_addr[q] = addr;
		}
	}
}

/* Common config as the driver reads it now (vd->lock held). */
static void common_view(struct vpci *vp, uint8_t *v)
{
	struct virtio_dev *vd = vp->vd;
	memset(v, 0, VP_COMMON_LEN);
	uint64_t df = virtio_device_features(vd), gf = vd->driver_features;
	put32(v + CC_DFSELECT, vp->dfselect);
	put32(v + CC_DF, vp->dfselect < 2 ? (uint32_t)(df >> (32 * vp->dfselect)) : 0);
	put32(v + CC_GFSELECT, vp->gfselect);
	put32(v + CC_GF, vp->gfselect < 2 ? (uint32_t)(gf >> (32 * vp->gfselect)) : 0);
	put16(v + CC_MSIX_CONFIG, atomic_load(&vp->config_vector));
	put16(v + CC_NUM_QUEUES, (uint16_t)vd->nqueues);
	v[CC_STATUS] = virtio_get_status(vd);
	v[CC_GENERATION] = (uint8_t)virtio_config_generation(vd);
	put16(v + CC_Q_SELECT, vp->queue_select);
	if (vp->queue_select >= vd->nqueues)
		return; /* size 0: no such queue */
	struct virtio_queue *q = &vd->q[vp->queue_select];
	put16(v + CC_Q_SIZE, (uint16_t)q->vq.size);
	put16(v + CC_Q_MSIX, q->vector);
	put16(v + CC_Q_ENABLE, q->vq.enabled);
	put16(v + CC_Q_NOFF, vp->queue_select);
	put64(v + CC_Q_DESC, q->vq.desc_gpa);
	put64(v + CC_Q_DRIVER, q->vq.avail_gpa);
	put64(v + CC_Q_DEVICE, q->vq.used_gpa);
}

/* A 64-bit register written whole or as two 32-bit halves. */
static void set_half(uint64_t *reg, uint32_t at, const uint8_t *data, uint32_t len)
{
	if (len == 8)
		*reg = get64(data);
	else if (at == 0)
		*reg = (*reg & ~0xffffffffull) | get32(data);
	else
		*reg = (*reg & 0xffffffffull) | (uint64_t)get32(data) << 32;
}

static void common_write(struct vpci *vp, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_dev *vd = vp->vd;
	struct virtio_queue *q = vp->queue_select < vd->nqueues ? &vd->q[vp->queue_select] : NULL;
	/* ring set-up only while the queue is off (the driver must not change a live one) */
	bool q_ok = q && !q->vq.enabled;
	if (len == 4 && off == CC_DFSELECT) {
		vp->dfselect = get32(data);
	} else if (len == 4 && off == CC_GFSELECT) {
		vp->gfselect = get32(data);
	} else if (len == 4 && off == CC_GF) {
		if (vp->gfselect < 2) {
			uint64_t f = vd->driver_features, sh = 32 * vp->gfselect;
			f = (f & ~(0xffffffffull << sh)) | (uint64_t)get32(data) << sh;
			virtio_set_driver_features(vd, f);
		}
	} else if (len == 2 && off == CC_MSIX_CONFIG) {
		atomic_store(&vp->config_vector,
			     msix_bind(&vp->msix, &vp->src[VP_CFG_SRC], get16(data)));
	} else if (len == 1 && off == CC_STATUS) {
		/* the routes the driver's set-up made (vectors bound, entries unmasked), in one
		 * KVM update, before the model starts: vhost writes its irqfds without us */
		if (data[0] & VIRTIO_STATUS_DRIVER_OK)
			msix_commit(&vp->msix);
		virtio_set_status(vd, data[0]);
	} else if (len == 2 && off == CC_Q_SELECT) {
		vp->queue_select = get16(data);
	} else if (len == 2 && off == CC_Q_SIZE) {
		if (q_ok)
			q->vq.size = get16(data);
	} else if (len == 2 && off == CC_Q_MSIX) {
		if (q)
			__atomic_store_n(
			    &q->vector,
			    msix_bind(&vp->msix, &vp->src[vp->queue_select], get16(data)),
			    __ATOMIC_RELEASE);
	} else if (len == 2 && off == CC_Q_ENABLE) {
		/* 0 is not the driver's to write (no VIRTIO_F_RING_RESET) */
		if (q_ok && get16(data) == 1 && virtio_queue_enable(vd, vp->queue_select) == 0)
			sync_ioeventfds(vp);
	} else if ((len == 4 || (len == 8 && off % 8 == 0)) && off >= CC_Q_DESC &&
		   off < CC_Q_DEVICE + 8) {
		if (!q_ok)
			return;
		uint64_t *reg = off < CC_Q_DRIVER   ? &q->vq.desc_gpa
				: off < CC_Q_DEVICE ? &q->vq.avail_gpa
						    : &q->vq.used_gpa;
		set_half(reg, off % 8, data, len);
	}
	/* anything else: read-only or not a register at its natural width */
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vpci *vp = opaque;
	struct virtio_dev *vd = vp->vd;
	uint64_t region = off & ~(uint64_t)(VP_REGION - 1), at = off - region;
	if (!is_write)
		memset(data, 0, len);
	switch (region) {
	case VP_COMMON:
		virtio_lock(vd);
		if (is_write)
			common_write(vp, (uint32_t)at, data, len);
		else if (at + len <= VP_COMMON_LEN) {
			uint8_t v[VP_COMMON_LEN];
			common_view(vp, v);
			memcpy(data, v + at, len);
		}
		virtio_unlock(vd);
		break;
	case VP_ISR:
		if (!is_write && at == 0)
			data[0] = atomic_exchange(&vp->isr, 0); /* read to clear */
		break;
	case VP_DEVICE:
		virtio_lock(vd);
		if (is_write)
			virtio_config_write(vd, (uint32_t)at, data, len);
		else
			virtio_config_read(vd, (uint32_t)at, data, len);
		virtio_unlock(vd);
		break;
	case VP_NOTIFY:
		/* a notify the ioeventfd did not take (a trap_notify queue, none assigned,
		 * another width) */
		if (is_write && at % VP_NOTIFY_MULT == 0)
			virtio_queue_notified(vd, (unsigned)(at / VP_NOTIFY_MULT));
		break;
	case VP_MSIX_TABLE:
		msix_table_io(&vp->msix, at, data, len, is_write);
		break;
	case VP_MSIX_PBA:
		msix_pba_io(&vp->msix, at, data, len, is_write);
		break;
	default:
		break;
	}
}

/* Config space hook (the host's lock held): MSI-X control, the config access window. */
static void on_cfg(struct pci_function *f, uint32_t off, uint32_t len, bool is_write)
{
	struct vpci *vp = f->opaque;
	if (is_write && vp->msix_on)
		msix_cfg_written(&vp->msix, off, len);
	uint32_t win = vp->cap_cfg + 16u; /* pci_cfg_data */
	if (!vp->cap_cfg || off >= win + 4 || off + len <= win)
		return;
	uint8_t bar = f->cfg[vp->cap_cfg + 4];
	uint32_t o = get32(f->cfg + vp->cap_cfg + 8), l = get32(f->cfg + vp->cap_cfg + 12);
	if (bar != 0 || (l != 1 && l != 2 && l != 4) || o % l || o >= VP_BAR_SIZE)
		return;
	if (is_write) {
		if (off == win) /* the window is accessed at its start */
			bar_io(vp, o, f->cfg + win, l, true);
	} else {
		memset(f->cfg + win, 0, 4);
		bar_io(vp, o, f->cfg + win, l, false);
	}
}

static void on_bar(struct pci_function *f, unsigned bar, uint64_t addr, bool mapped)
{
	struct vpci *vp = f->opaque;
	if (bar != 0)
		return;
	if (!vp->in_load)
		virtio_lock(vp->vd);
	vp->bar_addr = addr;
	vp->bar_mapped = mapped;
	sync_ioeventfds(vp);
	if (!vp->in_load)
		virtio_unlock(vp->vd);
}

static int add_vcap(struct vpci *vp, uint8_t type, uint32_t off, uint32_t len, uint32_t extra,
		    bool has_extra, uint8_t *at, mc_err *err)
{
	uint8_t b[18] = {0};
	b[0] = has_extra ? 20 : 16; /* cap_len */
	b[1] = type;
	b[2] = 0; /* BAR */
	put32(b + 6, off);
	put32(b + 10, len);
	put32(b + 14, extra);
	return pci_function_add_cap(&vp->f, PCI_CAP_ID_VNDR, b, has_extra ? 18 : 14, at, err);
}

static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network controller, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x010000; /* mass storage, SCSI (as QEMU's virtio-blk) */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* simple communication, other */
	default:
		return 0xff0000;
	}
}

static void vp_free(struct vpci *vp)
{
	for (unsigned i = 0; i <= VIRTIO_MAX_QUEUES; i++)
		if (vp->src[i].fd >= 0)
			close(vp->src[i].fd);
	free(vp);
}

static int vp_attach(struct virtio_dev *vd, struct vm *vm, mc_err *err)
{
	struct pci_host *host = pci_host_of(vm);
	if (!host)
		return mc_errorf(err, 0, "no PCI host bridge in this VM");
	if (!vm->irq.has_irqfd || !vm->irq.has_routing)
		return mc_errorf(err, 0, "MSI-X needs KVM's irqfd and GSI routing");
	struct vpci *vp = calloc(1, sizeof(*vp));
	if (!vp)
		return mc_errorf(err, ENOMEM, "%s", vd->dev.name);
	for (unsigned i = 0; i <= VIRTIO_MAX_QUEUES; i++)
		vp->src[i].fd = -1;
	vp->vd = vd;
	vp->vm = vm;
	vp->host = host;
	atomic_store(&vp->config_vector, VIRTIO_NO_VECTOR);
	for (unsigned i = 0; i <= VIRTIO_MAX_QUEUES; i++) {
		if (i >= vd->nqueues && i != VP_CFG_SRC)
			continue;
		vp->src[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->src[i].fd < 0) {
			int e = errno;
			vp_free(vp);
			return mc_errorf(err, e, "%s: eventfd", vd->dev.name);
		}
	}
	struct pci_function *f = &vp->f;
	pci_function_init(f, vd->dev.name, VIRTIO_PCI_VENDOR,
			  (uint16_t)(VIRTIO_PCI_DEVICE0 + vd->device_id), class_of(vd->device_id),
			  1, VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS_ID);
	f->opaque = vp;
	f->on_cfg = on_cfg;
	f->on_bar = on_bar;
	uint8_t at;
	unsigned nvec = vd->msix_vectors ? vd->msix_vectors : vd->nqueues + 1;
	if (pci_function_add_bar(f, 0, VP_BAR_SIZE, PCI_BAR_MEM64, bar_io, vp, err) < 0 ||
	    add_vcap(vp, CAP_COMMON, VP_COMMON, VP_COMMON_LEN, 0, false, &at, err) < 0 ||
	    add_vcap(vp, CAP_NOTIFY, VP_NOTIFY, VP_NOTIFY_MULT * vd->nqueues, VP_NOTIFY_MULT, true,
		     &at, err) < 0 ||
	    add_vcap(vp, CAP_ISR, VP_ISR, 1, 0, false, &at, err) < 0 ||
	    (vd->config_len &&
	     add_vcap(vp, CAP_DEVICE, VP_DEVICE, vd->config_len, 0, false, &at, err) < 0) ||
	    add_vcap(vp, CAP_PCI_CFG, 0, 0, 0, true, &vp->cap_cfg, err) < 0) {
		vp_free(vp);
		return -1;
	}
	/* the config access window: BAR, offset, length and data are the driver's */
	static const uint8_t rw[16] = {0xff, 0,	   0,	 0,    0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	pci_function_set_wmask(f, vp->cap_cfg + 4, 16, rw);
	if (msix_init(&vp->msix, f, nvec, 0, VP_MSIX_TABLE, VP_MSIX_PBA, &vm->irq, err) < 0) {
		vp_free(vp);
		return -1;
	}
	vp->msix_on = true;
	vd->transport = vp;
	if (pci_register_function(host, f, err) < 0) {
		vd->transport = NULL;
		msix_fini(&vp->msix);
		vp_free(vp);
		return -1;
	}
	vp->registered = true;
	return 0;
}

static void vp_notify_queue(struct virtio_dev *vd, unsigned q)
{
	struct vpci *vp = to_vp(vd);
	if (!vp || q >= vd->nqueues)
		return;
	atomic_fetch_or(&vp->isr, 1);
	msix_notify(&vp->msix, &vp->src[q], __atomic_load_n(&vd->q[q].vector, __ATOMIC_ACQUIRE));
}

static void vp_notify_config(struct virtio_dev *vd)
{
	struct vpci *vp = to_vp(vd);
	if (!vp)
		return;
	atomic_fetch_or(&vp->isr, 2);
	msix_notify(&vp->msix, &vp->src[VP_CFG_SRC], atomic_load(&vp->config_vector));
}

/* Every interrupt source (the queues' and the config's) off its vector. */
static void unbind_all(struct vpci *vp)
{
	for (unsigned i = 0; i <= VIRTIO_MAX_QUEUES; i++)
		if (vp->src[i].fd >= 0)
			msix_bind(&vp->msix, &vp->src[i], MSIX_NO_VECTOR);
}

/* The driver reset the device (vd->lock held; the core has reset the queues and vectors). */
static void vp_reset(struct virtio_dev *vd)
{
	struct vpci *vp = to_vp(vd);
	if (!vp)
		return;
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	atomic_store(&vp->isr, 0);
	atomic_store(&vp->config_vector, VIRTIO_NO_VECTOR);
	unbind_all(vp);
	msix_defer(&vp->msix); /* until the driver's next DRIVER_OK */
	sync_ioeventfds(vp);
}

#define VP_STATE_MAGIC 0x49435056u /* "VPCI" */

static void vp_save(struct virtio_dev *vd, struct state_w *w)
{
	struct vpci *vp = to_vp(vd);
	state_put32(w, VP_STATE_MAGIC);
	pthread_mutex_lock(&vp->host->lock);
	pci_function_save(&vp->f, w);
	pthread_mutex_unlock(&vp->host->lock);
	msix_save(&vp->msix, w);
	state_put32(w, vp->dfselect);
	state_put32(w, vp->gfselect);
	state_put16(w, vp->queue_select);
	state_put16(w, atomic_load(&vp->config_vector));
	state_put8(w, atomic_load(&vp->isr));
}

/* vd->lock held; the core has loaded the queues (vectors included). The host's lock is taken
 * inside vd->lock here (and in save), the reverse of a config access's order: both run only
 * while the VM is paused, when no vCPU makes config accesses. */
static int vp_load(struct virtio_dev *vd, struct state_r *r, mc_err *err)
{
	struct vpci *vp = to_vp(vd);
	if (state_get32(r) != VP_STATE_MAGIC)
		return mc_errorf(err, 0, "not a virtio-pci state");
	vp->in_load = true;
	int rc = pci_function_load(&vp->f, r, err);
	vp->in_load = false;
	if (rc < 0 || msix_load(&vp->msix, r, err) < 0)
		return -1;
	vp->dfselect = state_get32(r);
	vp->gfselect = state_get32(r);
	vp->queue_select = state_get16(r);
	uint16_t cv = state_get16(r);
	atomic_store(&vp->isr, state_get8(r));
	if (r->bad)
		return mc_errorf(err, 0, "virtio-pci state cut short");
	atomic_store(&vp->config_vector, msix_bind(&vp->msix, &vp->src[VP_CFG_SRC], cv));
	for (unsigned q = 0; q < vd->nqueues; q++)
		vd->q[q].vector = msix_bind(&vp->msix, &vp->src[q], vd->q[q].vector);
	msix_commit(&vp->msix); /* the loaded routes, in one update */
	sync_ioeventfds(vp);
	return 0;
}

static int vp_queue_call_fd(struct virtio_dev *vd, unsigned q, mc_err *err)
{
	struct vpci *vp = to_vp(vd);
	if (!vp || q >= vd->nqueues)
		return mc_errorf(err, 0, "%s: no queue %u", vd->dev.name, q);
	return vp->src[q].fd;
}

static void vp_detach(struct virtio_dev *vd)
{
	struct vpci *vp = to_vp(vd);
	if (!vp)
		return;
	virtio_lock(vd);
	unbind_all(vp);
	vp->bar_mapped = false; /* so every ioeventfd goes */
	sync_ioeventfds(vp);
	virtio_unlock(vd);
	if (vp->registered) {
		pci_unregister_function(vp->host, &vp->f);
		bus_synchronize(&vp->vm->mmio); /* no vCPU is in bar_io any more */
	}
	msix_fini(&vp->msix);
	vd->transport = NULL;
	vp_free(vp);
}

static const struct virtio_transport_ops vp_ops = {
    .name = "pci",
    .attach = vp_attach,
    .notify_queue = vp_notify_queue,
    .notify_config = vp_notify_config,
    .reset = vp_reset,
    .save = vp_save,
    .load = vp_load,
    .detach = vp_detach,
    .queue_call_fd = vp_queue_call_fd,
};

int virtio_pci_transport_new(const struct virtio_transport_ops **tops, void **transport,
			     mc_err *err)
{
	(void)err;
	*tops = &vp_ops;
	*transport = NULL; /* made by attach, when the device is realized in a VM */
	return 0;
}
