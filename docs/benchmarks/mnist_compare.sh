#!/bin/sh
# Runs the MNIST example and the PyTorch reference alternately on the same data and threads, logging the load
# average before each run. Usage: docs/benchmarks/mnist_compare.sh [models] (default "mlp cnn resnet").
# Results: one JSON line per run in mnist_compare.jsonl (current directory).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
threads=${THREADS:-2}
dotnet build -c Release "$root/examples/Mnist/Mnist.csproj" >/dev/null
dll="$root/examples/Mnist/bin/Release/net10.0/Mnist.dll"
for model in ${1:-mlp cnn resnet}; do
  for impl in torch deepsharp; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    if [ $impl = torch ]; then
      line=$(/usr/bin/python3 "$root/docs/benchmarks/mnist_torch.py" --model $model --threads $threads | tail -1)
    else
      line=$(dotnet "$dll" --model $model --threads $threads --json --no-plot | tail -1)
    fi
    echo "{\"impl\":\"$impl\",\"load_before\":\"$load\",\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$line}" | tee -a mnist_compare.jsonl
  done
done
