/* The command line: global options and one function per verb (verb_*.c). */
#ifndef MINICT_CLI_H
#define MINICT_CLI_H

#include <stdbool.h>

#include "error.h"

struct mc_global {
	const char *root; /* state root */
	bool debug;
};

typedef int (*mc_verb_fn)(struct mc_global *g, int argc, char **argv, mc_err *err);

int mc_verb_create(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_start(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_run(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_state(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_list(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_kill(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_delete(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_exec(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_ps(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_pause(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_resume(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_events(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_features(struct mc_global *g, int argc, char **argv, mc_err *err);
int mc_verb_spec(struct mc_global *g, int argc, char **argv, mc_err *err);

/* Shared helpers. */
int mc_signal_parse(const char *s, int *sig, mc_err *err);
/* Exit status for a wait() status: the code, or 128+signal. */
int mc_exit_code(int status);

#endif
