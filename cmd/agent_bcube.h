/* `peregrine agent --scheme bcube` (cmd/agent_bcube.c). */
#ifndef PEREGRINE_CMD_AGENT_BCUBE_H
#define PEREGRINE_CMD_AGENT_BCUBE_H

/* Run the BCube server daemon until SIGTERM/SIGINT; the exit status. */
int agent_bcube_run(const char *config);

#endif
