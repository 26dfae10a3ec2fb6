/* minivm subcommands. Each returns the process exit status. */
#ifndef MINIVM_CMDS_H
#define MINIVM_CMDS_H

#define MINIVM_EXIT_ERROR 125 /* minivm itself failed (bad input, KVM error, guest crash) */

int cmd_run(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

#endif
