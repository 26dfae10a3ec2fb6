#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "svg.h"
#include "util.h"

static const char *const baselines[] = {"crun", "runc", "docker", "podman"};

const char *mb_where(void)
{
	/* MINI_IN_LAB (the tests' and benchmarks' flag), or the lab's kernel command line
	 * (minilab.checkout=, docs/lab.md), so that a plain `minilab run -- minibench ...` says so
	 */
	const char *lab = getenv("MINI_IN_LAB");
	if (lab && *lab)
		return "in the lab";
	char line[4096];
	_cleanup_fclose_ FILE *f = fopen("/proc/cmdline", "re");
	if (f && fgets(line, sizeof(line), f) && strstr(line, " minilab.checkout="))
		return "in the lab";
	return "on this host";
}

void mb_record_section(char *id, size_t idsz, char *title, size_t titlesz, const char *exp,
		       const char *part, const char *what)
{
	bool lab = strcmp(mb_where(), "in the lab") == 0;
	snprintf(id, idsz, "minibench-%s%s%s%s", exp, part ? "-" : "", part ? part : "",
		 lab ? "-lab" : "");
	snprintf(title, titlesz, "minibench %s%s%s%s (issue 11)", exp, what ? ", " : "",
		 what ? what : "", lab ? ", in the lab" : "");
}

static const char *jstr(json_object *o, const char *a, const char *b)
{
	json_object *v;
	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_is_type(v, json_type_null) ? NULL : json_object_get_string(v);
}

static void environment(FILE *f, const char *dir, const char *vm_note)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/env.json", dir);
	json_object *env = json_object_from_file(path);
	if (!env) {
		fprintf(f, "(no env.json: the environment is unknown)\n\n");
		return;
	}
	const char *kvm = jstr(env, "kvm", NULL);
	json_object *mem;
	long long kib =
	    json_object_object_get_ex(env, "memory_kib", &mem) ? json_object_get_int64(mem) : 0;
#define OR(v, d) ((v) ? (v) : (d))
	fprintf(f, "| | |\n|---|---|\n");
	fprintf(f, "| date (UTC) | %s |\n", OR(jstr(env, "date", NULL), "?"));
	fprintf(f, "| host | %s |\n", OR(jstr(env, "hostname", NULL), "?"));
	fprintf(f, "| CPU | %s, %s online cores |\n", OR(jstr(env, "cpu", "model"), "?"),
		OR(jstr(env, "cpu", "cores"), "?"));
	fprintf(f, "| memory | %.1f GiB |\n", (double)kib / 1048576.0);
	fprintf(f, "| kernel | Linux %s %s |\n", OR(jstr(env, "kernel", "release"), "?"),
		OR(jstr(env, "kernel", "machine"), ""));
	fprintf(f, "| /dev/kvm | %s |\n| cgroups | %s |\n", OR(kvm, "?"),
		OR(jstr(env, "cgroups", NULL), "?"));
#undef OR
	json_object *tools;
	if (json_object_object_get_ex(env, "tools", &tools)) {
		json_object_object_foreach(tools, name, v)
		{
			fprintf(f, "| %s | %s |\n", name,
				json_object_is_type(v, json_type_null) ? "(not installed)"
								       : json_object_get_string(v));
		}
	}
	const char *commit = jstr(env, "git", "commit");
	json_object *g, *dirty;
	int is_dirty = json_object_object_get_ex(env, "git", &g) &&
		       json_object_object_get_ex(g, "dirty", &dirty) &&
		       json_object_get_boolean(dirty);
	fprintf(f, "| checkout | %s%s |\n\n", commit ? commit : "?",
		is_dirty ? " (with uncommitted changes)" : "");
	fprintf(f, "Where: %s. ", mb_where());
	if (strcmp(mb_where(), "in the lab") == 0)
		fprintf(f, "The lab is a QEMU TCG guest (docs/lab.md): its figures compare the "
			   "tools side by side inside it and are not absolute speeds of any "
			   "hardware. VMs (the vm and qemu backends) run nested in it, KVM on the "
			   "SVM that TCG emulates, while containers and native run on its own "
			   "kernel: read ratios within one run, not digits.\n\n");
	else
		fprintf(
		    f,
		    "Containers need no virtualization and ran directly on this machine's "
		    "kernel, so these are this machine's figures, shared with whatever else ran "
		    "on it meanwhile (backends are interleaved run by run, so they shared it "
		    "alike).%s%s\n\n",
		    vm_note ? " " : "",
		    vm_note ? vm_note
		    : kvm && strcmp(kvm, "pvm") == 0
			? " This host's /dev/kvm is PVM (software), which can't boot stock "
			  "kernels: VM figures (the vm and qemu backends) come from the lab, where "
			  "they compare tools side by side, not absolute speeds."
			: "");
	json_object_put(env);
}

static double median_of(const struct mb_summary_row *rows, size_t n, const char *backend,
			unsigned guests)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].guests == guests && strcmp(rows[i].backend, backend) == 0)
			return rows[i].st.median;
	return NAN;
}

static void figure(FILE *f, const struct mb_report_fig *fig)
{
	int have[MC_ARRAY_SIZE(baselines)] = {0};
	for (size_t b = 0; b < MC_ARRAY_SIZE(baselines); b++)
		for (size_t i = 0; i < fig->nrows; i++)
			if (strcmp(fig->rows[i].backend, baselines[b]) == 0)
				have[b] = 1;
	fprintf(f, "## %s\n\n%s\n\n![%s](%s.svg)\n\n", fig->title, fig->what, fig->title,
		fig->name);
	fprintf(f, "| backend | guests | n | min | median | p95 | max |");
	for (size_t b = 0; b < MC_ARRAY_SIZE(baselines); b++)
		if (have[b])
			fprintf(f, " vs %s |", baselines[b]);
	fprintf(f, "\n|---|--:|--:|--:|--:|--:|--:|");
	for (size_t b = 0; b < MC_ARRAY_SIZE(baselines); b++)
		if (have[b])
			fprintf(f, "--:|");
	fputc('\n', f);
	for (size_t i = 0; i < fig->nrows; i++) {
		const struct mb_summary_row *r = &fig->rows[i];
		fprintf(f, "| %s | %u | %zu | %.2f | %.2f | %.2f | %.2f |", r->backend, r->guests,
			r->st.n, r->st.min, r->st.median, r->st.p95, r->st.max);
		for (size_t b = 0; b < MC_ARRAY_SIZE(baselines); b++) {
			if (!have[b])
				continue;
			double base = median_of(fig->rows, fig->nrows, baselines[b], r->guests);
			if (isfinite(base) && base > 0)
				fprintf(f, " %.2f |", r->st.median / base);
			else
				fprintf(f, " |");
		}
		fputc('\n', f);
	}
	fprintf(f,
		"\n%s: %s, per guest; ratios are this row's median over the baseline's median "
		"at the same guest count, measured in the same run. CSV: `%s.csv`.\n\n",
		fig->unit, "min / median / p95 / max", fig->name);
	if (fig->study)
		fprintf(f, "**Beside the seed study.** %s\n\n", fig->study);
	else
		fprintf(f, "**Beside the seed study.** The study has no counterpart of this "
			   "figure.\n\n");
}

int mb_report_write(const char *dir, const char *heading, const char *table,
		    const struct mb_report_fig *figs, size_t n, const char *vm_note, mc_err *err)
{
	char path[4200];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.svg", dir, figs[i].name);
		if (mb_svg_plot(path, figs[i].title, figs[i].unit, figs[i].rows, figs[i].nrows,
				err) < 0)
			return mc_wrap(err, "report");
	}
	snprintf(path, sizeof(path), "%s/report.md", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return mc_errorf(err, errno, "create `%s`", path);
	fprintf(f, "# %s\n\n```\n%s```\n\n", heading, table);
	fprintf(f, "Seed study: R. Dhar, *Comparative evaluation of Virtual Environments: Virtual "
		   "Machines and Containers*, TCD 2016 (summary in /work/shared/seed-study.md): "
		   "i7-4770, Ubuntu 16.04, kernel 4.4, Docker 1.12, KVM/QEMU 2.7; 10 runs "
		   "averaged.\n\n");
	fprintf(f, "## Environment\n\n");
	environment(f, dir, vm_note);
	for (size_t i = 0; i < n; i++)
		figure(f, &figs[i]);
	fprintf(f, "Files: `results.jsonl` (every measurement), `<figure>.csv`, `<figure>.svg`, "
		   "`env.json`; the method is in docs/bench.md.\n");
	if (fflush(f) != 0 || ferror(f))
		return mc_errorf(err, errno, "write `%s`", path);
	return 0;
}

int mb_record(const char *id, const char *title, int argc, char **argv, const char *text,
	      mc_err *err)
{
	char script[4200], rerun[4096] = "build/bin/minibench";
	const char *root = mb_checkout_dir();
	if (!root)
		return mc_errorf(err, 0,
				 "--record: no bench/record.py above %s (minibench outside "
				 "its checkout?)",
				 mb_self_dir());
	snprintf(script, sizeof(script), "%s/bench/record.py", root);
	for (int i = 1; i < argc; i++) {
		size_t len = strlen(rerun);
		snprintf(rerun + len, sizeof(rerun) - len, strchr(argv[i], ' ') ? " '%s'" : " %s",
			 argv[i]);
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return mc_errorf(err, errno, "fork record.py");
	}
	if (pid == 0) {
		if (dup2(fds[0], 0) < 0)
			_exit(126);
		char *const a[] = {"python3",	       script, (char *)id, (char *)title, rerun,
				   (char *)mb_where(), NULL};
		execvp(a[0], a);
		_exit(127);
	}
	close(fds[0]);
	size_t len = strlen(text);
	ssize_t w = mc_write_all(fds[1], text, len);
	close(fds[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return mc_errorf(err, errno, "wait for record.py");
	if (w != (ssize_t)len || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return mc_errorf(err, 0, "--record: bench/record.py failed (status %d)",
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
