/* probe relay: one server's part of BCube's one-to-all transfer (cmd/probe_relay.c). */
#ifndef PEREGRINE_CMD_PROBE_RELAY_H
#define PEREGRINE_CMD_PROBE_RELAY_H

/* `peregrine probe relay ARGS`: argv[0] is "relay". */
int probe_relay_main(int argc, char **argv);
void probe_relay_help_print(void);

#endif
