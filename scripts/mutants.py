#!/usr/bin/env python3
"""make mutants: deliberate bugs in a scratch copy of the cores, one at a
time; `peregrine sim chaos` must flag each within 200 seeds (docs/chaos.md,
"Mutants").

  scripts/mutants.py BUILD_DIR [NAME...]
  scripts/mutants.py --check      every mutant's old text occurs exactly once
                                  in its file of this tree (sim/test_mutants.sh)

Copies the tree (sources and the optimised build's objects, so that only
the mutated file is recompiled) to BUILD_DIR/mutants/src, then for each
mutant: applies it (an exact, unique text replacement in one core file),
builds, runs seeds 1-100 in the first fault profile and 101-200 in the
second until one fails, and restores the file.  Seeds that fail without any
mutant (the baseline, run first) are not judged.  Prints a table and writes
BUILD_DIR/mutants/result.json.  Exit 1 if a mutant is not flagged (or does
not apply).
"""
import json
import os
import shutil
import subprocess
import sys
import time

# The profiles of sim/test_chaos.sh: what today's cores pass.
PROFILES = [("-link,switch", 1, 100), ("-switch,partition,crash,tear", 101, 100)]

# (name, what it breaks, file, old text, new text)
MUTANTS = [
    ("dir-push-not-sent", "the directory never sends a push to a lease holder",
     "dir/dir.c",
     "\t\tpush_later(d, ci, ei);\n\t\tpush_arm(d, ei, ci, now.ns);\n",
     "\t\t(void)ci;\n\t\t(void)push_later;\n\t\t(void)push_arm;\n"),
    ("dir-lease-not-renewed", "a RENEW or LOOKUP of a held lease does not extend it",
     "dir/dir.c",
     "\tif (li != NONE) {\n\t\td->l.a[li].expiry = expiry;\n",
     "\tif (li != NONE) {\n\t\t(void)expiry;\n"),
    ("dir-lease-shortened", "the directory ends a lease at a quarter of what it told the holder",
     "dir/dir.c",
     "\tuint32_t expiry = lease_ms_now(d, q->now.ns) + d->cfg.lease_ms + 1;\n",
     "\tuint32_t expiry = lease_ms_now(d, q->now.ns) + d->cfg.lease_ms / 4 + 1;\n"),
    ("dir-ack-before-store", "a REGISTER is acknowledged with no store write",
     "dir/dir.c",
     "\tbump(d, ei);\n\tstore_put(q->o, &d->e.a[ei]);\n\tif (!was_live)\n",
     "\tbump(d, ei);\n\tif (!was_live)\n"),
    ("dir-avail-inverted", "SET_AVAIL sets the bit it should clear and the other way round",
     "dir/dir.c",
     "bits = a->avail ? bits | (uint8_t)(1 << s) : bits & (uint8_t)~(1 << s);",
     "bits = a->avail ? bits & (uint8_t)~(1 << s) : bits | (uint8_t)(1 << s);"),
    ("dir-key-ignores-vdc", "the directory's table key drops the VDC",
     "dir/dir.c",
     "\treturn (uint64_t)vdc << 32 | ip;\n}\n\nstatic uint32_t find_entry",
     "\treturn (uint64_t)(vdc != 0) << 32 | ip;\n}\n\nstatic uint32_t find_entry"),
    ("dir-restore-skips", "a restarted directory skips the stored records of odd IPs",
     "dir/dir.c",
     "DIRP_AVAIL_ALL)\n\t\treturn -EINVAL;\n\tk = (uint64_t)wire_get32(key) << 32 | wire_get32(key + 4);\n",
     "DIRP_AVAIL_ALL)\n\t\treturn -EINVAL;\n\tk = (uint64_t)wire_get32(key) << 32 | wire_get32(key + 4);\n"
     "\tif (wire_get32(key + 4) & 1)\n\t\treturn 0;\n"),
    ("ras-wrong-tree", "the RAS programs each server's tree 1 MAC along tree 0 and back",
     "ras/ras.c",
     "\tpgr_mac_make(mac, pgr_id_of(s + 1, tree));\n",
     "\tpgr_mac_make(mac, pgr_id_of(s + 1, tree ^ 1));\n"),
    ("ras-avail-never-up", "the RAS never marks a held MAC available again",
     "ras/ras.c",
     "\t\t\tr->held[idx] = 0;\n\t\t\tout_avail(r, o, idx, true);\n",
     "\t\t\tr->held[idx] = 0;\n"),
    ("ras-avail-never-down", "the RAS never marks a MAC unavailable before reprogramming",
     "ras/ras.c",
     "\t\t\tr->held[idx] = 1;\n\t\t\tout_avail(r, o, idx, false);\n",
     "\t\t\tr->held[idx] = 1;\n"),
    ("sw-down-not-reported", "switchd does not report a port going down",
     "switchd/switchd.c",
     "\t\tuint64_t seq = report_link(s, port, cur == PORT_UP, now, o);\n",
     "\t\tuint64_t seq = cur == PORT_UP ? report_link(s, port, true, now, o) : 0;\n"),
    ("sw-ack-not-applied", "switchd acknowledges an entry it never gives the kernel",
     "switchd/switchd.c",
     "\tmemcpy(nl->mac, op->mac, 6);\n\to->nnl++;\n",
     "\tmemcpy(nl->mac, op->mac, 6);\n\tif (op->kind != SWP_OP_ADD)\n\t\to->nnl++;\n"),
    ("agent-push-ignored", "the agent drops every pushed record",
     "agent/agent.c",
     "\tif (r->vdc != DIR_VDC_SERVICE) {\n\t\tpush_one(a, find(a, r->vdc, r->ip), type, r);\n",
     "\tif (r->vdc != DIR_VDC_SERVICE) {\n"),
    ("agent-nic-ignored", "the agent ignores its NICs going down",
     "agent/agent.c",
     "\tif (nic >= a->nnics || a->nic_down[nic] == !up)\n\t\treturn;\n",
     "\tif (nic >= a->nnics || a->nic_down[nic] == !up || 1)\n\t\treturn;\n"),
    ("sw-replay-accepted", "switchd applies a FIB_OPS older than the last it took",
     "switchd/switchd.c",
     "\tif (peer->ack_len && m->h.seq < peer->last_seq) {\n",
     "\tif (0 && peer->ack_len && m->h.seq < peer->last_seq) {\n"),
    ("ras-old-report-applied", "the RAS applies a link report older than one it applied",
     "ras/ras.c",
     "\tif (m->h.seq <= r->sw[node]->port_seq[m->u.link.port]) {\n",
     "\tif (m->h.seq == r->sw[node]->port_seq[m->u.link.port]) {\n"),
    ("agent-key-ignores-vdc", "the agent's cache key drops the VDC",
     "agent/agent.c",
     "key64(uint32_t vdc, uint32_t ip)\n{\n\treturn (uint64_t)vdc << 32 | ip;\n}",
     "key64(uint32_t vdc, uint32_t ip)\n{\n\treturn (uint64_t)(vdc != 0) << 32 | ip;\n}"),
]


def run(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


def scratch_copy(build):
    src = os.path.join(build, "mutants", "src")
    if os.path.isdir(src):
        shutil.rmtree(src)
    os.makedirs(src)
    files = run(["git", "ls-files", "-co", "--exclude-standard"], ".").stdout.split()
    for f in files:
        if not os.path.isfile(f):
            continue
        os.makedirs(os.path.join(src, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(f, os.path.join(src, f))
    # the optimised build's objects, times kept: only mutated files rebuild
    if os.path.isdir(build):
        for d in ("obj", "bpf"):
            if os.path.isdir(os.path.join(build, d)):
                shutil.copytree(os.path.join(build, d), os.path.join(src, "build", d))
        for f in ("libperegrine.a", "peregrine"):
            if os.path.isfile(os.path.join(build, f)):
                shutil.copy2(os.path.join(build, f), os.path.join(src, "build", f))
    return src


def chaos(src, faults, first, n, until=True):
    p = run(["build/peregrine", "sim", "chaos", "--seed", str(first), "--seeds", str(n),
             "--faults=" + faults, "--json"] + (["--until-violation"] if until else []), src)
    if p.returncode not in (0, 1):
        return None, p.stdout[-300:]
    return json.loads(p.stdout), None


def baseline(src):
    """The seeds of each profile that fail without any mutant (known failures
    of today's cores, docs/chaos.md): a mutant is not judged on them."""
    bad = set()
    for faults, first, n in PROFILES:
        d, err = chaos(src, faults, first, n, until=False)
        if d is None:
            raise SystemExit("baseline run failed: " + err)
        bad |= {v["seed"] for v in d["violations"]}
    return bad


def flag(src, skip):
    """Seeds until the first violation: (invariant, seeds run, seed, ms) or None."""
    total = 0
    for faults, first, n in PROFILES:
        seeds = [s for s in range(first, first + n) if s not in skip]
        i = 0
        while i < len(seeds):
            j = i
            while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
                j += 1
            d, err = chaos(src, faults, seeds[i], j - i + 1)
            if d is None:
                return ("crash", total + 1, seeds[i], 0.0, err)
            total += d["seeds_run"]
            if d["violations"]:
                v = d["violations"][0]
                return (v["invariant"], total, v["seed"], v["sim_time_ms"], v["detail"])
            i = j + 1
    return None


def check():
    """Each mutant must still apply: its old text exactly once in its file.
    A core that changed under a mutant would otherwise turn it into a no-op
    that the run reports as not applying, long after the change."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = 0
    for name, _what, path, old, _new in MUTANTS:
        n = open(os.path.join(top, path)).read().count(old)
        if n != 1:
            print("%s: its text occurs %d times in %s (must be once)" % (name, n, path))
            bad += 1
    print("%d mutants, %d do not apply" % (len(MUTANTS), bad))
    return 1 if bad else 0


def main():
    if sys.argv[1:2] == ["--check"]:
        return check()
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    names = sys.argv[2:]
    src = scratch_copy(build)
    p = run(["make", "-j2", "build/peregrine"], src)
    if p.returncode:
        print(p.stdout[-2000:])
        return 2
    skip = baseline(src)
    print("baseline: seeds failing without a mutant, not judged: %s" %
          (" ".join(map(str, sorted(skip))) or "none"))
    results, missed = [], 0
    for name, what, path, old, new in MUTANTS:
        if names and name not in names:
            continue
        f = os.path.join(src, path)
        orig = open(f).read()
        if orig.count(old) != 1:
            print("%-24s does not apply (%d matches in %s)" % (name, orig.count(old), path))
            results.append({"mutant": name, "what": what, "applied": False})
            missed += 1
            continue
        t0 = time.time()
        try:
            open(f, "w").write(orig.replace(old, new))
            b = run(["make", "-j2", "build/peregrine"], src)
            if b.returncode:
                print("%-24s does not build:\n%s" % (name, b.stdout[-1500:]))
                results.append({"mutant": name, "what": what, "applied": False})
                missed += 1
                continue
            r = flag(src, skip)
        finally:
            open(f, "w").write(orig)
            os.utime(f, None)
        res = {"mutant": name, "what": what, "file": path, "applied": True,
               "seconds": round(time.time() - t0, 1)}
        if r:
            res.update(invariant=r[0], seeds=r[1], seed=r[2], sim_time_ms=r[3], detail=r[4])
            print("%-24s %-13s after %3d seeds (seed %d, %.0f ms)" % (name, r[0], r[1], r[2], r[3]))
        else:
            missed += 1
            print("%-24s NOT FLAGGED in 200 seeds" % name)
        sys.stdout.flush()
        results.append(res)
    run(["make", "-j2", "build/peregrine"], src)
    json.dump({"baseline_failures": sorted(skip), "mutants": results},
              open(os.path.join(build, "mutants", "result.json"), "w"), indent=1)
    flagged = sum(1 for r in results if "invariant" in r)
    print("%d of %d mutants flagged" % (flagged, len(results)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
