/* `peregrine policy set|get|del`: a VM's policy in the directory
 * (cmd/policy_dir.c). */
#ifndef PEREGRINE_CMD_POLICY_DIR_H
#define PEREGRINE_CMD_POLICY_DIR_H

/* argv[0] is the command (set, get, del); returns the exit status. */
int policy_dir_cmd(int argc, char **argv);

#endif
