/* `peregrine agent --scheme vl2` (cmd/agent_vl2.c). */
#ifndef PEREGRINE_CMD_AGENT_VL2_H
#define PEREGRINE_CMD_AGENT_VL2_H

/* Run the VL2 agent until SIGTERM/SIGINT; the exit status. */
int agent_vl2_run(const char *config);

#endif
