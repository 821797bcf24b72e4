#!/bin/sh
# The issue-16 scaling target: 2 ranks × 1 thread against 1 process × 2 threads on the MNIST CNN, in alternating runs
# so that both see the same machine load. Each run trains 2 epochs on the first TRAIN_LIMIT images; the second epoch
# is the one timed (the first pays the JIT). Usage:
#   docs/benchmarks/ddp_scaling.sh [rounds]            (default 5 rounds; ROUNDS, TRAIN_LIMIT, EPOCHS override)
# MNIST_DLL=path uses that build instead of building examples/Mnist; OTHER_DLL=path adds a third side, the 2-rank run
# with another build (A/B of a DDP change). Results: one JSON line per run in ddp_scaling.jsonl (current directory), then the median images/s of each side and
# their ratio (target ≥ 0.9). Both sides use batches of 64 per process (SINGLE_BATCH=128 gives the single process the
# same global batch as the two ranks). With THREAD_CPU=1 each run goes through thread_cpu.py (CPU seconds per thread).
# MPIRUN_ARGS adds options to both 2-rank sides (e.g. "--bind-to none"; by default Open MPI binds rank r to core r).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-${ROUNDS:-5}}
limit=${TRAIN_LIMIT:-4096}
epochs=${EPOCHS:-2}
if [ -z "$MNIST_DLL" ]; then
  dotnet build -c Release "$root/examples/Mnist/Mnist.csproj" >/dev/null
fi
dll=${MNIST_DLL:-$root/examples/Mnist/bin/Release/net10.0/Mnist.dll}
sides="single ddp"
[ -n "$OTHER_DLL" ] && sides="single ddp ddp_other"   # A/B: the same 2-rank run with another build's Mnist.dll
common="--model cnn --epochs $epochs --train-limit $limit --test-limit 1000 --json --no-plot"
wrap=""
[ "${THREAD_CPU:-0}" = 1 ] && wrap="/usr/bin/python3 $root/docs/benchmarks/thread_cpu.py --"
out=ddp_scaling.jsonl
i=1
while [ $i -le $rounds ]; do
  for side in $sides; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    if [ $side = single ]; then
      line=$($wrap dotnet "$dll" $common --threads 2 --batch-size ${SINGLE_BATCH:-64} 2>/tmp/ddp_scaling_cpu.txt | grep '^{"model"' | tail -1)
    else
      d=$dll; [ $side = ddp_other ] && d=$OTHER_DLL
      line=$($wrap mpirun --allow-run-as-root --oversubscribe -np 2 -x DEEPSHARP_NUM_THREADS=1 $MPIRUN_ARGS \
        dotnet "$d" $common --distributed --threads 1 2>/tmp/ddp_scaling_cpu.txt | grep '^{"model"' | tail -1)
    fi
    cpu=$(grep -c . /tmp/ddp_scaling_cpu.txt || true)
    echo "{\"side\":\"$side\",\"round\":$i,\"load_before\":\"$load\",\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$line}" | tee -a $out
    if [ "${THREAD_CPU:-0}" = 1 ] && [ "$cpu" -gt 0 ]; then grep -v '^thread_cpu ' /tmp/ddp_scaling_cpu.txt | sed 's/^/    /'; grep '^thread_cpu ' /tmp/ddp_scaling_cpu.txt | sed "s/^thread_cpu /{\"side\":\"$side\",\"round\":$i,\"thread_cpu\":/; s/\$/}/" >> ddp_scaling_threads.jsonl; fi
  done
  i=$((i + 1))
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(side):
    # The timed (last) epoch's images/s: every training image once per epoch on both sides.
    vals = [r["result"]["train_images"] / r["result"]["epoch_seconds"][-1] for r in rows if r["side"] == side and r["result"]]
    return statistics.median(vals) if vals else float("nan"), len(vals)
s, n1 = med("single")
d, n2 = med("ddp")
o, n3 = med("ddp_other")
print(f"1 process x 2 threads: {s:.0f} images/s (median of {n1}); 2 ranks x 1 thread: {d:.0f} images/s (median of {n2}); ratio {d / s:.2f} (target >= 0.9)")
if n3: print(f"OTHER_DLL, 2 ranks x 1 thread: {o:.0f} images/s (median of {n3}); ratio {o / s:.2f}")
for side in ("single", "ddp", "ddp_other"):
    rs = [r["result"] for r in rows if r["side"] == side]
    cpu = [r["epoch_cpu_seconds"][-1] for r in rs if "epoch_cpu_seconds" in r]
    wait = [r["epoch_allreduce_wait_seconds"][-1] for r in rs if "epoch_allreduce_wait_seconds" in r]
    comm = [r["epoch_comm_seconds"][-1] for r in rs if "epoch_comm_seconds" in r]
    if not rs: continue
    line = f"{side}: CPU s in the timed epoch (all processes) median {statistics.median(cpu):.2f}" if cpu else side
    if wait: line += f"; backward's wait for the all-reduce {statistics.median(wait):.2f} s, communication {statistics.median(comm):.2f} s (per rank, median)"
    print(line)
PY
