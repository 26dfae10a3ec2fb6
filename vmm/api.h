/* The control API (docs/api.md): a Unix socket served by the main thread's event loop. One
 * JSON request per connection, ended by a newline or by the client shutting down its side;
 * one JSON reply line, then the connection closes. Errors are replies ({"error": "..."}), never
 * a dropped connection. The client side is `minivm status|pause|resume|snapshot|stop`.
 */
#ifndef MINIVM_API_H
#define MINIVM_API_H

#include <stdint.h>

#include "error.h"

#define API_REQUEST_MAX (64u << 10)
#define API_MAX_CONNS	8

struct loop;
struct vm;
struct api_conn;
struct migration;

struct api {
	int fd; /* the listening socket, -1: none */
	char *path;
	struct loop *loop;
	struct vm *vm;
	uint64_t started_ns; /* for uptime */
	const char *restored_from;
	struct api_conn *conns[API_MAX_CONNS];
	struct migration *mig; /* the source side of live migration (migrate.h) */
};

/* Bind PATH (refused if a live server answers there; a stale socket file is replaced) and
 * watch it in the loop. */
int api_open(struct api *a, const char *path, struct loop *l, struct vm *vm, mc_err *err);
/* Close every connection and the socket, remove the socket file. Safe on a zeroed api with
 * fd -1, and twice. */
void api_close(struct api *a);

/* `minivm VERB --api PATH ...` (argv[0] is the verb): prints the reply, returns 0, 1 for an
 * error reply, 125 when there was no reply. */
int cmd_api_client(int argc, char **argv);

#endif
