#!/usr/bin/env python3
"""Turns scripts/bench.sh's raw results into the printed report.

usage: report.py RESULTS.tsv COMMANDS.txt VERSIONS.txt TARGET...

RESULTS.tsv lines: repetition, target, metric, value, flag ("!" when that
run had errors).  Prints medians per metric and target, ratios against
direct, the reference proxy (oauthlens when measured) against each peer,
issue 2's and issue 4's targets, every run's value, and the commands.

The TLS rows are intercepted HTTPS through a proxy and TLS to the origin
for direct.  Markers: tls_na (the proxy does not intercept: "n/a") and
tls_failed (its interception failed the preflight: "FAILED").  The added
latency of a new intercepted connection is computed here: the median of
tlslat_p50_ms (new connections one at a time) less direct's.
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
    ("tlska_rate", "TLS keep-alive req/s (intercepted)", True, "rate"),
    ("tlska_p99_ms", "  p99 latency ms", False, "lat"),
    ("tlska_cpu10k", "  proxy CPU s per 10k req", False, "cost"),
    ("tlska_busy", "  proxy core busy %", None, "cost"),
    ("tlsnew_rate", "new TLS conns/s (intercepted, 1 req)", True, "rate"),
    ("tlsnew_p50_ms", "  p50 ms under load (mostly queueing)", False, "lat"),
    ("tlsnew_cpu10k", "  proxy CPU s per 10k conns", False, "cost"),
    ("tlsnew_busy", "  proxy core busy %", None, "cost"),
    ("tlslat_p50_ms", "  p50 ms, one connection at a time", False, "lat"),
    ("tlslat_added_ms", "  added p50 ms against direct", False, "added"),
    ("rss_conn_kib", "RSS KiB per idle connection", False, "cost"),
    ("rss_tun_kib", "RSS KiB per idle tunnel", False, "cost"),
]

# issue 2's targets for oauthlens: label, metric, against, factor, op
TARGETS2 = [
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

# issue 4's (intercepted HTTPS), in the same form
TARGETS4 = [
    ("TLS keep-alive req/s >= 0.6x direct", "tlska_rate", "direct", 0.6,
     ">="),
    ("new TLS conns/s >= 0.8x direct", "tlsnew_rate", "direct", 0.8, ">="),
    ("added p50 per new connection < 5 ms", "tlslat_added_ms", None, 5.0,
     "<"),
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
                    "wait0_pct", "steal_pct"):
            vals = [v for _, v, _ in runs.get((t, key), [])]
            if not vals:
                row.append("-")
                continue
            if (t == "direct" and key == "other1_pct") or \
                    key == "steal_pct":
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
                       "proxy waited", "stolen"]))
    print("before: their share of each core before the target's block; in "
          "runs: their share\nduring the load runs (much of it time our "
          "processes left idle); proxy waited:\nshare of a run the proxy "
          "was runnable but not running (also for the kernel's\nthreads or "
          "its own).  A run where the proxy waited while others used core 0"
          "\n(direct: others took core 1) over 10% was repeated, up to 3 "
          "times.\nstolen: time the hypervisor gave our virtual cores to "
          "other machines\n(steal in /proc/stat, both cores); over 10% "
          "also repeats a run.")
    if worst > 10:
        print("WARNING: runs were disturbed by up to %.0f%%; figures are "
              "skewed (run again on a\nquiet machine)" % worst)


def print_targets(title, targets, med):
    if not any(("oauthlens", key) in med for _, key, _, _, _ in targets):
        return
    print()
    print(title)
    for label, key, against, factor, op in targets:
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
        ok = {">=": v >= bound, "<=": v <= bound, "<": v < bound}[op]
        print("  %-40s  %-28s %s" % (label, what, "met" if ok else "NOT met"))


def against_mitmdump(med):
    """The issue 4 figures next to mitmdump's, the other intercepting
    proxy."""
    parts = []
    for key, what in (("tlska_rate", "TLS keep-alive req/s"),
                      ("tlsnew_rate", "new TLS conns/s")):
        a, b = med.get(("oauthlens", key)), med.get(("mitmdump", key))
        if a is not None and b:
            parts.append("%s %.2fx" % (what, a / b))
    a = med.get(("oauthlens", "tlslat_added_ms"))
    b = med.get(("mitmdump", "tlslat_added_ms"))
    if a is not None and b is not None:
        parts.append("added p50 %s ms against %s ms" % (fmt(a), fmt(b)))
    if parts:
        print("  against mitmdump: " + ", ".join(parts))


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

    # the added latency of a new intercepted connection
    if ("direct", "tlslat_p50_ms") in med:
        d = med[("direct", "tlslat_p50_ms")]
        for t in targets:
            if t != "direct" and (t, "tlslat_p50_ms") in med:
                med[(t, "tlslat_added_ms")] = med[(t, "tlslat_p50_ms")] - d
                bad[(t, "tlslat_added_ms")] = (
                    bad[(t, "tlslat_p50_ms")] or
                    bad[("direct", "tlslat_p50_ms")])

    def cell(t, m):
        if (t, m) not in med:
            if m.startswith("tls") and (t, "tls_na") in runs:
                return "n/a"
            if m.startswith("tls") and (t, "tls_failed") in runs:
                return "FAILED"
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
    if any(k[1] == "tlska_rate" for k in med):
        print("TLS rows: through a proxy, CONNECT then TLS with the proxy's "
              "certificate (verified)\nand GETs of /small inside; direct: "
              "TLS to the origin.  New connections: TCP\nconnect, CONNECT, "
              "a full handshake (never resumed), one GET, close.  Added p50:"
              "\nthe median of a new connection made one at a time, less "
              "direct's.")
    if any(k[1] in ("tls_na", "tls_failed") for k in runs):
        print("n/a = does not intercept TLS; FAILED = its interception "
              "failed the check (see the log)")

    proxies = [t for t in targets if t != "direct"]
    if "direct" in targets and proxies:
        print()
        print("Against direct (proxy / direct; rates: higher is better, "
              "latency: lower)")
        rows = []
        for key, label, _, kind in metrics:
            if kind in ("cost", "added") or ("direct", key) not in med:
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
        for key, label, higher, kind in metrics:
            if higher is None or kind == "added" or (ref, key) not in med:
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
        print_targets("Issue 2 targets for oauthlens", TARGETS2, med)
        print_targets("Issue 4 targets for oauthlens (intercepted HTTPS)",
                      TARGETS4, med)
        against_mitmdump(med)

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
