/* The directory daemon's shell, shared by `peregrine directory` and the
 * directory benchmark (which runs the same serving loop on a prepared core). */
#ifndef PEREGRINE_CMD_DIRECTORY_H
#define PEREGRINE_CMD_DIRECTORY_H

#include "dir/dir.h"

struct dstore;
struct daemon;

/* Open (creating) the LMDB store at directory `path`; NULL with a reason. */
struct dstore *dstore_open(const char *path, size_t map_bytes, char *err, size_t errlen);
void dstore_close(struct dstore *s);
/* Feed every stored entry to dir_restore; returns how many, -1 on error. */
long dstore_load(struct dstore *s, struct dir *d);
/* Apply a batch's writes (entries' and policies') in one transaction,
 * durable unless every write is soft (dir/dir.h); 0 or -errno. */
int dstore_apply_out(struct dstore *s, const struct dir_out *o);
/* Make the soft batches committed since the last sync durable; 0 or -EIO. */
int dstore_sync(struct dstore *s);

/* What the benchmark reads from a serving loop (may live in shared memory):
 * the batch that sent the most datagrams, and how long it took from the
 * first datagram read to the last one handed to the kernel. */
struct dserve_timing {
	uint64_t max_sent;
	uint64_t max_sent_ns;
	uint64_t max_sent_cpu_ns;	/* the serving thread's CPU time in that batch */
	uint64_t prefault_bytes;	/* faulted in ahead of the tables */
};

/* Serve datagrams on fd until SIGINT/SIGTERM.  store may be NULL (memory
 * only: the benchmark), and so may pf (the prefault helper d's cfg names in
 * table_moving; it is told the tables' spans after each batch), timing, and
 * dm (the daemon scaffold: with --metrics, the core's counters are served;
 * the serving loop becomes the scaffold's and goes with daemon_free).
 * Returns 0, or 1 if the store failed or the metrics cannot be served. */
int directory_serve(struct dir *d, int fd, struct dstore *store, struct prefault *pf,
		    volatile struct dserve_timing *timing, struct daemon *dm);

/* The same with the registrations in etcd instead of a local store
 * (cmd/directory_etcd.h, docs/ha.md). */
struct dsync;
int directory_serve_etcd(struct dir *d, int fd, struct dsync *sync, struct prefault *pf,
			 struct daemon *dm);

#endif
