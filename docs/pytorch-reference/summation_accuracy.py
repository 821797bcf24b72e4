"""Records PyTorch 1.13's float32 summation error on 10^6-element reductions (SummationAccuracyTests reads it).

Data: x_i = float32(((i * 2654435761) mod 2^32) / 2^32 + 0.5), i = 0 .. 10^6 - 1, in [0.5, 1.5) (all positive, the hard
case for a running sum), and the same minus 1 (mixed signs). Both sides build it bit for bit. Each case's error is
|float32 result - float64 reference of the same float32 data| / sum |x|, the largest over the case's outputs.

Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 docs/pytorch-reference/summation_accuracy.py
"""
import json
import os
import struct

import torch

torch.set_num_threads(1)
N = 1_000_000


def data(shift):
    i = torch.arange(N, dtype=torch.int64)
    k = (i * 2654435761) % (2 ** 32)
    return (k.double() / 2.0 ** 32 + 0.5 - shift).float()


def err(result32, ref64, scale):
    return ((result32.double() - ref64).abs() / scale).max().item()


out = {}
for name, shift in [("pos", 0.0), ("mixed", 1.0)]:
    x = data(shift)
    x64 = x.double()
    out[f"{name}_sum_all"] = err(x.sum(), x64.sum(), x64.abs().sum())
    a, a64 = x.view(250_000, 4), x64.view(250_000, 4)
    out[f"{name}_sum_dim0"] = err(a.sum(0), a64.sum(0), a64.abs().sum(0))
    b, b64 = x.view(4, 250_000), x64.view(4, 250_000)
    out[f"{name}_mean_dim1"] = err(b.mean(1), b64.mean(1), b64.abs().mean(1))
    c, c64 = x.view(1000, 1000), x64.view(1000, 1000)
    out[f"{name}_sum_dim0_square"] = err(c.sum(0), c64.sum(0), c64.abs().sum(0))
    # Linear's bias gradient: the column sums of the output gradient over a batch of 250000 rows.
    bias = torch.zeros(4, requires_grad=True)
    torch.nn.functional.linear(torch.zeros(250_000, 3), torch.zeros(4, 3), bias).backward(a)
    out[f"{name}_linear_bias_grad"] = err(bias.grad, a64.sum(0), a64.abs().sum(0))

for k, v in out.items():
    print(f"{k:32s} {v:.3e}")
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "DeepSharp.Tests", "Kernels", "PyTorchReference", "summation_accuracy.safetensors")
os.makedirs(os.path.dirname(path), exist_ok=True)
# The safetensors format written by hand (F64 scalars of shape [1]), as record_ops.py does.
header = {"__metadata__": {"torch": torch.__version__, "n": str(N)}}
blob = b""
for k in sorted(out):
    header[k] = {"dtype": "F64", "shape": [1], "data_offsets": [len(blob), len(blob) + 8]}
    blob += struct.pack("<d", out[k])
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + blob)
print("wrote", os.path.normpath(path))
