/* peregrine slb load: a TCP server and a connection-rate client for the load
 * balancer's lab figures (cmd/slb_load.c). */
#ifndef PEREGRINE_CMD_SLB_LOAD_H
#define PEREGRINE_CMD_SLB_LOAD_H

/* argv[0] is "load"; returns the exit status. */
int slb_load_main(int argc, char **argv);

#endif
