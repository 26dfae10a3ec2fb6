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
#include "migrate.h"
#include "snapshot.h"
#include "util.h"
#include "vm.h"

struct api_conn {
	struct api *api;
	int fd;
	bool waiting; /* a migrate request with "wait": answered when the migration ends */
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
	json_object *devs = json_object_new_object();
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct device *d = vm->devices.d[i];
		if (!d->ops->describe)
			continue;
		char line[1024];
		d->ops->describe(d, line, sizeof(line));
		json_object_object_add(devs, d->name, json_object_new_string(line));
	}
	json_object_object_add(o, "devices", devs);
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
	if (a->mig && mig_lost(a->mig))
		return error_reply("resume: the post-copy migration failed after the guest ran at "
				   "the destination: this copy is stale and stays paused (`stop` "
				   "ends it)");
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
		vm_end(vm, VM_STOPPED, "stopped after a snapshot through the control API");
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

/* handle()'s answer for a request answered later (migrate with "wait"). */
static char deferred_reply;
#define DEFERRED ((json_object *)&deferred_reply)

static json_object *busy_migrating(struct api *a)
{
	if (a->mig && mig_active(a->mig))
		return error_reply("a migration is in progress (migrate-status, migrate-cancel)");
	return NULL;
}

static json_object *mig_reply(struct api *a)
{
	char *s = mig_report_json(a->mig);
	json_object *o = s ? json_tokener_parse(s) : NULL;
	free(s);
	return o ? o : error_reply("out of memory");
}

static bool get_uint(json_object *req, const char *key, uint64_t max, uint64_t *out,
		     json_object **bad)
{
	json_object *j;
	if (!json_object_object_get_ex(req, key, &j))
		return true;
	if (!json_object_is_type(j, json_type_int) || json_object_get_int64(j) < 0 ||
	    (uint64_t)json_object_get_int64(j) > max) {
		*bad = error_reply("migrate: \"%s\" must be an integer from 0 to %llu", key,
				   (unsigned long long)max);
		return false;
	}
	*out = (uint64_t)json_object_get_int64(j);
	return true;
}

static json_object *do_migrate(struct api *a, json_object *req, bool *wait)
{
	json_object *ju = NULL, *jb, *bad = NULL;
	if (!json_object_object_get_ex(req, "uri", &ju) ||
	    !json_object_is_type(ju, json_type_string))
		return error_reply("migrate: missing \"uri\" (tcp:HOST:PORT or unix:PATH)");
	struct mig_params p = {0};
	const char *uri = json_object_get_string(ju);
	if (strlen(uri) >= sizeof(p.uri))
		return error_reply("migrate: \"uri\" longer than %zu bytes", sizeof(p.uri) - 1);
	strcpy(p.uri, uri);
	uint64_t rounds = 0;
	if (!get_uint(req, "max_downtime_ms", 3600000, &p.max_downtime_ms, &bad) ||
	    !get_uint(req, "bandwidth", 1u << 20, &p.bandwidth_mibps, &bad) ||
	    !get_uint(req, "max_rounds", 1000, &rounds, &bad))
		return bad;
	p.max_rounds = (uint32_t)rounds;
	const char *flags[] = {"compress", "wait", "auto_converge", "postcopy", "copy_storage"};
	/* "postcopy": true (when pre-copy does not converge) or "now" */
	if (json_object_object_get_ex(req, "postcopy", &jb) &&
	    json_object_is_type(jb, json_type_string)) {
		if (strcmp(json_object_get_string(jb), "now") != 0)
			return error_reply("migrate: \"postcopy\" is true, false or \"now\"");
		p.postcopy = p.postcopy_now = true;
		json_object_object_del(req, "postcopy");
	}
	bool vals[5] = {false, false, false, false, false};
	for (int i = 0; i < 5; i++)
		if (json_object_object_get_ex(req, flags[i], &jb)) {
			if (!json_object_is_type(jb, json_type_boolean))
				return error_reply("migrate: \"%s\" must be true or false",
						   flags[i]);
			vals[i] = json_object_get_boolean(jb);
		}
	p.compress = vals[0];
	p.auto_converge = vals[2];
	p.postcopy = p.postcopy || vals[3];
	p.copy_storage = vals[4];
	mc_err err = NULL;
	if (!a->mig)
		return error_reply("migrate: not available");
	if (mig_start(a->mig, &p, &err) < 0)
		return err_reply(&err);
	if (vals[1]) {
		*wait = true;
		return DEFERRED;
	}
	return mig_reply(a);
}

static json_object *do_migrate_cancel(struct api *a)
{
	if (!a->mig || !mig_cancel(a->mig))
		return error_reply("migrate-cancel: no migration to cancel (none, or past the "
				   "switch-over)");
	return mig_reply(a);
}

/* The migration ended (the loop's thread): answer the requests that wait for it. */
static void on_mig_done(void *opaque)
{
	struct api *a = opaque;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = a->conns[i];
		if (!c || !c->waiting)
			continue;
		json_object *o = mig_reply(a);
		send_reply(c->fd, o);
		json_object_put(o);
		conn_close(c);
	}
}

static json_object *do_stop(struct api *a)
{
	vm_end(a->vm, VM_STOPPED, "stopped through the control API");
	json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string("stopping"));
	return o;
}

static json_object *handle(struct api *a, const char *buf, size_t len, bool *wait)
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
		bool vm_op = strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0 ||
			     strcmp(cmd, "snapshot") == 0;
		if (vm_op && (reply = busy_migrating(a)))
			;
		else if (strcmp(cmd, "status") == 0)
			reply = do_status(a);
		else if (strcmp(cmd, "pause") == 0)
			reply = do_pause(a);
		else if (strcmp(cmd, "resume") == 0)
			reply = do_resume(a);
		else if (strcmp(cmd, "snapshot") == 0)
			reply = do_snapshot(a, req);
		else if (strcmp(cmd, "stop") == 0)
			reply = do_stop(a);
		else if (strcmp(cmd, "migrate") == 0)
			reply = do_migrate(a, req, wait);
		else if (strcmp(cmd, "migrate-status") == 0)
			reply =
			    a->mig ? mig_reply(a) : error_reply("migrate-status: not available");
		else if (strcmp(cmd, "migrate-cancel") == 0)
			reply = do_migrate_cancel(a);
		else
			reply = error_reply("unknown command `%.64s` (status, pause, resume, "
					    "snapshot, migrate, migrate-status, migrate-cancel, "
					    "stop)",
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
	if (c->waiting) {
		/* Answered when the migration ends; a client gone meanwhile is forgotten. */
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(c);
		return;
	}
	char *nl = memchr(c->buf, '\n', c->len);
	json_object *reply = NULL;
	bool wait = false;
	if (nl)
		reply = handle(c->api, c->buf, (size_t)(nl - c->buf), &wait);
	else if (c->len >= API_REQUEST_MAX)
		reply = error_reply("request too large (more than %u bytes)", API_REQUEST_MAX);
	else if (eof && c->len == 0) {
		conn_close(c); /* nothing asked: nobody to answer */
		return;
	} else if (eof || (events & (EPOLLHUP | EPOLLERR)))
		reply = handle(c->api, c->buf, c->len, &wait);
	if (!reply)
		return; /* wait for the rest */
	if (reply == DEFERRED) {
		c->waiting = true;
		loop_mod(c->api->loop, c->fd, 0, NULL);
		return;
	}
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
	    loop_add(l, a->fd, EPOLLIN, on_accept, a, err) < 0 ||
	    !(a->mig = mig_new(vm, l, on_mig_done, a, err))) {
		int e = errno;
		api_close(a);
		return mc_errorf(err, e, "--api `%s`", path);
	}
	return 0;
}

void api_close(struct api *a)
{
	mig_free(a->mig);
	a->mig = NULL;
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
    "       minivm migrate  --api PATH [--max-downtime MS] [--bandwidth MiB/s] [--compress]\n"
    "                       [--max-rounds N] [--auto-converge] [--postcopy[=now]]\n"
    "                       [--copy-storage]\n"
    "                       tcp:HOST:PORT|unix:PATH\n"
    "       minivm migrate-status --api PATH;  minivm migrate-cancel --api PATH\n"
    "Prints the JSON reply; exit status 0, 1 when the reply is an error (or a migration that\n"
    "did not end \"migrated\"), 125 without a reply. migrate waits for the migration's end.\n";

int cmd_api_client(int argc, char **argv)
{
	const char *verb = argv[0], *path = NULL, *dir = NULL;
	bool stop = false, migrate = strcmp(verb, "migrate") == 0, compress = false,
	     converge = false, postcopy = false, postcopy_now = false, copy_storage = false;
	uint64_t mig_num[3] = {0, 0, 0}; /* max downtime, bandwidth, rounds */
	bool mig_set[3] = {false, false, false};
	static const char *const mig_opt[3] = {"--max-downtime", "--bandwidth", "--max-rounds"};
	for (int i = 1; i < argc; i++) {
		int k = -1;
		for (int j = 0; migrate && j < 3; j++)
			if (strcmp(argv[i], mig_opt[j]) == 0 && i + 1 < argc)
				k = j;
		if (k >= 0) {
			mc_err err = NULL;
			if (mc_parse_uint(argv[++i], 0, k == 1 ? 1u << 20 : 3600000, &mig_num[k],
					  mig_opt[k], &err) < 0) {
				fprintf(stderr, "minivm migrate: %s\n", mc_error_text(err));
				mc_error_free(&err);
				return 2;
			}
			mig_set[k] = true;
			continue;
		}
		if (migrate && strcmp(argv[i], "--compress") == 0) {
			compress = true;
			continue;
		}
		if (migrate && strcmp(argv[i], "--auto-converge") == 0) {
			converge = true;
			continue;
		}
		if (migrate && strcmp(argv[i], "--postcopy") == 0) {
			postcopy = true;
			continue;
		}
		if (migrate && strcmp(argv[i], "--postcopy=now") == 0) {
			postcopy_now = true;
			continue;
		}
		if (migrate && strcmp(argv[i], "--copy-storage") == 0) {
			copy_storage = true;
			continue;
		}
		if (migrate && argv[i][0] != '-' && !dir) {
			dir = argv[i];
			continue;
		}
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
	if (!path || ((strcmp(verb, "snapshot") == 0 || migrate) && !dir)) {
		fprintf(stderr, "minivm %s: missing %s\n%s", verb,
			path ? (migrate ? "URI" : "DIR") : "--api PATH", client_usage);
		return 2;
	}
	json_object *req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(verb));
	if (migrate) {
		static const char *const key[3] = {"max_downtime_ms", "bandwidth", "max_rounds"};
		json_object_object_add(req, "uri", json_object_new_string(dir));
		for (int j = 0; j < 3; j++)
			if (mig_set[j])
				json_object_object_add(req, key[j],
						       json_object_new_int64((int64_t)mig_num[j]));
		if (compress)
			json_object_object_add(req, "compress", json_object_new_boolean(1));
		if (converge)
			json_object_object_add(req, "auto_converge", json_object_new_boolean(1));
		if (postcopy_now)
			json_object_object_add(req, "postcopy", json_object_new_string("now"));
		else if (postcopy)
			json_object_object_add(req, "postcopy", json_object_new_boolean(1));
		if (copy_storage)
			json_object_object_add(req, "copy_storage", json_object_new_boolean(1));
		json_object_object_add(req, "wait", json_object_new_boolean(1));
	} else if (dir) {
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
	json_object *js;
	if (migrate && status == 0 &&
	    (!json_object_object_get_ex(reply, "status", &js) ||
	     strcmp(json_object_get_string(js), "migrated") != 0))
		status = 1;
	json_object_put(reply);
out:
	if (fd >= 0)
		close(fd);
	json_object_put(req);
	return status;
}
