/* libFuzzer target for the split virtqueue (vmm/virtio/virtqueue.c). The input is a ring
 * layout followed by a guest memory image:
 *   [0] log2 of the queue size (low 4 bits)   [1] bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   [2] iovec array size - 1 (low 6 bits)     [3] bit 0: save and reload the queue midway
 *   [4..5] starting last_avail_idx = used idx (le16)
 *   [6..17] descriptor table, avail ring, used ring addresses (le32 each, unchecked)
 *   [18..] guest RAM from address 0 (64 KiB, the rest zero)
 * Then pop and push until the queue is empty or broken, reading every readable buffer and
 * writing both ends of every writable one (which may overwrite the rings), with ASan watching. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "vmm/bytes.h"
#include "vmm/virtio/virtqueue.h"

#define FUZZ_MEM (64u << 10)
#define HDR	 18

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[FUZZ_MEM] __attribute__((aligned(4096)));
	if (size < HDR)
		return 0;
	size_t img = size - HDR < FUZZ_MEM ? size - HDR : FUZZ_MEM;
	memcpy(ram, data + HDR, img);
	memset(ram + img, 0, FUZZ_MEM - img);
	struct guest_mem gm;
	gm_init(&gm, ram, FUZZ_MEM);

	struct virtq vq;
	virtq_init(&vq, &gm);
	vq.size = 1u << (data[0] & 15);
	vq.features = (data[1] & 1 ? 1ull << VIRTIO_F_INDIRECT_DESC : 0) |
		      (data[1] & 2 ? 1ull << VIRTIO_F_EVENT_IDX : 0);
	vq.desc_gpa = get32(data + 6);
	vq.avail_gpa = get32(data + 10);
	vq.used_gpa = get32(data + 14);
	vq.last_avail_idx = vq.used_idx = get16(data + 4);
	mc_err err = NULL;
	if (virtq_enable(&vq, &err) < 0) {
		mc_error_free(&err);
		return 0;
	}
	struct iovec iov[64];
	struct virtq_elem e = {.iov = iov, .iov_max = (data[2] & 63) + 1u};
	volatile uint8_t sink = 0;
	/* Pops are bounded by the queue; the cap only stops writes into the rings from feeding
	 * the loop for ever. */
	for (unsigned n = 0; n < 2 * vq.size + 8; n++) {
		if (n == vq.size / 2 && (data[3] & 1)) {
			struct state_w w = {0};
			virtq_save(&vq, &w);
			struct state_r r;
			state_r_init(&r, w.p, w.len);
			if (w.oom || virtq_load(&vq, &r, &err) < 0)
				abort(); /* a saved queue must load back */
			state_w_free(&w);
		}
		int rc = virtq_pop(&vq, &e, &err);
		mc_error_free(&err);
		if (rc == VIRTQ_BROKEN)
			break;
		if (rc == VIRTQ_EMPTY) {
			if (virtq_set_notify(&vq, true))
				continue;
			break;
		}
		uint32_t written = 0;
		if (rc == VIRTQ_OK) {
			if (e.n_out + e.n_in > e.iov_max)
				abort();
			for (unsigned i = 0; i < e.n_out; i++) {
				const uint8_t *p = iov[i].iov_base;
				sink ^= p[0] ^ p[iov[i].iov_len - 1];
			}
			for (unsigned i = e.n_out; i < e.n_out + e.n_in; i++) {
				uint8_t *p = iov[i].iov_base;
				p[0] = p[iov[i].iov_len - 1] = 0xa5; /* both ends: inside RAM */
				written += (uint32_t)iov[i].iov_len;
			}
		}
		if (virtq_push(&vq, e.head, written, &err) < 0)
			abort(); /* pop returned a head < size */
		virtq_should_notify(&vq);
		virtq_set_notify(&vq, false);
	}
	(void)sink;
	mc_error_free(&err);
	return 0;
}
