/* process.rlimits. Raising a hard limit needs CAP_SYS_RESOURCE (which root lacks on some
 * hosts); say that instead of a bare EPERM. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>

#include "security.h"

static void fmt(char *b, size_t n, uint64_t v)
{
	if (v == RLIM_INFINITY)
		snprintf(b, n, "unlimited");
	else
		snprintf(b, n, "%" PRIu64, v);
}

int ct_rlimits_apply(const struct ct_process *p, mc_err *err)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		const struct ct_rlimit *r = &p->rlimits[i];
		struct rlimit rl = {.rlim_cur = r->soft, .rlim_max = r->hard};
		if (setrlimit(r->resource, &rl) == 0)
			continue;
		int e = errno;
		struct rlimit cur;
		getrlimit(r->resource, &cur);
		char s[24], h[24], ch[24];
		fmt(s, sizeof(s), r->soft);
		fmt(h, sizeof(h), r->hard);
		fmt(ch, sizeof(ch), cur.rlim_max);
		if (e == EPERM && r->hard > cur.rlim_max)
			return mc_errorf(
			    err, e,
			    "setrlimit %s soft=%s hard=%s: the hard limit is %s here and "
			    "raising it needs CAP_SYS_RESOURCE",
			    r->type, s, h, ch);
		return mc_errorf(err, e, "setrlimit %s soft=%s hard=%s", r->type, s, h);
	}
	return 0;
}
