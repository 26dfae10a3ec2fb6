/* The debug I/O port protocol between a guest and minivm (docs/boot.md).
 *
 * The guest writes one 32-bit value with `outl` to MINI_DEBUG_PORT: the milestone code in the
 * top 8 bits and a payload in the low 24 bits. minivm timestamps each write when it happens, so
 * no console text has to be parsed. Port 0x80 (Cloud Hypervisor's choice) is not used because
 * Linux itself writes it as an I/O delay; this port is unused on PCs, and a write to it under
 * QEMU or on hardware without minivm is simply ignored.
 *
 * Shared by guestinit, the tiny test guests (tests/guests/) and minivm (vmm/).
 */
#ifndef MINI_DEBUG_PORT_H
#define MINI_DEBUG_PORT_H

#define MINI_DEBUG_PORT 0x0ee0

/* Milestone codes (value >> 24). */
#define MINI_DBG_INIT  0x01 /* guest PID 1 is running; payload 0 */
#define MINI_DBG_READY 0x02 /* mounts and modules done, command about to start; payload 0 */
#define MINI_DBG_EXIT  0x03 /* command ended; payload = exit status (0-255, 128+signal) */
#define MINI_DBG_NOTE  0x11 /* tiny test guests: free-form value, logged by minivm */

#define MINI_DBG_VALUE(code, payload) (((unsigned)(code) << 24) | ((unsigned)(payload)&0xffffffu))
#define MINI_DBG_CODE(value)	      ((unsigned)(value) >> 24)
#define MINI_DBG_PAYLOAD(value)	      ((unsigned)(value)&0xffffffu)

#endif
