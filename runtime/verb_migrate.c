/* minict migrate [--mode stop-and-copy|pre-copy|post-copy] [--work-path DIR] [--pre-freeze CMD]
 *   ID tcp:HOST:PORT
 * Stop-and-copy to a `minict receive` (docs/checkpoint.md "Migration"): the receiver's hello
 * first (nothing is touched before), then the config, freeze + CRIU dump (the tasks stay
 * frozen), the rootfs, the images, the end marker; `restored` from the destination deletes the
 * container here, anything else thaws it and it runs on. Prints one JSON object. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

struct mig_opts {
	const char *id, *dest, *mode, *work, *pre_freeze;
};

static int parse_opts(int argc, char **argv, struct mig_opts *o, mc_err *err)
{
	static const struct option opts[] = {{"mode", required_argument, 0, 'm'},
					     {"work-path", required_argument, 0, 'w'},
					     {"pre-freeze", required_argument, 0, 'F'},
					     {0, 0, 0, 0}};
	int c;
	o->mode = "stop-and-copy";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->mode = optarg;
			break;
		case 'w':
			o->work = optarg;
			break;
		case 'F':
			o->pre_freeze = optarg;
			break;
		default:
			return mc_errorf(err, 0, "migrate: bad option (see docs/checkpoint.md)");
		}
	}
	if (optind != argc - 2)
		return mc_errorf(err, 0, "migrate: want ID tcp:HOST:PORT");
	o->id = argv[optind];
	o->dest = argv[optind + 1];
	if (strcmp(o->mode, "stop-and-copy") && strcmp(o->mode, "pre-copy") &&
	    strcmp(o->mode, "post-copy"))
		return mc_errorf(
		    err, 0, "migrate: --mode \"%s\": want stop-and-copy, pre-copy or post-copy",
		    o->mode);
	return 0;
}

/* pre-copy and post-copy: what CRIU can do here. Neither is implemented beyond this check. */
static int check_mode(struct ct_global *g, const char *mode, mc_err *err)
{
	if (!strcmp(mode, "stop-and-copy"))
		return 0;
	_cleanup_free_ char *criu = NULL;
	if (ct_ckpt_find_criu(g->criu, &criu, err) < 0)
		return mc_wrap(err, "migrate");
	struct ct_criu c = {.pid = -1, .sk = -1};
	bool mem_track = false, lazy = false;
	int ret = ct_criu_start(&c, criu, NULL, 0, false, err);
	if (ret == 0)
		ret = ct_criu_features(&c, &mem_track, &lazy, err);
	ct_criu_stop(&c);
	if (ret < 0)
		return mc_wrap(err, "migrate");
	if (!strcmp(mode, "pre-copy"))
		return mc_errorf(err, 0,
				 mem_track
				     ? "migrate --mode pre-copy: not implemented yet (CRIU "
				       "can track memory changes here); use --mode "
				       "stop-and-copy"
				     : "migrate --mode pre-copy: CRIU cannot track memory "
				       "changes on this kernel (no soft-dirty page tracking: "
				       "CONFIG_MEM_SOFT_DIRTY is off); use --mode stop-and-copy");
	return mc_errorf(err, 0,
			 "migrate --mode post-copy: not implemented yet (lazy pages are %s here); "
			 "use --mode stop-and-copy",
			 lazy ? "available" : "unavailable");
}

/* --pre-freeze CMD: `sh -c CMD` on this host, right before the freeze (an application that
 * must quiesce first, as the tests' UDP echo does); it must exit 0. */
static int pre_freeze(const char *cmd, mc_err *err)
{
	pid_t pid = fork();
	if (pid < 0)
		return mc_errorf(err, errno, "migrate: --pre-freeze: fork");
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return mc_errorf(err, errno, "migrate: --pre-freeze: wait");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return mc_errorf(err, 0, "migrate: --pre-freeze `%s` failed (%s %d)", cmd,
				 WIFEXITED(st) ? "exit status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

static int connect_to(const char *dest, mc_err *err)
{
	struct sockaddr_in sa;
	if (ct_mig_parse_endpoint(dest, &sa, err) < 0)
		return mc_wrap(err, "migrate");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mc_errorf(err, errno, "migrate: socket");
	/* SO_SNDTIMEO bounds connect() too */
	if (ct_mig_timeouts(fd, CT_MIG_IO_TIMEOUT, err) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "migrate: connect to %s", dest);
	}
	return fd;
}

/* The config section: the id and the bundle's config.json. */
static int send_config(struct mc_ms *s, const struct ct_state *st, mc_err *err)
{
	_cleanup_free_ char *path = NULL, *txt = NULL;
	size_t len;
	if (asprintf(&path, "%s/config.json", st->bundle) < 0)
		return mc_errorf(err, ENOMEM, "migrate");
	if (mc_read_file(path, CT_MIG_CONFIG_MAX / 2, &txt, &len, err) < 0)
		return mc_wrap(err, "migrate");
	json_object *cfg = json_tokener_parse(txt);
	if (!cfg)
		return mc_errorf(err, 0, "migrate: `%s` is not JSON", path);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "config", cfg);
	const char *doc = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int ret = strlen(doc) > CT_MIG_CONFIG_MAX
		      ? mc_errorf(err, 0, "migrate: config.json is too large")
		      : mc_ms_send(s, CT_MIG_CONFIG, NULL, 0, doc, strlen(doc), err);
	json_object_put(o);
	if (ret == 0)
		ret = mc_ms_flush(s, err);
	return ret;
}

/* The destination's answer: 1 restored (*restore_ms from it), 0 failed (msg), -1 no answer. */
static int answer(struct mc_ms *s, double *restore_ms, char *msg, size_t n, mc_err *err)
{
	struct mc_ms_frame f;
	char buf[CT_MIG_ANSWER_MAX + 1];
	if (mc_ms_turn(s, err) < 0 || mc_ms_recv_frame(s, &f, NULL, 0, err) < 0)
		return -1;
	if ((f.type != CT_MIG_RESTORED && f.type != CT_MIG_FAILED) ||
	    f.data_len > CT_MIG_ANSWER_MAX)
		return mc_errorf(err, 0, "a bad answer (frame type %u, %llu bytes)", f.type,
				 (unsigned long long)f.data_len);
	if (mc_ms_recv_data(s, buf, f.data_len, err) < 0)
		return -1;
	buf[f.data_len] = 0;
	if (f.type == CT_MIG_FAILED) {
		snprintf(msg, n, "%s", buf);
		return 0;
	}
	json_object *o = json_tokener_parse(buf), *v;
	if (o && json_object_object_get_ex(o, "restore_ms", &v))
		*restore_ms = json_object_get_double(v);
	json_object_put(o);
	return 1;
}

/* "MESSAGE; what" */
__attribute__((format(printf, 2, 3))) static void append(mc_err *err, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mc_err e = *err;
	*err = NULL;
	mc_errorf(err, 0, "%s; %s", mc_error_text(e), what);
	mc_error_free(&e);
}

static double ms_since(uint64_t t0)
{
	return (double)(mc_now_ns() - t0) / 1e6;
}

int ct_verb_migrate(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct mig_opts o = {0};
	if (parse_opts(argc, argv, &o, err) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	uint64_t t0 = mc_now_ns();
	struct ct_state st = {0};
	if (ct_state_load(g->root, o.id, &st, err) < 0)
		return -1;
	int ret = 0, sk = -1;
	struct mc_ms *s = NULL;
	_cleanup_free_ char *work = NULL, *images = NULL;
	bool frozen = false, made_work = false;
	enum ct_status status = ct_state_status(g->root, &st);
	if (status != CT_RUNNING)
		ret = mc_errorf(err, 0, "migrate: container \"%s\" is %s: only a running one", o.id,
				ct_status_name(status));
	else if (!st.bundle)
		ret =
		    mc_errorf(err, 0, "migrate: container \"%s\" has no bundle (short form)", o.id);
	if (ret == 0)
		ret = check_mode(g, o.mode, err);
	/* the receiver first: nothing is touched before it answered */
	if (ret == 0 && (sk = connect_to(o.dest, err)) < 0)
		ret = -1;
	if (ret == 0 && !(s = malloc(sizeof(*s))))
		ret = mc_errorf(err, ENOMEM, "migrate");
	if (ret == 0) {
		mc_ms_init(s, sk);
		if (mc_ms_recv_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, err) < 0)
			ret = mc_wrap(err, "migrate: %s is not a minict receiver", o.dest);
	}
	if (ret == 0 && mc_ms_turn(s, err) < 0)
		ret = mc_wrap(err, "migrate: %s", o.dest);
	if (ret == 0) {
		mc_ms_init(s, sk);
		if (mc_ms_send_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, err) < 0 ||
		    send_config(s, &st, err) < 0)
			ret = mc_wrap(err, "migrate: to %s", o.dest);
	}
	if (ret == 0) {
		if (o.work)
			work = strdup(o.work);
		else if (asprintf(&work, "/tmp/minict-migrate-%s.XXXXXX", o.id) >= 0 &&
			 !mkdtemp(work))
			ret = mc_errorf(err, errno, "migrate: work directory `%s`", work);
		made_work = ret == 0 && !o.work;
		if (ret == 0 && (!work || asprintf(&images, "%s/images", work) < 0))
			ret = mc_errorf(err, ENOMEM, "migrate");
	}
	/* the rootfs while the container runs; what changes until the freeze follows as a delta */
	struct ct_mig_counts c = {0};
	struct ct_mig_tree tree = {0};
	uint64_t t_sync = mc_now_ns();
	if (ret == 0 &&
	    (ct_mig_send_rootfs(s, st.rootfs, &c, &tree, err) < 0 || mc_ms_flush(s, err) < 0))
		ret = mc_wrap(err, "migrate: to %s", o.dest);
	if (ret == 0 && o.pre_freeze)
		ret = pre_freeze(o.pre_freeze, err);
	/* stop: freeze and dump, the tasks stay frozen */
	uint64_t t_freeze = mc_now_ns(), t_dumped = 0, t_sent = 0;
	if (ret == 0) {
		struct ct_ckpt_opts ko = {
		    .id = o.id, .com = {.image = images, .work = work}, .keep_frozen = true};
		ret = ct_checkpoint(g, &ko, err);
		frozen = ret == 0;
		t_dumped = mc_now_ns();
	}
	/* copy */
	if (ret == 0 && (ct_mig_send_rootfs_delta(s, st.rootfs, &c, &tree, err) < 0 ||
			 ct_mig_send_images(s, images, &c, err) < 0 || mc_ms_send_end(s, err) < 0))
		ret = mc_wrap(err, "migrate: to %s", o.dest);
	ct_mig_tree_free(&tree);
	t_sent = mc_now_ns();
	double restore_ms = 0;
	if (ret == 0) {
		char msg[CT_MIG_ANSWER_MAX + 1] = "";
		struct timeval tv = {.tv_sec = 300};
		setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		int a = answer(s, &restore_ms, msg, sizeof(msg), err);
		if (a < 0)
			ret = mc_wrap(err, "migrate: no answer from %s", o.dest);
		else if (a == 0)
			ret = mc_errorf(err, 0, "migrate: the destination failed: %s", msg);
	}
	/* the destination runs it: the downtime ends about here (frozen_ms) */
	uint64_t t_answer = mc_now_ns();
	if (ret == 0) {
		/* the destination runs it: the container here goes */
		ret = ct_container_destroy(g->root, &st, err);
		if (ret < 0)
			mc_wrap(err, "migrate: restored at %s, but deleting it here", o.dest);
	} else if (frozen) {
		mc_err e2 = NULL;
		if (ct_cg_freeze(&st.cg, false, &e2) < 0) {
			append(err, "thawing the container failed too: %s", mc_error_text(e2));
			mc_error_free(&e2);
		} else {
			append(err, "the container runs on here");
		}
	}
	uint64_t t_end = mc_now_ns();
	if (ret == 0) {
		double stream_ms = (double)(t_sent - t_dumped) / 1e6;
		printf("{\"status\":\"ok\",\"id\":\"%s\",\"mode\":\"%s\",\"total_ms\":%.1f,"
		       "\"sync_ms\":%.1f,\"frozen_ms\":%.1f,\"dump_ms\":%.1f,\"stream_ms\":%.1f,"
		       "\"restore_ms\":%.1f,\"answer_ms\":%.1f,\"bytes_sent\":%llu,"
		       "\"rootfs_entries\":%llu,\"rootfs_bytes\":%llu,\"delta_entries\":%llu,"
		       "\"delta_bytes\":%llu,\"deleted\":%llu,\"image_bytes\":%llu}\n",
		       o.id, o.mode, (double)(t_end - t0) / 1e6, (double)(t_freeze - t_sync) / 1e6,
		       (double)(t_answer - t_freeze) / 1e6, (double)(t_dumped - t_freeze) / 1e6,
		       stream_ms, restore_ms, (double)(t_answer - t_sent) / 1e6,
		       (unsigned long long)s->bytes, (unsigned long long)c.entries,
		       (unsigned long long)c.file_bytes, (unsigned long long)c.delta_entries,
		       (unsigned long long)c.delta_bytes, (unsigned long long)c.deleted,
		       (unsigned long long)c.image_bytes);
		fflush(stdout);
	}
	mc_log_debug("migrate: %.1f ms", ms_since(t0));
	if (made_work) {
		mc_err e2 = NULL;
		if (ct_mig_rm_tree(work, &e2) < 0)
			mc_log_warn("migrate: %s", mc_error_text(e2));
		mc_error_free(&e2);
	}
	free(s);
	if (sk >= 0)
		close(sk);
	ct_state_free(&st);
	return ret;
}
