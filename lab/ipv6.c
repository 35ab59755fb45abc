/* IPv6 for the VMs of the VDCs that have a prefix (subnet6: in the lab
 * file, docs/lab.md).  The lab switches IPv6 off in every namespace so that
 * nothing moves unasked (lab/run.c); the VMs of an IPv6 VDC get it back,
 * and take their SLAAC address from the router advertisements of their
 * server's agent (docs/tenant-network.md). */
#include <sys/wait.h>
#include <unistd.h>

#include "lab/lab.h"
#include "lab/run.h"

static bool vm_ipv6_on(const struct lab *l, uint32_t v)
{
	char ns[128];

	lab_ns(l, l->vms[v].name, ns, sizeof(ns));
	return !lab_enter_ns(ns) &&
	       !lab_write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "0") &&
	       !lab_write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "0");
}

int lab_ipv6_vms(const struct lab *l)
{
	bool any = false;
	int status;
	pid_t pid;

	for (uint32_t v = 0; v < l->nvms; v++)
		any |= l->vdcs[l->vms[v].vdc].has_net6;
	if (!any)
		return 0;
	pid = fork();
	if (pid == 0) {
		int bad = 0;

		for (uint32_t v = 0; v < l->nvms; v++)
			if (l->vdcs[l->vms[v].vdc].has_net6 && !vm_ipv6_on(l, v))
				bad++;
		_exit(bad ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
