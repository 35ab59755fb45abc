/* `peregrine lab status` of a lab with a replicated control plane
 * (docs/ha.md, "In the lab"): its processes and who leads. */
#ifndef PEREGRINE_CMD_LAB_HA_H
#define PEREGRINE_CMD_LAB_HA_H

#include <jansson.h>
#include "lab/lab.h"

/* {"etcd": [...], "directories": [...], "ras": [...], "ras_leader",
 * "ras_term"}; each process {name, address, pid, leader}.  NULL when the
 * lab has none. */
json_t *lab_ha_status_json(const struct lab *l);
void lab_ha_status_print(const json_t *ha);

#endif
