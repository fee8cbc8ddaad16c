#!/usr/bin/env python3
"""Makes README.md's GPU table from the files scripts/gpu_check.sh wrote (bench.txt, twin.txt, doctor.txt).

  python3 scripts/gpu_table.py OUTDIR [--readme README.md]

For each `gotta bench` section: GoTTA's median compute per example (views excluded, as the twin's views are made on the
device beforehand; with --device-views the views are included), the first example (compiles included), peak memory,
and, where the PyTorch twin ran the same setting in the same run, its median and the ratio PyTorch / GoTTA (> 1: GoTTA
is faster). The table replaces the lines between <!-- gpu-table:begin --> and <!-- gpu-table:end --> in the README.
"""
import argparse
import datetime
import os
import re
import sys


def sections(path, head):
    """Yields (args, lines) for each '=== head ARGS (time)' section of a file."""
    if not os.path.exists(path):
        return
    cur, lines = None, []
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"^=== " + re.escape(head) + r" (.*?) \(\d\d:\d\d:\d\d\)$", line.rstrip("\n"))
        if m:
            if cur is not None:
                yield cur, lines
            cur, lines = m.group(1), []
        elif cur is not None:
            lines.append(line.rstrip("\n"))
    if cur is not None:
        yield cur, lines


def row_value(lines, prefix, col):
    """The col-th cell (0 = name) of the first table row whose name starts with prefix, as a float, or None."""
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith(prefix) and len(cells) > col:
            try:
                return float(cells[col])
            except ValueError:
                return None
    return None


def peak(lines):
    """'host X MiB; device peak Y MiB, in use Z MiB' from the bench's memory line (device: PJRT's statistics)."""
    for line in lines:
        if line.startswith("peak host memory"):
            rest = line.split(":", 1)[1].strip()
            host, _, dev = rest.partition("; device memory (PJRT): ")
            return f"host {host}; device {dev}" if dev else "host " + host
    return ""


def compile_ms(lines, med, first):
    """The up-front compile time when the bench printed one (gotta bench memo), else first - median."""
    for line in lines:
        m = re.match(r"^compile up front, concurrent: MEMO step \+ prediction (\d+) ms", line)
        if m:
            return m.group(1) + " (up front)"
    return f"{first - med:.0f} (first - median)" if med is not None and first is not None else ""


def twin_key(args):
    a = args.split()
    method, arch = a[0], a[a.index("--arch") + 1] if "--arch" in a else ""
    classes = a[a.index("--classes") + 1] if "--classes" in a else "200"
    return method, arch, classes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--readme", default=os.path.join(os.path.dirname(__file__), "..", "README.md"))
    args = ap.parse_args()
    twins = {}
    for targs, lines in sections(os.path.join(args.outdir, "twin.txt"), "torch twin"):
        for line in lines:
            if line.startswith("| torch twin"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                twins[twin_key(targs)] = (float(cells[4]), cells[1], cells[6])
    device = "?"
    doctor = os.path.join(args.outdir, "doctor.txt")
    if os.path.exists(doctor):
        for line in open(doctor, encoding="utf-8", errors="replace"):
            m = re.search(r"(NVIDIA [A-Z]\d+[^|]*?)\s{2,}", line)
            if m:
                device = m.group(1).strip()
                break
    out = [f"Measured {datetime.date.today()} on {device} by `scripts/gpu_check.sh run` (random weights, 64 views, "
           "one step; medians of 10 examples after the first; PyTorch twin in the same run).", "",
           "| benchmark | GoTTA compute ms/example | first example ms (compiles) | PyTorch twin ms | PyTorch / GoTTA "
           "| compile ms | peak memory |", "|---|---:|---:|---:|---:|---:|---|"]
    for bargs, lines in sections(os.path.join(args.outdir, "bench.txt"), "gotta bench"):
        if bargs.startswith("memo"):
            med = sum(filter(None, [row_value(lines, p, 2) for p in
                                    ("MEMO adapt step", "MEMO prediction", "MEMO reset")])) or None
            first = sum(filter(None, [row_value(lines, p, 1) for p in
                                      ("MEMO adapt step", "MEMO prediction", "MEMO reset")])) or None
        else:
            prefix = "total per example" if "--device-views" in bargs else "compute per example"
            med, first = row_value(lines, prefix, 2), row_value(lines, prefix, 1)
        # The twin runs TPT in fp16 autocast and MEMO in fp32: its precision is in the twin column.
        tw = twins.get(twin_key(bargs)) if "--device-views" not in bargs and "--batch-examples" not in bargs else None
        twin_ms = f"{tw[0]:.1f} ({tw[1]})" if tw else ""
        ratio = f"{tw[0] / med:.2f}" if tw and med else ""
        status = "" if med is not None else " (did not finish: " + (lines[-1] if lines else "no output") + ")"
        out.append(f"| gotta bench {bargs}{status} | {f'{med:.1f}' if med is not None else ''} | "
                   f"{f'{first:.1f}' if first is not None else ''} | {twin_ms} | {ratio} | {compile_ms(lines, med, first)} | "
                   f"{peak(lines)} |")
    table = "\n".join(out)
    print(table)
    readme = open(args.readme, encoding="utf-8").read()
    begin, end = "<!-- gpu-table:begin -->", "<!-- gpu-table:end -->"
    if begin not in readme or end not in readme:
        sys.exit(f"{args.readme} has no {begin} ... {end} block")
    a, b = readme.index(begin) + len(begin), readme.index(end)
    open(args.readme, "w", encoding="utf-8").write(readme[:a] + "\n" + table + "\n" + readme[b:])


if __name__ == "__main__":
    main()
