/* Unit tests for minict's config parser, mount options, default seccomp profile and CLI
 * helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>

#include "runtime/cli.h"
#include <json-c/json.h>
#include "runtime/network.h"
#include "runtime/security.h"
#include "runtime/spec.h"
#include "runtime/state.h"

static struct ct_spec *parse_ok(const char *json)
{
	struct ct_spec *s = NULL;
	mc_err err = NULL;
	int r = ct_spec_parse(json, strlen(json), &s, &err);
	if (r < 0)
		fail_msg("unexpected error: %s", mc_error_text(err));
	return s;
}

/* Parse the default spec after applying a textual replacement; expect an error naming want. */
static void expect_error(const char *json, const char *want)
{
	struct ct_spec *s = NULL;
	mc_err err = NULL;
	assert_int_equal(ct_spec_parse(json, strlen(json), &s, &err), -1);
	assert_null(s);
	if (!strstr(mc_error_text(err), want))
		fail_msg("error \"%s\" lacks \"%s\"", mc_error_text(err), want);
	mc_error_free(&err);
}

static char *default_with(const char *key_path, json_object *v)
{
	json_object *root = ct_spec_default_json();
	assert_non_null(root);
	char *copy = strdup(key_path), *save = NULL;
	json_object *o = root;
	char *tok = strtok_r(copy, ".", &save), *next;
	while ((next = strtok_r(NULL, ".", &save))) {
		json_object *child;
		if (!json_object_object_get_ex(o, tok, &child)) {
			child = json_object_new_object();
			json_object_object_add(o, tok, child);
		}
		o = child;
		tok = next;
	}
	if (v)
		json_object_object_add(o, tok, v);
	else
		json_object_object_del(o, tok);
	char *s = strdup(json_object_to_json_string(root));
	json_object_put(root);
	free(copy);
	return s;
}

static void test_default_spec(void **state)
{
	(void)state;
	json_object *root = ct_spec_default_json();
	const char *txt = json_object_to_json_string(root);
	struct ct_spec *s = parse_ok(txt);
	json_object_put(root);
	assert_string_equal(s->process.args[0], "sh");
	assert_null(s->process.args[1]);
	assert_true(s->process.no_new_privileges);
	assert_int_equal(s->process.caps.count[CT_CAP_BOUNDING], 11);
	assert_int_equal(s->process.caps.count[CT_CAP_AMBIENT], -1);
	assert_int_equal(s->nnamespaces, 6);
	assert_true(ct_spec_has_ns(s, CLONE_NEWPID, NULL));
	assert_true(ct_spec_has_ns(s, CLONE_NEWCGROUP, NULL));
	assert_false(ct_spec_has_ns(s, CLONE_NEWUSER, NULL));
	assert_int_equal(s->nmounts, 7);
	assert_string_equal(s->mounts[1].destination, "/dev");
	assert_true(s->mounts[1].flags & MS_NOSUID);
	assert_string_equal(s->mounts[1].data, "mode=755,size=65536k");
	assert_int_equal(s->process.nrlimits, 1);
	assert_int_equal(s->process.rlimits[0].hard, 1024);
	assert_false(s->has_seccomp);
	assert_int_equal(s->nmasked, 11);
	ct_spec_free(s);
}

static void test_field_errors(void **state)
{
	(void)state;
	char *j;
	expect_error("{", "invalid JSON");
	expect_error("[1]", "expected a JSON object");
	expect_error("{\"ociVersion\": \"1.0.2\"} x", "trailing data");
	expect_error("{\"ociVersion\": \"2.0\", \"root\": {\"path\": \"r\"}}",
		     "ociVersion: unsupported");
	j = default_with("process.args", json_object_new_string("sh"));
	expect_error(j, "process.args: expected an array, got string");
	free(j);
	j = default_with("process.args", json_object_new_array());
	expect_error(j, "process.args: must be a non-empty array");
	free(j);
	j = default_with("root.path", NULL);
	expect_error(j, "root.path: missing");
	free(j);
	j = default_with("process.user.uid", json_object_new_int64(-5));
	expect_error(j, "process.user.uid: -5 out of range");
	free(j);
	j = default_with("process.cwd", json_object_new_string("relative"));
	expect_error(j, "process.cwd: \"relative\" is not an absolute path");
	free(j);
	j = default_with("linux.namespaces",
			 json_tokener_parse("[{\"type\": \"pid\"}, {\"type\": \"pid\"}]"));
	expect_error(j, "linux.namespaces[1].type: namespace listed twice");
	free(j);
	j = default_with("linux.namespaces", json_tokener_parse("[{\"type\": \"bogus\"}]"));
	expect_error(j, "linux.namespaces[0].type: unknown namespace type \"bogus\"");
	free(j);
	j = default_with(
	    "linux.uidMappings",
	    json_tokener_parse("[{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]"));
	expect_error(j, "without a user namespace");
	free(j);
	j = default_with(
	    "linux.seccomp",
	    json_tokener_parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": "
			       "[{\"names\": [\"nope\"], \"action\": \"SCMP_ACT_ALLOW\"}]}"));
	expect_error(j, "linux.seccomp.syscalls[0].names[0]: unknown syscall \"nope\"");
	free(j);
	j = default_with("linux.seccomp", json_tokener_parse("{\"defaultAction\": \"ALLOW\"}"));
	expect_error(j, "linux.seccomp.defaultAction: unknown seccomp action \"ALLOW\"");
	free(j);
	j = default_with(
	    "process.rlimits",
	    json_tokener_parse("[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 10, \"hard\": 5}]"));
	expect_error(j, "process.rlimits[0]: soft limit above hard limit");
	free(j);
	j = default_with(
	    "process.rlimits",
	    json_tokener_parse("[{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 5}]"));
	expect_error(j, "process.rlimits[0].type: unknown rlimit");
	free(j);
	j = default_with("linux.resources.cpu", json_tokener_parse("{\"cpus\": \"0-1;rm\"}"));
	expect_error(j, "linux.resources.cpu.cpus: invalid list");
	free(j);
	j = default_with("linux.cgroupsPath", json_object_new_string("/a/../../etc"));
	expect_error(j, "linux.cgroupsPath: \"..\" is not allowed");
	free(j);
	j = default_with("linux.devices",
			 json_tokener_parse("[{\"path\": \"/etc/x\", \"type\": \"c\"}]"));
	expect_error(j, "linux.devices[0].path: must be an absolute path under /dev");
	free(j);
	j = default_with(
	    "hostname",
	    json_object_new_string(
		"0123456789012345678901234567890123456789012345678901234567890123456789"));
	expect_error(j, "hostname: longer than 64 bytes");
	free(j);
}

static void test_resources(void **state)
{
	(void)state;
	char *j =
	    default_with("linux.resources",
			 json_tokener_parse("{\"memory\": {\"limit\": 67108864, \"swap\": -1}, "
					    "\"cpu\": {\"quota\": 50000, \"period\": 100000, "
					    "\"shares\": 1024, \"cpus\": \"0-1\"}, "
					    "\"pids\": {\"limit\": 32}}"));
	struct ct_spec *s = parse_ok(j);
	free(j);
	assert_true(s->has_resources);
	assert_true(s->res.has_mem_limit);
	assert_int_equal(s->res.mem_limit, 67108864);
	assert_int_equal(s->res.mem_swap, -1);
	assert_int_equal(s->res.cpu_quota, 50000);
	assert_int_equal(s->res.cpu_period, 100000);
	assert_int_equal(s->res.cpu_shares, 1024);
	assert_string_equal(s->res.cpus, "0-1");
	assert_int_equal(s->res.pids_limit, 32);
	ct_spec_free(s);
}

/* The default spec with key_path set to the JSON text v (NULL: removed). */
static char *default_with_json(const char *key_path, const char *v)
{
	json_object *o = NULL;
	if (v) {
		o = json_tokener_parse(v);
		if (!o)
			fail_msg("bad JSON in the test: %s", v);
	}
	return default_with(key_path, o);
}

static struct ct_spec *parse_with(const char *key_path, const char *v)
{
	char *j = default_with_json(key_path, v);
	struct ct_spec *s = parse_ok(j);
	free(j);
	return s;
}

static void error_with(const char *key_path, const char *v, const char *want)
{
	char *j = default_with_json(key_path, v);
	expect_error(j, want);
	free(j);
}

/* Docker writes 0 for "not set": cpu shares/quota/period, blockIO weight and the memory
 * limits are accepted and set nothing. */
static void test_resources_zeros(void **state)
{
	(void)state;
	struct ct_spec *s = parse_with(
	    "linux.resources",
	    "{\"cpu\": {\"shares\": 0, \"quota\": 0, \"period\": 0}, \"blockIO\": {\"weight\": 0},"
	    " \"memory\": {\"limit\": 0, \"reservation\": 0, \"swap\": 0, \"kernel\": 0,"
	    " \"kernelTCP\": 0}}");
	assert_true(s->has_resources);
	assert_false(s->res.has_cpu_shares);
	assert_false(s->res.has_cpu_quota);
	assert_false(s->res.has_cpu_period);
	assert_false(s->res.has_blkio_weight);
	assert_false(s->res.has_mem_limit);
	assert_false(s->res.has_mem_reservation);
	assert_false(s->res.has_mem_swap);
	assert_false(s->res.has_mem_kernel);
	assert_false(s->res.has_mem_kernel_tcp);
	assert_false(s->res.has_mem_swappiness);
	assert_false(s->res.disable_oom_killer);
	ct_spec_free(s);
	/* non-zero values are kept */
	s = parse_with("linux.resources",
		       "{\"cpu\": {\"shares\": 2, \"period\": 1000}, \"blockIO\": {\"weight\": 10},"
		       " \"memory\": {\"reservation\": 4096, \"swappiness\": 0,"
		       " \"disableOOMKiller\": true, \"kernel\": 8192, \"kernelTCP\": -1}}");
	assert_true(s->res.has_cpu_shares);
	assert_int_equal(s->res.cpu_shares, 2);
	assert_true(s->res.has_cpu_period);
	assert_int_equal(s->res.cpu_period, 1000);
	assert_true(s->res.has_blkio_weight);
	assert_int_equal(s->res.blkio_weight, 10);
	assert_true(s->res.has_mem_reservation);
	assert_int_equal(s->res.mem_reservation, 4096);
	assert_true(s->res.has_mem_swappiness); /* 0 is a value for swappiness, not "unset" */
	assert_int_equal(s->res.mem_swappiness, 0);
	assert_true(s->res.disable_oom_killer);
	assert_true(s->res.has_mem_kernel);
	assert_int_equal(s->res.mem_kernel, 8192);
	assert_true(s->res.has_mem_kernel_tcp);
	assert_int_equal(s->res.mem_kernel_tcp, -1);
	ct_spec_free(s);
}

static void test_resources_ranges(void **state)
{
	(void)state;
	error_with("linux.resources.cpu", "{\"shares\": 1}", "linux.resources.cpu.shares");
	error_with("linux.resources.cpu", "{\"shares\": 262145}", "linux.resources.cpu.shares");
	error_with("linux.resources.cpu", "{\"period\": 999}", "linux.resources.cpu.period");
	error_with("linux.resources.cpu", "{\"period\": 1000001}", "linux.resources.cpu.period");
	error_with("linux.resources.blockIO", "{\"weight\": 9}", "linux.resources.blockIO.weight");
	error_with("linux.resources.memory", "{\"swappiness\": 101}",
		   "linux.resources.memory.swappiness");
	/* -1 (as Docker may send it): not set */
	struct ct_spec *s = parse_with("linux.resources.memory", "{\"swappiness\": -1}");
	assert_false(s->res.has_mem_swappiness);
	ct_spec_free(s);
	s = parse_with("linux.resources.memory", "{\"swappiness\": 100}");
	assert_true(s->res.has_mem_swappiness);
	assert_int_equal(s->res.mem_swappiness, 100);
	ct_spec_free(s);
}

static void test_hugepages_network(void **state)
{
	(void)state;
	struct ct_spec *s = parse_with("linux.resources.hugepageLimits",
				       "[{\"pageSize\": \"2MB\", \"limit\": 4194304},"
				       " {\"pageSize\": \"1GB\", \"limit\": 0}]");
	assert_int_equal(s->res.nhugepages, 2);
	assert_string_equal(s->res.hugepages[0].page_size, "2MB");
	assert_int_equal(s->res.hugepages[0].limit, 4194304);
	assert_string_equal(s->res.hugepages[1].page_size, "1GB");
	ct_spec_free(s);
	/* the page size becomes part of a file name (hugetlb.2MB.max) */
	static const char *const bad_sizes[] = {"2M", "../x", "MB", "2mb", "2MB/../x", "2 MB", ""};
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		char v[128];
		snprintf(v, sizeof(v), "[{\"pageSize\": \"%s\", \"limit\": 1}]", bad_sizes[i]);
		error_with("linux.resources.hugepageLimits", v,
			   "linux.resources.hugepageLimits[0]");
	}
	error_with("linux.resources.hugepageLimits", "[{\"pageSize\": \"2MB\"}]",
		   "linux.resources.hugepageLimits[0]");

	s = parse_with("linux.resources.network",
		       "{\"classID\": 1048577, \"priorities\": [{\"name\": \"eth0\", "
		       "\"priority\": 5}, {\"name\": \"lo\", \"priority\": 0}]}");
	assert_true(s->res.has_net_class_id);
	assert_int_equal(s->res.net_class_id, 1048577);
	assert_int_equal(s->res.nnet_prios, 2);
	assert_string_equal(s->res.net_prios[0].iface, "eth0");
	assert_int_equal(s->res.net_prios[0].prio, 5);
	ct_spec_free(s);
	/* the name is written into net_prio.ifpriomap as "NAME PRIO" */
	static const char *const bad_names[] = {"eth/0", "eth 0", "eth0\\n1", "",
						"averyveryverylongname"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		char v[160];
		snprintf(v, sizeof(v), "{\"priorities\": [{\"name\": \"%s\", \"priority\": 1}]}",
			 bad_names[i]);
		error_with("linux.resources.network", v, "linux.resources.network.priorities[0]");
	}
	error_with("linux.resources.network", "{\"classID\": -1}",
		   "linux.resources.network.classID");
}

/* Fields minict knows but cannot honour are refused, naming the field, unless empty; unknown
 * fields are ignored (config.md). */
static void test_unsupported_fields(void **state)
{
	(void)state;
	static const struct {
		const char *key, *set, *empty, *want;
	} f[] = {
	    {"linux.mountLabel", "\"system_u:object_r:container_file_t:s0\"", "\"\"",
	     "linux.mountLabel"},
	    {"linux.intelRdt", "{\"closID\": \"guaranteed_group\"}", "{}", "linux.intelRdt"},
	    {"linux.personality", "{\"domain\": \"LINUX32\"}", "{}", "linux.personality"},
	    {"process.selinuxLabel", "\"system_u:system_r:svirt_lxc_net_t:s0:c124,c675\"", "\"\"",
	     "process.selinuxLabel"},
	    {"linux.resources.rdma", "{\"mlx5_1\": {\"hcaHandles\": 3}}", "{}",
	     "linux.resources.rdma"},
	    {"linux.resources.rdma", "{\"mlx5_1\": {\"hcaHandles\": 3}}", "[]",
	     "linux.resources.rdma"},
	    {"linux.resources.cpu.realtimeRuntime", "950000", "0",
	     "linux.resources.cpu.realtimeRuntime"},
	    {"linux.resources.cpu.realtimePeriod", "1000000", "0",
	     "linux.resources.cpu.realtimePeriod"},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		error_with(f[i].key, f[i].set, f[i].want);
		struct ct_spec *s = parse_with(f[i].key, f[i].empty);
		ct_spec_free(s);
	}
	/* unknown fields anywhere: ignored */
	static const char *const unknown[] = {"fooBar",
					      "process.fooBar",
					      "linux.fooBar",
					      "linux.resources.fooBar",
					      "linux.resources.memory.fooBar",
					      "root.fooBar"};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		struct ct_spec *s = parse_with(unknown[i], "{\"x\": [1, \"y\"]}");
		ct_spec_free(s);
	}
}

/* root.path relative to the bundle: "." (the bundle itself) is fine, "../x" leaves it */
static void test_root_path(void **state)
{
	(void)state;
	char tmp[] = "/tmp/minict-unit-root.XXXXXX";
	assert_non_null(mkdtemp(tmp));
	char bundle[128], sib[128], rootfs[160];
	snprintf(bundle, sizeof(bundle), "%s/bundle", tmp);
	snprintf(sib, sizeof(sib), "%s/x", tmp);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
	assert_int_equal(mkdir(bundle, 0755), 0);
	assert_int_equal(mkdir(sib, 0755), 0);
	assert_int_equal(mkdir(rootfs, 0755), 0);
	mc_err err = NULL;

	struct ct_spec *s = parse_with("root.path", "\".\"");
	assert_int_equal(ct_spec_resolve_root(s, bundle, &err), 0);
	char *real = realpath(bundle, NULL);
	assert_string_equal(s->root_path, real);
	ct_spec_free(s);

	s = parse_with("root.path", "\"./rootfs/\"");
	assert_int_equal(ct_spec_resolve_root(s, bundle, &err), 0);
	char *realfs = realpath(rootfs, NULL);
	assert_string_equal(s->root_path, realfs);
	ct_spec_free(s);

	static const char *const outside[] = {"\"../x\"", "\"rootfs/../../x\"", "\"./../x\""};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		s = parse_with("root.path", outside[i]);
		assert_int_equal(ct_spec_resolve_root(s, bundle, &err), -1);
		if (!strstr(mc_error_text(err), "root.path"))
			fail_msg("error \"%s\" lacks root.path", mc_error_text(err));
		mc_error_free(&err);
		ct_spec_free(s);
	}
	/* relative without a bundle: refused */
	s = parse_with("root.path", "\".\"");
	assert_int_equal(ct_spec_resolve_root(s, NULL, &err), -1);
	mc_error_free(&err);
	ct_spec_free(s);

	free(real);
	free(realfs);
	rmdir(rootfs);
	rmdir(sib);
	rmdir(bundle);
	rmdir(tmp);
}

static void test_mount_options(void **state)
{
	(void)state;
	struct ct_mount m = {0};
	char *opts[] = {"rbind", "ro", "nosuid", "rprivate", "mode=755", "rw", "noexec", "size=1k"};
	mc_err err = NULL;
	assert_int_equal(ct_mount_options(&m, opts, 8, &err), 0);
	assert_true(m.bind);
	assert_true(m.flags & MS_BIND);
	assert_true(m.flags & MS_REC);
	assert_false(m.flags & MS_RDONLY); /* "rw" came after "ro" */
	assert_true(m.flags & MS_NOSUID);
	assert_true(m.flags & MS_NOEXEC);
	assert_int_equal(m.propagation, MS_PRIVATE | MS_REC);
	assert_string_equal(m.data, "mode=755,size=1k");
	free(m.data);
}

static bool profile_allows(const struct ct_seccomp *sc, const char *name, bool *conditional)
{
	for (size_t i = 0; i < sc->nrules; i++)
		if (!strcmp(sc->rules[i].names[0], name) && sc->rules[i].action == SCMP_ACT_ALLOW) {
			if (conditional)
				*conditional = sc->rules[i].nargs > 0;
			return true;
		}
	return false;
}

static void free_profile(struct ct_seccomp *sc)
{
	for (size_t i = 0; i < sc->nrules; i++) {
		free(sc->rules[i].names[0]);
		free(sc->rules[i].names);
		free(sc->rules[i].args);
	}
	free(sc->rules);
}

static void test_default_seccomp(void **state)
{
	(void)state;
	struct ct_process p = {0};
	int bset[] = {CAP_CHOWN, CAP_KILL};
	p.has_caps = true;
	p.caps.set[CT_CAP_BOUNDING] = bset;
	p.caps.count[CT_CAP_BOUNDING] = 2;
	struct ct_seccomp sc;
	mc_err err = NULL;
	assert_int_equal(ct_seccomp_default(&p, &sc, &err), 0);
	assert_int_equal(sc.default_action, SCMP_ACT_ERRNO(EPERM));
	assert_true(profile_allows(&sc, "read", NULL));
	assert_true(profile_allows(&sc, "execve", NULL));
	static const char *denied[] = {"mount",	  "umount2", "keyctl", "add_key", "init_module",
				       "unshare", "setns",   "reboot", "bpf",	  "pivot_root"};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if (profile_allows(&sc, denied[i], NULL))
			fail_msg("%s allowed without its capability", denied[i]);
	bool cond = false;
	assert_true(profile_allows(&sc, "clone", &cond));
	assert_true(cond); /* only without namespace flags */
	free_profile(&sc);

	int bset2[] = {CAP_SYS_ADMIN};
	p.caps.set[CT_CAP_BOUNDING] = bset2;
	p.caps.count[CT_CAP_BOUNDING] = 1;
	assert_int_equal(ct_seccomp_default(&p, &sc, &err), 0);
	assert_true(profile_allows(&sc, "mount", NULL));
	assert_true(profile_allows(&sc, "unshare", NULL));
	assert_true(profile_allows(&sc, "clone", &cond));
	assert_false(cond);
	assert_false(profile_allows(&sc, "init_module", NULL));
	free_profile(&sc);
}

static void test_cli_helpers(void **state)
{
	(void)state;
	int sig;
	mc_err err = NULL;
	assert_int_equal(ct_signal_parse("SIGKILL", &sig, &err), 0);
	assert_int_equal(sig, SIGKILL);
	assert_int_equal(ct_signal_parse("term", &sig, &err), 0);
	assert_int_equal(sig, SIGTERM);
	assert_int_equal(ct_signal_parse("9", &sig, &err), 0);
	assert_int_equal(sig, 9);
	assert_int_equal(ct_signal_parse("0", &sig, &err), -1);
	mc_error_free(&err);
	assert_int_equal(ct_signal_parse("SIGNOPE", &sig, &err), -1);
	mc_error_free(&err);
	assert_int_equal(ct_check_id("web-1_a.b+c", &err), 0);
	assert_int_equal(ct_check_id("../etc", &err), -1);
	mc_error_free(&err);
	assert_int_equal(ct_check_id("", &err), -1);
	mc_error_free(&err);
	assert_int_equal(ct_check_id("..", &err), -1);
	mc_error_free(&err);
	char *br = NULL, *cidr = NULL;
	assert_int_equal(ct_net_parse("bridge=br0,ip=10.0.0.2/24", &br, &cidr, &err), 0);
	assert_string_equal(br, "br0");
	assert_string_equal(cidr, "10.0.0.2/24");
	free(br);
	free(cidr);
	br = cidr = NULL;
	assert_int_equal(ct_net_parse("bridge=br0", &br, &cidr, &err), -1); /* no ip */
	mc_error_free(&err);
	free(br);
	br = NULL;
	assert_int_equal(ct_net_parse("bridge=br0,ip=10.0.0.300/24", &br, &cidr, &err), -1);
	mc_error_free(&err);
	free(br);
	br = NULL;
	assert_int_equal(
	    ct_net_parse("bridge=averyveryverylongbridgename,ip=10.0.0.2/24", &br, &cidr, &err),
	    -1);
	mc_error_free(&err);
	free(br);
	free(cidr);
	char ifn[16];
	ct_net_ifname("abc", ifn);
	assert_int_equal(strlen(ifn), 11);
	assert_memory_equal(ifn, "mct", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_spec),      cmocka_unit_test(test_field_errors),
	    cmocka_unit_test(test_resources),	      cmocka_unit_test(test_mount_options),
	    cmocka_unit_test(test_default_seccomp),   cmocka_unit_test(test_cli_helpers),
	    cmocka_unit_test(test_resources_zeros),   cmocka_unit_test(test_resources_ranges),
	    cmocka_unit_test(test_hugepages_network), cmocka_unit_test(test_unsupported_fields),
	    cmocka_unit_test(test_root_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
