/* minict features: what this runtime supports (OCI features document). */
#include <seccomp.h>
#include <stdio.h>
#include <sys/capability.h>

#include "cgroup.h"
#include "cli.h"

static json_object *strs(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

int ct_verb_features(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	(void)g;
	(void)argv;
	if (argc != 1)
		return mc_errorf(err, 0, "features: takes no arguments");
	static const char *const hooks[] = {"prestart",
					    "createRuntime",
					    "createContainer",
					    "startContainer",
					    "poststart",
					    "poststop",
					    NULL};
	static const char *const mopts[] = {
	    "async",	  "atime",	 "bind",       "defaults",    "dev",	    "diratime",
	    "dirsync",	  "exec",	 "lazytime",   "mand",	      "noatime",    "nodev",
	    "nodiratime", "noexec",	 "nolazytime", "nomand",      "norelatime", "nostrictatime",
	    "nosuid",	  "private",	 "rbind",      "relatime",    "remount",    "ro",
	    "rprivate",	  "rshared",	 "rslave",     "runbindable", "rw",	    "shared",
	    "slave",	  "strictatime", "suid",       "sync",	      "unbindable", NULL};
	static const char *const ns[] = {"cgroup", "ipc",  "mount", "network",
					 "pid",	   "user", "uts",   NULL};
	static const char *const actions[] = {
	    "SCMP_ACT_ALLOW",	     "SCMP_ACT_ERRNO",	     "SCMP_ACT_KILL",
	    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
	    "SCMP_ACT_TRACE",	     "SCMP_ACT_TRAP",	     NULL};
	static const char *const ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
					  "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
					  "SCMP_CMP_NE", NULL};
	static const char *const archs[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
					    NULL};
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(o, "ociVersionMax", json_object_new_string("1.1.0"));
	json_object_object_add(o, "hooks", strs(hooks));
	json_object_object_add(o, "mountOptions", strs(mopts));
	json_object *l = json_object_new_object();
	json_object_object_add(l, "namespaces", strs(ns));
	json_object *caps = json_object_new_array();
	for (int c = 0; CAP_IS_SUPPORTED(c); c++) {
		char *n = cap_to_name(c);
		for (char *p = n; p && *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p -= 32;
		json_object_array_add(caps, json_object_new_string(n));
		cap_free(n);
	}
	json_object_object_add(l, "capabilities", caps);
	json_object *cg = json_object_new_object();
	enum ct_cg_layout lay = ct_cg_detect();
	json_object_object_add(cg, "v1",
			       json_object_new_boolean(lay == CT_CG_V1 || lay == CT_CG_HYBRID));
	json_object_object_add(cg, "v2",
			       json_object_new_boolean(lay == CT_CG_V2 || lay == CT_CG_HYBRID));
	json_object_object_add(cg, "systemd", json_object_new_boolean(0));
	json_object_object_add(cg, "systemdUser", json_object_new_boolean(0));
	json_object_object_add(l, "cgroup", cg);
	json_object *sc = json_object_new_object();
	json_object_object_add(sc, "enabled", json_object_new_boolean(1));
	json_object_object_add(sc, "actions", strs(actions));
	json_object_object_add(sc, "operators", strs(ops));
	json_object_object_add(sc, "archs", strs(archs));
	json_object_object_add(l, "seccomp", sc);
	json_object *ap = json_object_new_object();
	json_object_object_add(ap, "enabled", json_object_new_boolean(0));
	json_object_object_add(l, "apparmor", ap);
	json_object *se = json_object_new_object();
	json_object_object_add(se, "enabled", json_object_new_boolean(0));
	json_object_object_add(l, "selinux", se);
	json_object_object_add(o, "linux", l);
	json_object *ann = json_object_new_object();
	json_object_object_add(ann, "org.opencontainers.runc.checkpoint.enabled",
			       json_object_new_string("true"));
	json_object_object_add(ann, "io.github.seccomp.libseccomp.version",
			       json_object_new_string("2.5"));
	json_object_object_add(o, "annotations", ann);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}
