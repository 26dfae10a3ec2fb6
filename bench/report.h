/* The Markdown report under --out (DIR/report.md) with an SVG per figure, and the summary
 * section minibench writes into docs/results.md through bench/record.py (--record). */
#ifndef MB_REPORT_H
#define MB_REPORT_H

#include <stddef.h>

#include "error.h"
#include "results.h"

struct mb_report_fig {
	const char *name;  /* DIR/<name>.csv and DIR/<name>.svg */
	const char *title; /* its heading and the plot's title */
	const char *what;  /* a paragraph: what exactly is measured */
	const char *unit;
	const struct mb_summary_row *rows;
	size_t nrows;
	const char *study; /* Markdown beside the seed study's figures; NULL: it has none */
};

/* "on this host" or "in the lab" (MINI_IN_LAB, set by minilab run). */
const char *mb_where(void);
/* --record's section of an experiment (docs/results.md): id "minibench-EXP[-PART][-lab]",
 * title "minibench EXP[, WHAT][, in the lab] (issue 11)"; part and what NULL for none. The
 * lab's figures (its VMs, and the containers beside them) get their own section, so that they
 * don't replace this host's. */
void mb_record_section(char *id, size_t idsz, char *title, size_t titlesz, const char *exp,
		       const char *part, const char *what);
/* DIR/report.md and DIR/<fig>.svg. The environment comes from DIR/env.json; table is the
 * summary printed on stdout, shown first. Every row gets its ratio to each baseline present
 * (crun, runc, docker, podman) at the same guest count. vm_note: where the experiment's VMs ran
 * and what that means, on this host (NULL: the stock-kernel VMs' note, from the lab on PVM). */
int mb_report_write(const char *dir, const char *heading, const char *table,
		    const struct mb_report_fig *figs, size_t n, const char *vm_note, mc_err *err);
/* bench/record.py ID TITLE RERUN WHERE < text, from the checkout minibench was built in. */
int mb_record(const char *id, const char *title, int argc, char **argv, const char *text,
	      mc_err *err);

#endif
