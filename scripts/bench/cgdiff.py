#!/usr/bin/env python3
"""Per-request cost of each function from the two profiles that
scripts/bench/callgrind.sh -o DIR keeps: (Ir(2N) - Ir(N)) / N for every
function, inclusive (with its callees) or self, largest first.  With a
second DIR, the two sets side by side and their difference (DIR2 - DIR).

Usage: scripts/bench/cgdiff.py [--self] [--top K] [-n N] DIR [DIR2]
  -n N    the -n given to callgrind.sh (default 1000)
Needs callgrind_annotate (valgrind)."""
import argparse
import os
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+) \([^)]*\)\s+(\S.*)$")


def costs(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100",
         "--inclusive=" + ("yes" if inclusive else "no"), path],
        check=True, capture_output=True, text=True).stdout
    res = {}
    started = False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        if not started:
            continue
        m = LINE.match(line)
        if not m:
            continue
        name = m.group(2)
        if "PROGRAM TOTALS" in name:
            continue
        # "dir/file.c:func [obj]" -> "func [obj's basename]": the same
        # function of two trees compares equal; "???" files are kept.
        fn = name.split(" [")[0]
        obj = name.split(" [")[1].rstrip("]") if " [" in name else ""
        if " [" not in name:
            continue	# the per-file duplicate without an object
        fn = fn.rsplit(":", 1)[-1] if ":" in fn else fn
        if fn.startswith("0x"):
            continue	# an anonymous address: differs between builds
        key = "%s [%s]" % (fn, os.path.basename(obj))
        res[key] = res.get(key, 0) + int(m.group(1).replace(",", ""))
    return res


def per_request(d, n, inclusive):
    a = costs(os.path.join(d, "callgrind.N.out"), inclusive)
    b = costs(os.path.join(d, "callgrind.2N.out"), inclusive)
    return {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--self", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("dirs", nargs="+")
    o = ap.parse_args()
    if len(o.dirs) > 2:
        sys.exit("cgdiff: one or two directories")
    sets = [per_request(d, o.n, not o.self) for d in o.dirs]
    keys = set().union(*sets)
    if len(sets) == 1:
        rows = sorted(keys, key=lambda k: -sets[0][k])[:o.top]
        for k in rows:
            print("%10.0f  %s" % (sets[0][k], k))
        return
    a, b = sets
    rows = sorted(keys, key=lambda k: -max(abs(a.get(k, 0)),
                                           abs(b.get(k, 0))))[:o.top]
    print("%10s %10s %10s  %s" % ("first", "second", "diff", "function"))
    for k in rows:
        x, y = a.get(k, 0), b.get(k, 0)
        print("%10.0f %10.0f %+10.0f  %s" % (x, y, y - x, k))


if __name__ == "__main__":
    main()
