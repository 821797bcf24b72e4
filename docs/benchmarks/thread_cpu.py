#!/usr/bin/env python3
"""CPU seconds per thread of a command and all its descendants (Linux /proc), to see where a run's CPU time goes.

    python3 docs/benchmarks/thread_cpu.py [--interval 0.1] -- mpirun -np 2 dotnet Mnist.dll --distributed ...

Polls /proc/<pid>/task/<tid>/stat of every descendant of the command every --interval seconds and keeps each thread's
last utime + stime (a thread that ends keeps its last sample, so up to one interval of its time can be missed). At the
end it prints to stderr, per process (the dotnet ranks, mpirun, ...), the CPU seconds of each thread name, largest
first, and a line "thread_cpu {JSON}" ({"processes": [{"pid", "cmd", "cpu_s", "threads": {name: cpu_s}}]}) for
scripts; the command's own output is left alone. Thread names are the kernel's
15-character comm (".NET TP Worker" the thread pool, "dotnet" the
main thread, ".NET Tiered Com" the JIT's background compiler...).
"""
import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def descendants(root):
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children(p))
    return out


def thread_times(pid):
    times = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return times
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        times[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return times


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def main():
    args = sys.argv[1:]
    interval = 0.1
    if args[:1] == ["--interval"]:
        interval, args = float(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    proc = subprocess.Popen(args)
    seen = {}   # pid -> {"cmd": str, "threads": {tid: (name, cpu)}}
    while proc.poll() is None:
        for pid in descendants(proc.pid):
            entry = seen.setdefault(pid, {"cmd": "", "threads": {}})
            if not entry["cmd"]:
                entry["cmd"] = cmdline(pid)
            entry["threads"].update(thread_times(pid))
        time.sleep(interval)
    report = []
    for pid, entry in seen.items():
        by_name = {}
        for name, cpu in entry["threads"].values():
            by_name[name] = by_name.get(name, 0.0) + cpu
        total = sum(by_name.values())
        if total == 0:
            continue
        report.append({"pid": pid, "cmd": entry["cmd"][:120], "cpu_s": round(total, 2),
                       "threads": {k: round(v, 2) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])}})
    for r in report:
        print(f"pid {r['pid']} ({r['cpu_s']:.2f} CPU s): {r['cmd']}", file=sys.stderr)
        for name, cpu in r["threads"].items():
            print(f"    {cpu:8.2f}  {name}", file=sys.stderr)
    print("thread_cpu " + json.dumps({"exit_code": proc.returncode, "processes": report}), file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
