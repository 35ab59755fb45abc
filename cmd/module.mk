CMD_SRCS += cmd/switchd_term.c cmd/main.c cmd/topo.c cmd/bench.c cmd/keygen.c cmd/sim.c cmd/probe.c cmd/topo_routes.c cmd/bench_routes.c cmd/bench_sim_fib.c cmd/trace.c cmd/dp.c cmd/bench_dp.c cmd/switchd.c cmd/swctl.c cmd/lab.c cmd/bench_lab.c cmd/directory.c cmd/dirctl.c cmd/bench_directory.c cmd/bench_sim_abt.c cmd/ras.c cmd/agent.c cmd/agent_vl2.c cmd/bench_yaml.c cmd/bench_failover.c cmd/bench_one2all.c cmd/cni.c cmd/daemon.c cmd/bench_slb.c cmd/slb.c cmd/slb_load.c
CMD_SRCS += cmd/fabric.c cmd/monitor.c
CMD_SRCS += cmd/agent_bcube.c
CMD_SRCS += cmd/bench_policy.c cmd/policy.c cmd/agent_policy.c cmd/policy_dir.c
CMD_SRCS += cmd/bench_sim_chaos.c
CMD_SRCS += cmd/bench_mcast.c
CMD_SRCS += cmd/probe_tcp.c cmd/probe_relay.c
CMD_SRCS += cmd/lab_ha.c cmd/directory_etcd.c cmd/dirctl_check.c cmd/ras_ha.c
SH_TESTS += cmd/test_probe.sh
SH_TESTS += cmd/test_trace.sh
# NetLord's data plane by hand, and its agent (docs/netlord.md).
CMD_SRCS += cmd/netlord.c cmd/agent_netlord.c
SH_TESTS += cmd/test_daemon_cli.sh
SH_TESTS += cmd/test_cni.sh
SH_TESTS += cmd/test_fabric_gen.sh
CMD_SRCS += cmd/lab_report.c
