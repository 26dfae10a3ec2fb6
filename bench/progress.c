#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "util.h"

void mb_progress_init(struct mb_progress *p, size_t total, int force)
{
	p->on = force < 0 ? isatty(2) : force > 0;
	p->t0 = mc_now_ns();
	p->done = 0;
	p->total = total;
}

void mb_format_duration(double seconds, char *buf, size_t size)
{
	if (seconds < 0)
		seconds = 0;
	unsigned long s = (unsigned long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

void mb_progress_show(struct mb_progress *p, const char *experiment, const char *backend,
		      unsigned guests, unsigned run, unsigned runs)
{
	if (!p->on)
		return;
	double elapsed = (double)(mc_now_ns() - p->t0) / 1e9;
	char el[32], eta[32] = "?";
	mb_format_duration(elapsed, el, sizeof(el));
	if (p->done > 0 && p->total >= p->done)
		mb_format_duration(elapsed / (double)p->done * (double)(p->total - p->done), eta,
				   sizeof(eta));
	char what[32];
	if (run == 0)
		snprintf(what, sizeof(what), "warm-up");
	else
		snprintf(what, sizeof(what), "run %u/%u", run, runs);
	fprintf(stderr, "\r\033[K%s  %s  %u guest%s  %s  elapsed %s  ETA %s", experiment, backend,
		guests, guests == 1 ? "" : "s", what, el, eta);
	fflush(stderr);
}

void mb_progress_step(struct mb_progress *p)
{
	p->done++;
}

void mb_progress_clear(struct mb_progress *p)
{
	if (p->on) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}
