/* probe blast and probe sink: bulk TCP for the lab's shuffle (cmd/probe_tcp.c). */
#ifndef PEREGRINE_CMD_PROBE_TCP_H
#define PEREGRINE_CMD_PROBE_TCP_H

#include <stdbool.h>

/* Runs `probe blast` or `probe sink` into *rc; false if argv[1] is neither. */
bool probe_tcp_dispatch(int argc, char **argv, int *rc);
void probe_tcp_help_print(void);

#endif
