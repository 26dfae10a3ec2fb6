#include "results.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/magic.h>
#include <math.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "util.h"

static json_object *new_value(double v)
{
	char text[64];
	snprintf(text, sizeof(text), "%.4f", v);
	return json_object_new_double_s(v, text);
}

/* The first line a command prints (stdout and stderr), or NULL. */
static json_object *first_line(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	char line[512] = "";
	char *got = fgets(line, sizeof(line), f);
	/* drain, so the command never dies of SIGPIPE half-way */
	char rest[512];
	while (fgets(rest, sizeof(rest), f))
		;
	pclose(f);
	if (!got)
		return NULL;
	line[strcspn(line, "\n")] = 0;
	return line[0] ? json_object_new_string(line) : NULL;
}

static json_object *tool_version(const char *tool, const char *path_override, const char *args)
{
	char path[4096], cmd[4200];
	if (path_override) {
		if (access(path_override, X_OK) < 0)
			return NULL;
		snprintf(path, sizeof(path), "%s", path_override);
	} else if (!mb_which(tool, path, sizeof(path))) {
		return NULL;
	}
	if (strchr(path, '\''))
		return NULL;
	snprintf(cmd, sizeof(cmd), "'%s' %s </dev/null 2>&1", path, args);
	return first_line(cmd);
}

static json_object *cpu_model(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
			char *v = strchr(line, ':') + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			return json_object_new_string(v);
		}
	}
	return NULL;
}

static json_object *mem_total_kib(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kib;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kib) == 1)
			return json_object_new_int64(kib);
	return NULL;
}

static const char *kvm_kind(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return "pvm";
	return access("/dev/kvm", F_OK) == 0 ? "hardware" : "none";
}

static const char *cgroup_layout(void)
{
	struct statfs s;
	if (statfs("/sys/fs/cgroup", &s) < 0)
		return "none";
	if (s.f_type == CGROUP2_SUPER_MAGIC)
		return "v2";
	if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
		return "hybrid";
	return "v1";
}

static json_object *git_info(void)
{
	char root[4096], cmd[4400];
	const char *dir = mb_checkout_dir();
	if (!dir)
		return NULL;
	snprintf(root, sizeof(root), "%s", dir);
	if (strchr(root, '\''))
		return NULL;
	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD 2>/dev/null", root);
	json_object *commit = first_line(cmd);
	if (!commit)
		return NULL;
	snprintf(cmd, sizeof(cmd),
		 "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -1", root);
	json_object *dirty = first_line(cmd);
	json_object *g = json_object_new_object();
	json_object_object_add(g, "commit", commit);
	json_object_object_add(g, "dirty", json_object_new_boolean(dirty != NULL));
	json_object_put(dirty);
	return g;
}

json_object *mb_env_describe(int argc, char **argv)
{
	json_object *env = json_object_new_object(), *a = json_object_new_array();
	for (int i = 0; i < argc; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(env, "command", a);
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_object_object_add(env, "date", json_object_new_string(when));
	struct utsname u;
	if (uname(&u) == 0) {
		json_object *k = json_object_new_object();
		json_object_object_add(k, "release", json_object_new_string(u.release));
		json_object_object_add(k, "version", json_object_new_string(u.version));
		json_object_object_add(k, "machine", json_object_new_string(u.machine));
		json_object_object_add(env, "kernel", k);
		json_object_object_add(env, "hostname", json_object_new_string(u.nodename));
	}
	json_object *cpu = json_object_new_object();
	json_object_object_add(cpu, "model", cpu_model());
	json_object_object_add(cpu, "cores", json_object_new_int64(sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_object_add(env, "cpu", cpu);
	json_object_object_add(env, "memory_kib", mem_total_kib());
	json_object_object_add(env, "kvm", json_object_new_string(kvm_kind()));
	json_object_object_add(env, "cgroups", json_object_new_string(cgroup_layout()));
	json_object *tools = json_object_new_object();
	char minict[4096];
	const char *m = getenv("MINICT");
	snprintf(minict, sizeof(minict), "%s/minict", mb_self_dir());
	json_object_object_add(tools, "minict",
			       tool_version("minict", m && *m ? m : minict, "--version"));
	static const char *const names[] = {"crun",   "runc", "dockerd",	   "containerd",
					    "podman", "tar",  "qemu-system-x86_64"};
	for (size_t i = 0; i < MC_ARRAY_SIZE(names); i++)
		json_object_object_add(tools, names[i], tool_version(names[i], NULL, "--version"));
	/* the client the docker backends use: Debian's, matching its dockerd, when present */
	json_object_object_add(
	    tools, "docker",
	    tool_version("docker", access("/usr/bin/docker", X_OK) == 0 ? "/usr/bin/docker" : NULL,
			 "--version"));
	json_object_object_add(tools, "busybox", tool_version("busybox", "/bin/busybox", ""));
	json_object_object_add(env, "tools", tools);
	json_object_object_add(env, "git", git_info());
	return env;
}

int mb_results_open(struct mb_results *r, const char *dir, int argc, char **argv, mc_err *err)
{
	memset(r, 0, sizeof(*r));
	if (!dir)
		return 0;
	int n = snprintf(r->dir, sizeof(r->dir), "%s", dir);
	if (n < 0 || (size_t)n >= sizeof(r->dir) - 32)
		return mc_errorf(err, 0, "--out: path too long");
	if (mc_mkdir_p(dir, 0755, err) < 0)
		return mc_wrap(err, "--out");
	char path[4200];
	snprintf(path, sizeof(path), "%s/env.json", dir);
	json_object *env = mb_env_describe(argc, argv);
	int rc = json_object_to_file_ext(path, env, JSON_C_TO_STRING_PRETTY);
	json_object_put(env);
	if (rc < 0)
		return mc_errorf(err, errno, "write `%s`", path);
	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	r->jsonl = fopen(path, "we");
	if (!r->jsonl)
		return mc_errorf(err, errno, "create `%s`", path);
	r->on = true;
	return 0;
}

int mb_results_add(struct mb_results *r, const struct mb_record *rec, mc_err *err)
{
	if (!r->on)
		return 0;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "experiment", json_object_new_string(rec->experiment));
	json_object_object_add(o, "backend", json_object_new_string(rec->backend));
	json_object_object_add(o, "workload", json_object_new_string(rec->workload));
	json_object_object_add(o, "guests", json_object_new_int(rec->guests));
	json_object_object_add(o, "run", json_object_new_int(rec->run));
	if (rec->guest >= 0)
		json_object_object_add(o, "guest", json_object_new_int(rec->guest));
	if (rec->round > 0)
		json_object_object_add(o, "round", json_object_new_int(rec->round));
	json_object_object_add(o, "metric", json_object_new_string(rec->metric));
	json_object_object_add(o, "value", new_value(rec->value));
	json_object_object_add(o, "unit", json_object_new_string(rec->unit));
	int bad = fprintf(r->jsonl, "%s\n",
			  json_object_to_json_string_ext(
			      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0 ||
		  fflush(r->jsonl) != 0;
	json_object_put(o);
	if (bad)
		return mc_errorf(err, errno, "write `%s/results.jsonl`", r->dir);
	return 0;
}

static void csv_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, ",%.4f", v);
	else
		fputs(",", f);
}

int mb_results_figure(struct mb_results *r, const struct mb_figure *fig,
		      const struct mb_summary_row *rows, size_t n, mc_err *err)
{
	if (!r->on)
		return 0;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s.csv", r->dir, fig->name);
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return mc_errorf(err, errno, "create `%s`", path);
	fprintf(f,
		"experiment,workload,backend,guests,metric,unit,n,min,median,max,mean,p95,stddev,"
		"median_vs_%s\n",
		fig->baseline);
	for (size_t i = 0; i < n; i++) {
		const struct mb_stats *s = &rows[i].st;
		fprintf(f, "%s,%s,%s,%u,%s,%s,%zu", fig->experiment, fig->workload, rows[i].backend,
			rows[i].guests, fig->metric, fig->unit, s->n);
		csv_num(f, s->min);
		csv_num(f, s->median);
		csv_num(f, s->max);
		csv_num(f, s->mean);
		csv_num(f, s->p95);
		csv_num(f, s->stddev);
		csv_num(f, rows[i].ratio);
		fputc('\n', f);
	}
	if (fflush(f) != 0 || ferror(f))
		return mc_errorf(err, errno, "write `%s`", path);
	return 0;
}

int mb_results_close(struct mb_results *r, mc_err *err)
{
	if (!r->on)
		return 0;
	r->on = false;
	int rc = fclose(r->jsonl);
	r->jsonl = NULL;
	if (rc != 0)
		return mc_errorf(err, errno, "close `%s/results.jsonl`", r->dir);
	return 0;
}
