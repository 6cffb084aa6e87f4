// What sigforward.c shares with cgo.go.
#ifndef NSRUN_SIGFORWARD_H
#define NSRUN_SIGFORWARD_H

#include <stdint.h>

extern int nsrun_sigforward_blocked;
extern uint64_t nsrun_sigforward_orig;
const char *nsrun_sigforward_subcommand(int argc, char **argv);

#endif
