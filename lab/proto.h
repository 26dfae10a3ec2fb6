/* The lab agent's wire protocol: framed messages over one TCP connection per request.
 *
 * A frame is: type (1 byte), payload length (4 bytes, little endian), payload.
 * Client first sends TOKEN (the lab's secret), then either PING, POWEROFF, or a command:
 * CWD, ARG..., ENV..., GO, followed by STDIN chunks, STDIN_EOF and SIGNAL frames.
 * The agent answers PONG, or streams STDOUT/STDERR chunks and ends with EXIT (int32 status:
 * the exit code, or 128+signal) or FAIL (a message; the request could not run). While a
 * command runs, the agent sends ALIVE (no payload) whenever it has sent nothing for
 * LAB_ALIVE_MS, so the client can tell a quiet command from a lab that stopped answering.
 */
#ifndef LAB_PROTO_H
#define LAB_PROTO_H

#include <stdint.h>

#include "error.h"

enum lab_msg {
	LAB_TOKEN = 'K',
	LAB_CWD = 'D',
	LAB_ARG = 'A',
	LAB_ENV = 'V',
	LAB_GO = 'G',
	LAB_STDIN = 'I',
	LAB_STDIN_EOF = 'Z',
	LAB_SIGNAL = 'S',
	LAB_PING = 'P',
	LAB_POWEROFF = 'Q',
	LAB_PONG = 'p',
	LAB_STDOUT = 'O',
	LAB_STDERR = 'E',
	LAB_EXIT = 'X',
	LAB_FAIL = 'F',
	LAB_ALIVE = 'H',
};

#define LAB_ALIVE_MS 2000
/* Nothing at all from the lab for this long while a command runs: the lab is taken for dead.
 * Generous: a lab under heavy load still gets its agent scheduled every few seconds. */
#define LAB_DEAD_MS 60000

#define LAB_MAX_PAYLOAD (1u << 20)
#define LAB_MAX_ARGS	4096
#define LAB_TOKEN_LEN	64 /* hex characters */

struct lab_frame {
	char type;
	uint32_t len;
	char *data; /* malloc'd, NUL-terminated (len + 1 bytes) */
};

int lab_send(int fd, char type, const void *buf, uint32_t len);
int lab_send_str(int fd, char type, const char *s);
int lab_send_u32(int fd, char type, uint32_t v);
/* Read one frame. Returns 1 on a frame, 0 on a clean EOF before any byte, -1 on error. */
int lab_recv(int fd, struct lab_frame *f, mc_err *err);
/* The same with a lower size limit (checked before anything is allocated). */
int lab_recv_max(int fd, struct lab_frame *f, uint32_t max, mc_err *err);
/* The 4-byte payload of EXIT/SIGNAL frames. */
int lab_frame_u32(const struct lab_frame *f, uint32_t *v, mc_err *err);
void lab_frame_free(struct lab_frame *f);

#endif
