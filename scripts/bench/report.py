#!/usr/bin/env python3
"""Turns scripts/bench.sh's raw results into the printed report.

usage: report.py RESULTS.tsv COMMANDS.txt VERSIONS.txt TARGET...

RESULTS.tsv lines: repetition, target, metric, value, flag ("!" when that
run had errors).  Prints medians per metric and target, ratios against
direct, the reference proxy (oauthlens when measured) against each peer,
issue 2's targets, every run's value, and the commands.
"""
import statistics
import sys
from collections import defaultdict

# metric key, label, higher is better?, kind ("rate", "lat", "cost")
METRICS = [
    ("small_rps", "small keep-alive req/s", True, "rate"),
    ("small_p99_ms", "  p99 latency ms", False, "lat"),
    ("small_cpu10k", "  proxy CPU s per 10k req", False, "cost"),
    ("small_busy", "  proxy core busy %", None, "cost"),
    ("large_mibs", "1 MiB downloads MiB/s", True, "rate"),
    ("large_cpu10k", "  proxy CPU s per 10k downloads", False, "cost"),
    ("large_busy", "  proxy core busy %", None, "cost"),
    ("tun_rate", "tunnel keep-alive req/s", True, "rate"),
    ("tun_p99_ms", "  p99 latency ms", False, "lat"),
    ("tun_cpu10k", "  proxy CPU s per 10k req", False, "cost"),
    ("tun_busy", "  proxy core busy %", None, "cost"),
    ("newtun_rate", "new tunnels/s (1 req each)", True, "rate"),
    ("newtun_cpu10k", "  proxy CPU s per 10k tunnels", False, "cost"),
    ("rss_conn_kib", "RSS KiB per idle connection", False, "cost"),
    ("rss_tun_kib", "RSS KiB per idle tunnel", False, "cost"),
]

# issue 2's targets for oauthlens: label, metric, against, factor, op
TARGETS = [
    ("small req/s >= 0.8x direct", "small_rps", "direct", 0.8, ">="),
    ("small req/s >= 2x squid", "small_rps", "squid", 2.0, ">="),
    ("1 MiB MiB/s >= 0.8x direct", "large_mibs", "direct", 0.8, ">="),
    ("CPU per 10k small req <= 0.4x squid", "small_cpu10k", "squid", 0.4,
     "<="),
    ("CPU per 10k tunnel req <= 0.4x squid", "tun_cpu10k", "squid", 0.4,
     "<="),
    ("new tunnels/s >= squid", "newtun_rate", "squid", 1.0, ">="),
    ("RSS per idle connection <= 1.5 KiB", "rss_conn_kib", None, 1.5, "<="),
    ("RSS per idle tunnel <= 8 KiB", "rss_tun_kib", None, 8.0, "<="),
]


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3f" % v


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header])
              for i in range(len(header))]
    out = []
    for r in [header] + rows:
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)


def load_report(runs, targets):
    """Other processes' CPU: the machine may be shared.  What harms a
    figure is the proxy waiting for its core (core 0) and, for direct, a
    neighbour's share of core 1; a neighbour's use of time our processes
    left idle does little harm."""
    rows = []
    worst = 0
    for t in targets:
        row = [t]
        for key in ("bg0_pct", "bg1_pct", "other0_pct", "other1_pct",
                    "wait0_pct"):
            vals = [v for _, v, _ in runs.get((t, key), [])]
            if not vals:
                row.append("-")
                continue
            if t == "direct" and key == "other1_pct":
                worst = max(worst, max(vals))
            if key == "wait0_pct":
                # disturbed: the proxy waited and others used core 0 (it
                # also waits for kernel threads, and for its own threads)
                others = [v for _, v, _ in runs.get((t, "other0_pct"), [])]
                worst = max([worst] + [min(a, b) for a, b in
                                       zip(vals, others)])
            row.append("%.0f / %.0f" % (statistics.median(vals), max(vals)))
        rows.append(row)
    print()
    print("Other processes on this machine, % (median / max)")
    print(table(rows, ["target", "core 0 before", "core 1 before",
                       "core 0 in runs", "core 1 in runs",
                       "proxy waited"]))
    print("before: their share of each core before the target's block; in "
          "runs: their share\nduring the load runs (much of it time our "
          "processes left idle); proxy waited:\nshare of a run the proxy "
          "was runnable but not running (also for the kernel's\nthreads or "
          "its own).  A run where the proxy waited while others used core 0"
          "\n(direct: others took core 1) over 10% was repeated, up to 3 "
          "times.")
    if worst > 10:
        print("WARNING: runs were disturbed by up to %.0f%%; figures are "
              "skewed (run again on a\nquiet machine)" % worst)


def main(argv):
    if len(argv) < 5:
        print(__doc__)
        return 2
    results, commands, versions, targets = argv[1], argv[2], argv[3], argv[4:]
    runs = defaultdict(list)     # (target, metric) -> [(rep, value, flag)]
    for line in open(results):
        rep, target, metric, value, flag = line.rstrip("\n").split("\t")
        runs[(target, metric)].append((int(rep), float(value), flag))
    med = {}
    bad = {}
    for key, vals in runs.items():
        med[key] = statistics.median(v for _, v, _ in vals)
        bad[key] = any(f for _, _, f in vals)
    reps = max((r for vals in runs.values() for r, _, _ in vals), default=0)

    def cell(t, m):
        if (t, m) not in med:
            return "-"
        return fmt(med[(t, m)]) + ("!" if bad[(t, m)] else "")

    print()
    print("oauthlens benchmark: medians of %d repetition(s)" % reps)
    print(open(versions).read().rstrip())
    print()
    metrics = [m for m in METRICS
               if any((t, m[0]) in med for t in targets)]
    rows = [[label] + [cell(t, key) for t in targets]
            for key, label, _, _ in metrics]
    print(table(rows, ["metric"] + targets))
    if any(bad.values()):
        print("! = at least one run of this cell had errors (see the log "
              "above)")

    proxies = [t for t in targets if t != "direct"]
    if "direct" in targets and proxies:
        print()
        print("Against direct (proxy / direct; rates: higher is better, "
              "latency: lower)")
        rows = []
        for key, label, _, kind in metrics:
            if kind == "cost" or ("direct", key) not in med:
                continue
            d = med[("direct", key)]
            rows.append([label.strip()] + [
                "%.2fx" % (med[(t, key)] / d) if (t, key) in med and d
                else "-" for t in proxies])
        print(table(rows, ["metric"] + proxies))

    ref = "oauthlens" if "oauthlens" in proxies else (
        proxies[0] if proxies else None)
    peers = [t for t in proxies if t != ref]
    if ref and peers:
        print()
        print("%s against each peer (%s / peer; '*' = %s is better)"
              % (ref, ref, ref))
        rows = []
        for key, label, higher, _ in metrics:
            if higher is None or (ref, key) not in med:
                continue
            row = [label.strip()]
            for p in peers:
                if (p, key) not in med or not med[(p, key)]:
                    row.append("-")
                    continue
                r = med[(ref, key)] / med[(p, key)]
                better = r > 1 if higher else r < 1
                row.append("%.2fx%s" % (r, "*" if better else " "))
            rows.append(row)
        print(table(rows, ["metric"] + peers))

    if "oauthlens" in targets:
        print()
        print("Issue 2 targets for oauthlens")
        for label, key, against, factor, op in TARGETS:
            if ("oauthlens", key) not in med:
                continue
            v = med[("oauthlens", key)]
            if against is None:
                bound, what = factor, "%s" % fmt(v)
            elif (against, key) in med and med[(against, key)]:
                bound = factor * med[(against, key)]
                what = "%s = %.2fx %s" % (fmt(v), v / med[(against, key)],
                                          against)
            else:
                print("  %-40s  (no %s figure)" % (label, against))
                continue
            ok = v >= bound if op == ">=" else v <= bound
            print("  %-40s  %-28s %s" % (label, what,
                                          "met" if ok else "NOT met"))

    load_report(runs, targets)

    print()
    print("Every run (repetition: value)")
    for key, label, _, _ in metrics:
        for t in targets:
            if (t, key) in runs:
                vals = sorted(runs[(t, key)])
                print("  %-14s %-10s %s" % (key, t, "  ".join(
                    "%d: %s%s" % (r, fmt(v), f) for r, v, f in vals)))

    print()
    print("Commands (as run, this run's ports; every proxy and the origin "
          "in the foreground, stopped with SIGTERM)")
    for line in open(commands):
        print("  " + line.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
