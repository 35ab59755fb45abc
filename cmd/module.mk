CMD_SRCS += cmd/main.c cmd/topo.c cmd/bench.c cmd/keygen.c cmd/sim.c cmd/probe.c cmd/topo_routes.c cmd/bench_routes.c cmd/bench_sim_fib.c cmd/trace.c cmd/dp.c cmd/bench_dp.c cmd/switchd.c cmd/swctl.c cmd/lab.c cmd/lab_ha.c cmd/bench_lab.c cmd/directory.c cmd/directory_etcd.c cmd/dirctl.c cmd/dirctl_check.c cmd/bench_directory.c cmd/bench_sim_abt.c cmd/ras.c cmd/ras_ha.c cmd/agent.c cmd/agent_vl2.c cmd/bench_yaml.c cmd/bench_failover.c cmd/cni.c cmd/daemon.c cmd/bench_slb.c cmd/slb.c
SH_TESTS += cmd/test_probe.sh
SH_TESTS += cmd/test_trace.sh
SH_TESTS += cmd/test_daemon_cli.sh
SH_TESTS += cmd/test_cni.sh
