/* `peregrine agent --scheme netlord` (cmd/agent_netlord.c). */
#ifndef PEREGRINE_CMD_AGENT_NETLORD_H
#define PEREGRINE_CMD_AGENT_NETLORD_H

/* Run the NetLord agent (NLA) until SIGTERM/SIGINT; the exit status.  lab:
 * the lab's prefix (its maps are pinned as PREFIX-SERVER-nl), or NULL. */
int agent_netlord_run(const char *config, const char *lab);

#endif
