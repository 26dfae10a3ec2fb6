#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "paths.h"
#include "util.h"

#define BUSYBOX "/bin/busybox"

/* runc 1.1's `runc spec` without process.args and root, terminal false */
static const char spec_template[] =
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
    "\"TERM=xterm\"],\"cwd\":\"/\",\"capabilities\":{"
    "\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
    "\"noNewPrivileges\":true},"
    "\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\","
    "\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":["
    "\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
    "{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
    "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
    "\"/sys/firmware\",\"/proc/scsi\",\"/sys/devices/virtual/powercap\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
    "\"/proc/sysrq-trigger\"]}}";

static int copy_busybox(const char *dest, mc_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	if (access(BUSYBOX, X_OK) < 0)
		return mc_errorf(err, 0, "busybox-static is not installed: no %s (make deps)",
				 BUSYBOX);
	if (mc_read_file(BUSYBOX, 64u << 20, &buf, &len, err) < 0)
		return -1;
	char tmp[4096];
	if (mb_pathf(tmp, sizeof(tmp), err, "%s.tmp", dest) < 0)
		return -1;
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0)
		return mc_errorf(err, errno, "create `%s`", tmp);
	if (mc_write_all(fd, buf, len) != (ssize_t)len || fchmod(fd, 0755) < 0)
		return mc_errorf(err, errno, "write `%s`", tmp);
	if (rename(tmp, dest) < 0)
		return mc_errorf(err, errno, "rename `%s`", tmp);
	return 0;
}

/* A link bin/<applet> -> busybox for every applet `busybox --list` names. */
static int link_applets(const char *bin, mc_err *err)
{
	FILE *list = popen(BUSYBOX " --list", "r");
	if (!list)
		return mc_errorf(err, errno, "run `%s --list`", BUSYBOX);
	char name[256], path[4096];
	int n = 0, rc = 0;
	while (fgets(name, sizeof(name), list)) {
		name[strcspn(name, "\n")] = 0;
		if (!name[0] || strchr(name, '/') || strcmp(name, "busybox") == 0)
			continue;
		if (mb_pathf(path, sizeof(path), err, "%s/%s", bin, name) < 0) {
			rc = -1;
			break;
		}
		if (symlink("busybox", path) < 0 && errno != EEXIST) {
			rc = mc_errorf(err, errno, "symlink `%s`", path);
			break;
		}
		n++;
	}
	int st = pclose(list);
	if (rc < 0)
		return rc;
	if (st != 0 || n == 0)
		return mc_errorf(err, 0, "`%s --list` failed (status %d)", BUSYBOX, st);
	return 0;
}

int mb_rootfs_make(const char *rootfs, mc_err *err)
{
	static const char *const dirs[] = {"bin", "sbin", "etc",  "proc",    "sys",
					   "dev", "tmp",  "root", "usr/bin", "usr/sbin"};
	char path[4096];
	for (size_t i = 0; i < MC_ARRAY_SIZE(dirs); i++) {
		if (mb_pathf(path, sizeof(path), err, "%s/%s", rootfs, dirs[i]) < 0)
			return -1;
		if (mc_mkdir_p(path, 0755, err) < 0)
			return mc_wrap(err, "rootfs");
	}
	if (mb_pathf(path, sizeof(path), err, "%s/tmp", rootfs) < 0)
		return -1;
	if (chmod(path, 01777) < 0)
		return mc_errorf(err, errno, "rootfs: chmod `%s`", path);
	if (mb_pathf(path, sizeof(path), err, "%s/bin/busybox", rootfs) < 0)
		return -1;
	if (copy_busybox(path, err) < 0)
		return mc_wrap(err, "rootfs");
	if (mb_pathf(path, sizeof(path), err, "%s/bin", rootfs) < 0)
		return -1;
	if (link_applets(path, err) < 0)
		return mc_wrap(err, "rootfs");
	if (mb_pathf(path, sizeof(path), err, "%s/etc/passwd", rootfs) < 0)
		return -1;
	if (mb_write_text(
		path, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		0644, err) < 0)
		return mc_wrap(err, "rootfs");
	if (mb_pathf(path, sizeof(path), err, "%s/etc/group", rootfs) < 0)
		return -1;
	if (mb_write_text(path, "root:x:0:\nnogroup:x:65534:\n", 0644, err) < 0)
		return mc_wrap(err, "rootfs");
	return 0;
}

int mb_bundle_config(const char *dir, const char *rootfs, char *const *args, mc_err *err)
{
	struct mb_bundle_opts o = {.rootfs = rootfs, .args = args};
	return mb_bundle_write(dir, &o, err);
}

int mb_bundle_write(const char *dir, const struct mb_bundle_opts *o, mc_err *err)
{
	char path[4096];
	if (mc_mkdir_p(dir, 0755, err) < 0)
		return mc_wrap(err, "bundle");
	json_object *spec = json_tokener_parse(spec_template);
	json_object *process, *linux_, *resources, *mounts;
	json_object *arr = json_object_new_array(), *root = json_object_new_object();
	if (!spec || !arr || !root || !json_object_object_get_ex(spec, "process", &process) ||
	    !json_object_object_get_ex(spec, "linux", &linux_) ||
	    !json_object_object_get_ex(linux_, "resources", &resources) ||
	    !json_object_object_get_ex(spec, "mounts", &mounts)) {
		json_object_put(spec);
		json_object_put(arr);
		json_object_put(root);
		return mc_errorf(err, 0, "bundle: the built-in spec does not parse");
	}
	for (size_t i = 0; o->args[i]; i++)
		json_object_array_add(arr, json_object_new_string(o->args[i]));
	json_object_object_add(process, "args", arr);
	json_object_object_add(root, "path", json_object_new_string(o->rootfs));
	json_object_object_add(root, "readonly", json_object_new_boolean(!o->writable));
	json_object_object_add(spec, "root", root);
	json_object_object_add(spec, "hostname", json_object_new_string("minibench"));
	if (o->cpus) {
		json_object *cpu = json_object_new_object();
		json_object_object_add(cpu, "quota", json_object_new_int64(100000LL * o->cpus));
		json_object_object_add(cpu, "period", json_object_new_int64(100000));
		json_object_object_add(resources, "cpu", cpu);
	}
	if (o->mem_bytes) {
		json_object *mem = json_object_new_object();
		json_object_object_add(mem, "limit", json_object_new_int64((int64_t)o->mem_bytes));
		json_object_object_add(resources, "memory", mem);
	}
	if (o->cgroups_path)
		json_object_object_add(linux_, "cgroupsPath",
				       json_object_new_string(o->cgroups_path));
	if (o->bind_src && o->bind_dst) {
		json_object *m = json_object_new_object(), *opts = json_object_new_array();
		json_object_object_add(m, "destination", json_object_new_string(o->bind_dst));
		json_object_object_add(m, "type", json_object_new_string("bind"));
		json_object_object_add(m, "source", json_object_new_string(o->bind_src));
		json_object_array_add(opts, json_object_new_string("rbind"));
		json_object_array_add(opts, json_object_new_string("rw"));
		json_object_object_add(m, "options", opts);
		json_object_array_add(mounts, m);
	}
	int rc = mb_pathf(path, sizeof(path), err, "%s/config.json", dir);
	if (rc == 0)
		rc = mb_write_text(
		    path, json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY), 0644, err);
	json_object_put(spec);
	return rc < 0 ? mc_wrap(err, "bundle `%s`", dir) : 0;
}

int mb_barrier_make(const char *rootfs, mc_err *err)
{
	static const char *const fifos[] = {"events", "go"};
	char path[4096];
	if (mb_pathf(path, sizeof(path), err, "%s/mb", rootfs) < 0)
		return -1;
	if (mc_mkdir_p(path, 0755, err) < 0)
		return mc_wrap(err, "barrier");
	for (size_t i = 0; i < MC_ARRAY_SIZE(fifos); i++) {
		struct stat st;
		if (mb_pathf(path, sizeof(path), err, "%s/mb/%s", rootfs, fifos[i]) < 0)
			return -1;
		if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode) && unlink(path) < 0)
			return mc_errorf(err, errno, "barrier: unlink `%s`", path);
		if (mkfifo(path, 0666) < 0 && errno != EEXIST)
			return mc_errorf(err, errno, "barrier: mkfifo `%s`", path);
		if (chmod(path, 0666) < 0)
			return mc_errorf(err, errno, "barrier: chmod `%s`", path);
	}
	return 0;
}
