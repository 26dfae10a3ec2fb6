/* The command line: global options and one function per verb (verb_*.c). */
#ifndef MINICT_CLI_H
#define MINICT_CLI_H

#include <stdbool.h>

#include "error.h"

struct ct_global {
	const char *root; /* state root */
	const char *criu; /* --criu PATH (checkpoint/restore), or NULL */
	bool debug;
};

typedef int (*ct_verb_fn)(struct ct_global *g, int argc, char **argv, mc_err *err);

int ct_verb_create(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_start(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_run(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_state(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_list(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_kill(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_delete(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_exec(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_ps(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_pause(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_resume(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_events(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_features(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_spec(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_checkpoint(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_restore(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_migrate(struct ct_global *g, int argc, char **argv, mc_err *err);
int ct_verb_receive(struct ct_global *g, int argc, char **argv, mc_err *err);

/* Shared helpers. */
int ct_signal_parse(const char *s, int *sig, mc_err *err);
/* Exit status for a wait() status: the code, or 128+signal. */
int ct_exit_code(int status);

#endif
