/* Every limit and count default of the simulator, in one place. */
#ifndef PEREGRINE_SIM_LIMITS_H
#define PEREGRINE_SIM_LIMITS_H

enum sim_limits {
	/* sim/event.c */
	SIM_EVENTS_MAX = 1u << 26,		/* pending events */
	/* sim/plot.c */
	SIM_PLOT_MAX_SERIES = 16,
	/* sim fib */
	SIM_FIB_MAX_VMS_PER_SERVER = 1u << 20,
	SIM_FIB_MAX_HEAVY = 1024,		/* heavy pairs per server (peregrine-dual) */
	SIM_FIB_DEFAULT_HEAVY = 4,
	/* sim flood */
	SIM_FLOOD_MAX_PACKETS = 1u << 30,
	SIM_FLOOD_MAX_PEERS = 64,
	SIM_FLOOD_MAX_FLOWS = 1u << 26,
	SIM_FLOOD_DEFAULT_PACKETS = 1000000,
	SIM_FLOOD_DEFAULT_PEERS = 2,
	SIM_FLOOD_DEFAULT_WARMUP = 2,		/* packets per flow before counting */
	/* sim failover */
	SIM_FO_MAX_PEERS = 1024,
	SIM_FO_MAX_TRAPS = 16,
	SIM_FO_MAX_DIRECTORIES = 1024,
	SIM_FO_DEFAULT_VMS = 20,
	SIM_FO_DEFAULT_PEERS = 10,		/* VL2: median 10 concurrent flows a server */
	SIM_FO_DEFAULT_TRAPS = 2,
};

/* peregrine-dual: VM numbers in direct-entry keys (too wide for an enum). */
#define SIM_FIB_MAX_DUAL_VMS (1ull << 40)

#endif
