/* The control API (api.h, docs/api.md). */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmds.h"
#include "log.h"
#include "loop.h"
#include "snapshot.h"
#include "util.h"
#include "vm.h"

struct api_conn {
	struct api *api;
	int fd;
	size_t len;
	char buf[API_REQUEST_MAX + 1];
};

static void conn_close(struct api_conn *c)
{
	struct api *a = c->api;
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		if (a->conns[i] == c)
			a->conns[i] = NULL;
	loop_del(a->loop, c->fd);
	close(c->fd);
	free(c);
}

/* One line of JSON, then the connection closes. The reply is small: a blocking write with a
 * timeout, so a client that does not read cannot hold the loop for long. */
static void send_reply(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (mc_write_all(fd, s, strlen(s)) < 0 || mc_write_all(fd, "\n", 1) < 0)
		mc_log_debug("api: reply not sent: %s", strerror(errno));
}

static json_object *error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_object *error_reply(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static json_object *err_reply(mc_err *err)
{
	json_object *o = error_reply("%s", mc_error_text(*err));
	mc_error_free(err);
	return o;
}

/* Milliseconds with 3 decimals, printed as such (not json-c's 17 digits). */
static json_object *jms(uint64_t ns)
{
	char b[32];
	snprintf(b, sizeof(b), "%.3f", (double)ns / 1e6);
	return json_object_new_double_s((double)ns / 1e6, b);
}

static void add_state(json_object *o, struct vm *vm)
{
	const char *s = vm_ended(vm) ? "stopping" : vm_state_name(vm_state(vm));
	json_object_object_add(o, "state", json_object_new_string(s));
}

static json_object *do_status(struct api *a)
{
	struct vm *vm = a->vm;
	json_object *o = json_object_new_object();
	add_state(o, vm);
	json_object_object_add(o, "vcpus", json_object_new_int((int)vm->ncpus));
	json_object_object_add(o, "memory_mib",
			       json_object_new_int64((int64_t)(vm->gm.size >> 20)));
	json_object_object_add(o, "uptime_ms", jms(mc_now_ns() - a->started_ns));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	if (a->restored_from)
		json_object_object_add(o, "restored_from",
				       json_object_new_string(a->restored_from));
	return o;
}

static json_object *do_pause(struct api *a)
{
	mc_err err = NULL;
	uint64_t ns = 0;
	if (vm_pause(a->vm, &ns, &err) < 0)
		return err_reply(&err);
	json_object *o = json_object_new_object();
	add_state(o, a->vm);
	json_object_object_add(o, "pause_ms", jms(ns));
	return o;
}

static json_object *do_resume(struct api *a)
{
	mc_err err = NULL;
	uint64_t ns = 0;
	if (vm_resume(a->vm, &ns, &err) < 0)
		return err_reply(&err);
	json_object *o = json_object_new_object();
	add_state(o, a->vm);
	json_object_object_add(o, "resume_ms", jms(ns));
	return o;
}

/* Pause (unless paused), save, then resume (unless it was paused or "stop" asks to end it). */
static json_object *do_snapshot(struct api *a, json_object *req)
{
	json_object *jp = NULL, *js = NULL;
	if (!json_object_object_get_ex(req, "path", &jp) ||
	    !json_object_is_type(jp, json_type_string))
		return error_reply("snapshot: missing \"path\" (a string: the snapshot directory)");
	const char *path = json_object_get_string(jp);
	if (!path[0] || strlen(path) > 3000)
		return error_reply("snapshot: \"path\" must be 1 to 3000 bytes");
	bool stop = false;
	if (json_object_object_get_ex(req, "stop", &js)) {
		if (!json_object_is_type(js, json_type_boolean))
			return error_reply("snapshot: \"stop\" must be true or false");
		stop = json_object_get_boolean(js);
	}
	struct vm *vm = a->vm;
	mc_err err = NULL;
	uint64_t t0 = mc_now_ns(), pause_ns = 0, resume_ns = 0;
	bool was_paused = vm_state(vm) == VM_STATE_PAUSED;
	if (!was_paused && vm_pause(vm, &pause_ns, &err) < 0)
		return err_reply(&err);
	struct snap_stats st = {0};
	uint64_t t1 = mc_now_ns();
	int r = snap_save(vm, path, &st, &err);
	uint64_t save_ns = mc_now_ns() - t1;
	if (stop && r == 0)
		vm_end(vm, VM_POWEROFF, "stopped after a snapshot through the control API");
	else if (!was_paused) {
		mc_err rerr = NULL;
		if (vm_resume(vm, &resume_ns, &rerr) < 0) {
			if (r == 0)
				return err_reply(&rerr);
			mc_error_free(&rerr);
		}
	}
	if (r < 0)
		return err_reply(&err);
	json_object *o = json_object_new_object();
	add_state(o, vm);
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "pause_ms", jms(pause_ns));
	json_object_object_add(o, "save_ms", jms(save_ns));
	json_object_object_add(o, "state_ms", jms(st.state_ns));
	json_object_object_add(o, "memory_ms", jms(st.memory_ns));
	json_object_object_add(o, "resume_ms", jms(resume_ns));
	json_object_object_add(o, "total_ms", jms(mc_now_ns() - t0));
	json_object_object_add(o, "state_bytes", json_object_new_int64((int64_t)st.state_bytes));
	json_object_object_add(o, "memory_bytes_written",
			       json_object_new_int64((int64_t)st.memory_bytes));
	return o;
}

static json_object *do_stop(struct api *a)
{
	vm_end(a->vm, VM_POWEROFF, "stopped through the control API");
	json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string("stopping"));
	return o;
}

static json_object *handle(struct api *a, const char *buf, size_t len)
{
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return error_reply("out of memory");
	json_object *req = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t used = tok->char_offset;
	json_tokener_free(tok);
	if (!req || je != json_tokener_success) {
		json_object_put(req);
		return error_reply("request is not JSON: %s", je == json_tokener_continue
								  ? "cut short"
								  : json_tokener_error_desc(je));
	}
	for (; used < len; used++)
		if (buf[used] != ' ' && buf[used] != '\t' && buf[used] != '\r' &&
		    buf[used] != '\n') {
			json_object_put(req);
			return error_reply("request: trailing bytes after the JSON object");
		}
	json_object *reply, *jc = NULL;
	if (!json_object_is_type(req, json_type_object))
		reply = error_reply("request must be a JSON object");
	else if (!json_object_object_get_ex(req, "cmd", &jc) ||
		 !json_object_is_type(jc, json_type_string))
		reply = error_reply("request: missing \"cmd\" (a string)");
	else {
		const char *cmd = json_object_get_string(jc);
		if (strcmp(cmd, "status") == 0)
			reply = do_status(a);
		else if (strcmp(cmd, "pause") == 0)
			reply = do_pause(a);
		else if (strcmp(cmd, "resume") == 0)
			reply = do_resume(a);
		else if (strcmp(cmd, "snapshot") == 0)
			reply = do_snapshot(a, req);
		else if (strcmp(cmd, "stop") == 0)
			reply = do_stop(a);
		else
			reply = error_reply("unknown command `%.64s` (status, pause, resume, "
					    "snapshot, stop)",
					    cmd);
	}
	json_object_put(req);
	return reply;
}

/* A request too large was answered: read what the client still sends (up to 16 MiB, 1 s), so
 * closing with unread bytes does not reset the connection before it read the reply. */
static void drain(int fd)
{
	shutdown(fd, SHUT_WR);
	struct timeval tv = {.tv_usec = 100000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	static char sink[65536];
	uint64_t t0 = mc_now_ns(), n = 0;
	while (n < (16u << 20) && mc_now_ns() - t0 < 1000000000ull) {
		ssize_t r = read(fd, sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (uint64_t)r;
	}
}

static void on_conn(void *opaque, uint32_t events)
{
	struct api_conn *c = opaque;
	bool eof = false;
	while (c->len < API_REQUEST_MAX) {
		ssize_t n = read(c->fd, c->buf + c->len, API_REQUEST_MAX - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			eof = true;
			break;
		}
		c->len += (size_t)n;
		if (memchr(c->buf + c->len - (size_t)n, '\n', (size_t)n))
			break;
	}
	char *nl = memchr(c->buf, '\n', c->len);
	json_object *reply = NULL;
	if (nl)
		reply = handle(c->api, c->buf, (size_t)(nl - c->buf));
	else if (c->len >= API_REQUEST_MAX)
		reply = error_reply("request too large (more than %u bytes)", API_REQUEST_MAX);
	else if (eof && c->len == 0) {
		conn_close(c); /* nothing asked: nobody to answer */
		return;
	} else if (eof || (events & (EPOLLHUP | EPOLLERR)))
		reply = handle(c->api, c->buf, c->len);
	if (!reply)
		return; /* wait for the rest */
	send_reply(c->fd, reply);
	json_object_put(reply);
	if (!nl && !eof)
		drain(c->fd);
	conn_close(c);
}

static void on_accept(void *opaque, uint32_t events)
{
	struct api *a = opaque;
	(void)events;
	for (;;) {
		int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		unsigned slot = 0;
		while (slot < API_MAX_CONNS && a->conns[slot])
			slot++;
		struct api_conn *c = slot < API_MAX_CONNS ? malloc(sizeof(*c)) : NULL;
		mc_err err = NULL;
		if (c) {
			*c = (struct api_conn){.api = a, .fd = fd};
			if (loop_add(a->loop, fd, EPOLLIN | EPOLLRDHUP, on_conn, c, &err) == 0) {
				a->conns[slot] = c;
				continue;
			}
			free(c);
		}
		json_object *o = err ? err_reply(&err)
				     : error_reply("busy: %u requests in progress", API_MAX_CONNS);
		send_reply(fd, o);
		json_object_put(o);
		close(fd);
	}
}

int api_open(struct api *a, const char *path, struct loop *l, struct vm *vm, mc_err *err)
{
	*a = (struct api){.fd = -1, .loop = l, .vm = vm, .started_ns = mc_now_ns()};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return mc_errorf(err, 0, "--api `%s`: longer than %zu bytes", path,
				 sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return mc_errorf(err, EEXIST, "--api `%s`: exists and is not a socket",
					 path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (live)
			return mc_errorf(err, EADDRINUSE, "--api `%s`: another minivm serves it",
					 path);
		unlink(path); /* stale: its minivm is gone */
	}
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0)
		return mc_errorf(err, errno, "--api: socket");
	if (bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(a->fd);
		a->fd = -1;
		return mc_errorf(err, e, "--api: bind `%s`", path);
	}
	a->path = strdup(path);
	if (!a->path || listen(a->fd, 16) < 0 ||
	    loop_add(l, a->fd, EPOLLIN, on_accept, a, err) < 0) {
		int e = errno;
		api_close(a);
		return mc_errorf(err, e, "--api `%s`", path);
	}
	return 0;
}

void api_close(struct api *a)
{
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		if (a->conns[i])
			conn_close(a->conns[i]);
	if (a->fd >= 0) {
		if (a->loop)
			loop_del(a->loop, a->fd);
		close(a->fd);
	}
	a->fd = -1;
	if (a->path)
		unlink(a->path);
	free(a->path);
	a->path = NULL;
}

/* ---- the client ------------------------------------------------------------------------ */

static const char client_usage[] =
    "usage: minivm status   --api PATH\n"
    "       minivm pause    --api PATH\n"
    "       minivm resume   --api PATH\n"
    "       minivm snapshot --api PATH [--stop] DIR\n"
    "       minivm stop     --api PATH\n"
    "Prints the JSON reply; exit status 0, 1 when the reply is an error, 125 without a reply.\n";

int cmd_api_client(int argc, char **argv)
{
	const char *verb = argv[0], *path = NULL, *dir = NULL;
	bool stop = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--api") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--api=", 6) == 0)
			path = argv[i] + 6;
		else if (strcmp(argv[i], "--stop") == 0 && strcmp(verb, "snapshot") == 0)
			stop = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(client_usage, stdout);
			return 0;
		} else if (argv[i][0] != '-' && !dir && strcmp(verb, "snapshot") == 0)
			dir = argv[i];
		else {
			fprintf(stderr, "minivm %s: unexpected argument `%s`\n%s", verb, argv[i],
				client_usage);
			return 2;
		}
	}
	if (!path || (strcmp(verb, "snapshot") == 0 && !dir)) {
		fprintf(stderr, "minivm %s: missing %s\n%s", verb, path ? "DIR" : "--api PATH",
			client_usage);
		return 2;
	}
	json_object *req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(verb));
	if (dir) {
		/* The server resolves relative paths against its own directory: send ours. */
		char abs[PATH_MAX + 8], cwd[PATH_MAX];
		if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
			snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
		else
			snprintf(abs, sizeof(abs), "%s", dir);
		json_object_object_add(req, "path", json_object_new_string(abs));
		if (stop)
			json_object_object_add(req, "stop", json_object_new_boolean(1));
	}
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int status = MINIVM_EXIT_ERROR;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "minivm %s: --api `%s` is too long\n", verb, path);
		goto out;
	}
	strcpy(sa.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "minivm %s: connect `%s`: %s\n", verb, path, strerror(errno));
		goto out;
	}
	if (mc_write_all(fd, s, strlen(s)) < 0 || mc_write_all(fd, "\n", 1) < 0) {
		fprintf(stderr, "minivm %s: send: %s\n", verb, strerror(errno));
		goto out;
	}
	shutdown(fd, SHUT_WR);
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	json_object *reply = len ? json_tokener_parse(buf) : NULL;
	if (!reply) {
		fprintf(stderr, "minivm %s: no valid reply from `%s`\n", verb, path);
		goto out;
	}
	fputs(buf, stdout);
	if (len && buf[len - 1] != '\n')
		fputc('\n', stdout);
	status = json_object_object_get_ex(reply, "error", NULL) ? 1 : 0;
	json_object_put(reply);
out:
	if (fd >= 0)
		close(fd);
	json_object_put(req);
	return status;
}
