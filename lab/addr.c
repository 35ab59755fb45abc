/* Names and addresses in the lab (docs/lab.md, "Names and addresses"). */
#include "lab/lab.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdarg.h>
#include <string.h>

#include "wire/pgr.h"

void lab_ns(const struct lab *l, const char *node, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", l->prefix, node);
}

void lab_ifname(const struct lab *l, char buf[LAB_IFNAMSIZ], const char *fmt, ...)
{
	char tail[LAB_IFNAMSIZ];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	n = snprintf(buf, LAB_IFNAMSIZ, "%s-%s", l->prefix, tail);
	assert(n > 0 && n < LAB_IFNAMSIZ);	/* the limits make every name fit */
}

void lab_port_ifname(const struct lab *l, uint32_t node, uint32_t port, char buf[LAB_IFNAMSIZ])
{
	if (topo_is_server(l->topo, node))
		lab_ifname(l, buf, "nic%u", port);
	else
		lab_ifname(l, buf, "p%u", port);
}

uint32_t lab_mgmt_self_ip(const struct lab *l)
{
	return l->mgmt_net + 1;
}

uint32_t lab_mgmt_ip(const struct lab *l, uint32_t node)
{
	return l->mgmt_net + 2 + node;
}

uint32_t lab_server_node(uint32_t server_index)
{
	return server_index + 1;
}

uint32_t lab_vm_node(const struct lab *l, const struct lab_vm *vm)
{
	return l->topo->nservers + vm->id;
}

void lab_vm_mac(const struct lab *l, const struct lab_vm *vm, uint8_t mac[6])
{
	uint32_t id = pgr_id_of(lab_vm_node(l, vm), PGR_PRIMARY);

	assert(id);	/* the lab's limits keep nodes far below PGR_NODE_MAX */
	pgr_mac_make(mac, id);
}

void lab_nic_mac(uint32_t server_index, uint32_t nic, uint8_t mac[6])
{
	uint32_t id = pgr_id_of(lab_server_node(server_index), nic & 1);

	assert(id && nic < TOPO_MAX_SERVER_NICS);
	pgr_mac_make(mac, id);
}

uint32_t lab_nic_ip(uint32_t server_index, uint32_t nic)
{
	assert(server_index + 1 < (1u << (32 - LAB_NIC_PLEN)) - 1);
	return LAB_NIC_NET + (nic << 16) + server_index + 1;
}

uint32_t lab_switch_fib(const struct lab *l, uint32_t node)
{
	return l->fib ? l->fib : l->topo->nodes[node].fib_cap;
}

const char *lab_ip_str(uint32_t ip, char buf[16])
{
	struct in_addr a = { htonl(ip) };

	inet_ntop(AF_INET, &a, buf, 16);
	return buf;
}

uint32_t lab_find(const struct lab *l, const char *name, int *vm)
{
	*vm = -1;
	for (uint32_t i = 0; i < l->nvms; i++) {
		if (!strcmp(l->vms[i].name, name)) {
			*vm = (int)i;
			return UINT32_MAX;
		}
	}
	return topo_find(l->topo, name);
}
