/* Peregrine addresses and the zero-byte encapsulation (docs/wire-format.md).
 *
 * A Peregrine MAC is PREFIX (3 bytes) : ID (3 bytes).  An ID is 24 bits whose
 * top octet always has the U/L bit set and the I/G bit clear, so an ID can
 * stand in the first half of a source address and still make a unicast,
 * locally administered MAC.  The ID equal to the prefix (node 0) is reserved,
 * which is what tells the two kinds of source address apart:
 *
 *   plain         SA = PREFIX : SRC_ID      (direct frames, VM to its server)
 *   encapsulated  SA = DST_ID : SRC_ID      DA = intermediary server's MAC
 *
 * The IDs are numbered id = encode(node << 1 | tree), tree 0 = primary MAC,
 * tree 1 = backup MAC, node 1 .. PGR_NODE_MAX (servers and VMs share one
 * space).  The data plane needs only pgr_id_valid(); the numbering is the
 * convention the directory and the lab follow.
 */
#ifndef PEREGRINE_WIRE_PGR_H
#define PEREGRINE_WIRE_PGR_H

#include "wire/eth.h"

#define PGR_PREFIX0 0x02
#define PGR_PREFIX1 0x00
#define PGR_PREFIX2 0x00
/* The prefix as a 24-bit number (= the reserved ID of node 0, tree 0). */
#define PGR_PREFIX ((uint32_t)PGR_PREFIX0 << 16 | PGR_PREFIX1 << 8 | PGR_PREFIX2)

enum pgr_limits {
	PGR_ID_BITS = 22,		/* 24 minus the I/G and U/L bits */
	PGR_INDEX_MAX = (1 << PGR_ID_BITS) - 1,
	PGR_NODE_MAX = PGR_INDEX_MAX >> 1,	/* 2,097,151 nodes */
	PGR_TREES = 2,
};

enum pgr_tree { PGR_PRIMARY = 0, PGR_BACKUP = 1 };

/* What a source address says about a frame. */
enum pgr_src_kind {
	PGR_SRC_INVALID,	/* group bit or all zero: never legal */
	PGR_SRC_FOREIGN,	/* unicast, but not a Peregrine address */
	PGR_SRC_PLAIN,		/* PREFIX : valid ID */
	PGR_SRC_ENCAP,		/* valid ID (not the prefix) : valid ID */
};

/* 24-bit IDs are carried in a uint32_t (top byte zero). */
WIRE_INLINE uint32_t pgr_id_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

WIRE_INLINE void pgr_id_put(uint8_t *p, uint32_t id)
{
	p[0] = (uint8_t)(id >> 16);
	p[1] = (uint8_t)(id >> 8);
	p[2] = (uint8_t)id;
}

/* Right shape (U/L set, I/G clear) and not the reserved prefix value. */
WIRE_INLINE bool pgr_id_valid(uint32_t id)
{
	return id <= 0xffffff && ((id >> 16) & 0x03) == WIRE_MAC_LOCAL && id != PGR_PREFIX;
}

/* index (22 bits) <-> ID: the index's top 6 bits go above the two flag bits. */
WIRE_INLINE uint32_t pgr_id_from_index(uint32_t index)
{
	return (index >> 16) << 18 | (uint32_t)WIRE_MAC_LOCAL << 16 | (index & 0xffff);
}

WIRE_INLINE uint32_t pgr_id_index(uint32_t id)
{
	return (id >> 18) << 16 | (id & 0xffff);
}

/* The ID of a node's primary (tree 0) or backup (tree 1) MAC; 0 when node is
 * out of range (0 is never a valid ID). */
WIRE_INLINE uint32_t pgr_id_of(uint32_t node, uint32_t tree)
{
	if (node < 1 || node > PGR_NODE_MAX || tree >= PGR_TREES)
		return 0;
	return pgr_id_from_index(node << 1 | tree);
}

WIRE_INLINE uint32_t pgr_id_node(uint32_t id)
{
	return pgr_id_index(id) >> 1;
}

WIRE_INLINE uint32_t pgr_id_tree(uint32_t id)
{
	return pgr_id_index(id) & 1;
}

WIRE_INLINE bool pgr_is_prefix(const uint8_t *p)
{
	return p[0] == PGR_PREFIX0 && p[1] == PGR_PREFIX1 && p[2] == PGR_PREFIX2;
}

WIRE_INLINE void pgr_mac_make(uint8_t *mac, uint32_t id)
{
	mac[0] = PGR_PREFIX0;
	mac[1] = PGR_PREFIX1;
	mac[2] = PGR_PREFIX2;
	pgr_id_put(mac + 3, id);
}

/* A Peregrine MAC: the prefix and a valid ID. */
WIRE_INLINE bool pgr_mac_valid(const uint8_t *mac)
{
	return pgr_is_prefix(mac) && pgr_id_valid(pgr_id_get(mac + 3));
}

/* The ID of a Peregrine MAC (call pgr_mac_valid first). */
WIRE_INLINE uint32_t pgr_mac_id(const uint8_t *mac)
{
	return pgr_id_get(mac + 3);
}

WIRE_INLINE enum pgr_src_kind pgr_src_kind(const uint8_t *sa)
{
	if (wire_mac_is_group(sa) || wire_mac_is_zero(sa))
		return PGR_SRC_INVALID;
	if (!pgr_id_valid(pgr_id_get(sa + 3)))
		return PGR_SRC_FOREIGN;
	if (pgr_is_prefix(sa))
		return PGR_SRC_PLAIN;
	if (pgr_id_valid(pgr_id_get(sa)))
		return PGR_SRC_ENCAP;
	return PGR_SRC_FOREIGN;
}

/* Indirect encapsulation of the 12 address bytes at the start of a frame:
 * DA := intermediary, SA := DST_ID : SRC_ID, where DST_ID is the ID of
 * dst_vm (the destination VM's primary or backup MAC, matching the tree of
 * the intermediary) and SRC_ID the ID in the frame's plain source address.
 * Returns 0, or -1 (frame untouched) unless SA is plain, dst_vm and im are
 * Peregrine MACs. */
WIRE_INLINE int pgr_encap(struct wire_eth *e, const uint8_t *im, const uint8_t *dst_vm)
{
	if (pgr_src_kind(e->src) != PGR_SRC_PLAIN || !pgr_mac_valid(im) ||
	    !pgr_mac_valid(dst_vm))
		return -1;
	wire_mac_copy(e->dst, im);
	e->src[0] = dst_vm[3];
	e->src[1] = dst_vm[4];
	e->src[2] = dst_vm[5];
	return 0;
}

/* The destination ID of an encapsulated frame (pgr_src_kind == ENCAP). */
WIRE_INLINE uint32_t pgr_encap_dst_id(const struct wire_eth *e)
{
	return pgr_id_get(e->src);
}

WIRE_INLINE uint32_t pgr_encap_src_id(const struct wire_eth *e)
{
	return pgr_id_get(e->src + 3);
}

/* Decapsulation: DA := PREFIX : DST_ID, SA := PREFIX : SRC_ID.  Returns 0, or
 * -1 (frame untouched) if the frame is not encapsulated.  The data plane then
 * replaces DA with the VM's interface MAC when DST_ID was its backup. */
WIRE_INLINE int pgr_decap(struct wire_eth *e)
{
	if (pgr_src_kind(e->src) != PGR_SRC_ENCAP)
		return -1;
	e->dst[0] = PGR_PREFIX0;
	e->dst[1] = PGR_PREFIX1;
	e->dst[2] = PGR_PREFIX2;
	e->dst[3] = e->src[0];
	e->dst[4] = e->src[1];
	e->dst[5] = e->src[2];
	e->src[0] = PGR_PREFIX0;
	e->src[1] = PGR_PREFIX1;
	e->src[2] = PGR_PREFIX2;
	return 0;
}

#endif
