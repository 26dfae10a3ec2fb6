/* Where a lab's files live: found from minilab's own path (<checkout>/build/.../bin/minilab). */
#include "lab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lab_paths_init(struct lab_paths *p, mc_err *err)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return mc_errorf(err, errno, "readlink /proc/self/exe");
	exe[n] = '\0';
	char *b = strstr(exe, "/build/");
	if (!b)
		return mc_errorf(
		    err, 0, "minilab must run from a checkout's build/ folder (it is `%s`)", exe);
	/* the last /build/ component: checkouts may themselves sit under a folder named build */
	for (char *next; (next = strstr(b + 1, "/build/"));)
		b = next;
	*b = '\0';
	if (strlen(exe) >= sizeof(p->checkout))
		return mc_errorf(err, ENAMETOOLONG, "checkout path");
	if (strpbrk(exe, " \t\n\"'\\"))
		return mc_errorf(
		    err, 0,
		    "checkout path `%s` has blanks or quotes; the lab's kernel command "
		    "line can't carry it",
		    exe);
	strcpy(p->checkout, exe);
	/* MINILAB_STATE: a separate lab of the same checkout (tests use it) */
	const char *state = getenv("MINILAB_STATE");
	if (state && *state) {
		if (state[0] != '/' || strlen(state) >= sizeof(p->state) ||
		    strpbrk(state, " \t\n\"'\\"))
			return mc_errorf(
			    err, 0, "MINILAB_STATE `%s` must be an absolute path without blanks",
			    state);
		strcpy(p->state, state);
	} else {
		snprintf(p->state, sizeof(p->state), "%s/build/lab", p->checkout);
	}
	lab_paths_set_sockdir(p);
	return 0;
}

void lab_paths_set_sockdir(struct lab_paths *p)
{
	/* FNV-1a of the state path names its socket folder (vhost-user paths must be short) */
	uint32_t h = 2166136261u;
	for (const char *c = p->state; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	snprintf(p->sockdir, sizeof(p->sockdir), "/run/minilab/%08x", h);
}

/* Where the lab kernel's code symbols are kept for naming the addresses in a hung lab's CPU
 * dump (lab_dump_cpus): Debian ships System.map as a one-line placeholder (the real one is in
 * the -dbg package), and the lab boots with nokaslr, so the addresses in /proc/kallsyms hold
 * for every boot of that kernel. */
int lab_kallsyms_path(const struct lab_paths *p, const char *kver, char *out, size_t n)
{
	return snprintf(out, n, "%s/build/lab-kallsyms-%s", p->checkout, kver) < (int)n ? 0 : -1;
}
