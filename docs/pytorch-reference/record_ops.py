"""Records PyTorch's outputs and gradients for DeepSharp's tensor functions (issue 14), for the differential test
tests/DeepSharp.Tests/Ops/PyTorchReferenceTests.cs. PyTorch is a reference run by hand, never a test dependency.

    apt-get install -y python3-torch libopenblas0-pthread
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 docs/pytorch-reference/record_ops.py

For each case: inputs `<case>.in<i>` (float64), the output `<case>.out`, a fixed weight `<case>.w` and the gradients
`<case>.grad<i>` of sum(out · w) with respect to each floating input. Integer outputs (indices) are stored as
float64. The file is written in the safetensors format by hand (no safetensors package needed).
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "DeepSharp.Tests", "Ops", "PyTorchReference",
                   "tensor_functions.safetensors")

tensors = {}


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape)) * (hi - lo) + lo


def record(name, inputs, fn, grad=True):
    leaves = [x.detach().clone().requires_grad_(grad and x.is_floating_point()) for x in inputs]
    out = fn(*leaves)
    for i, x in enumerate(inputs):
        tensors[f"{name}.in{i}"] = x.detach().double() if x.is_floating_point() else x.detach().double()
    tensors[f"{name}.out"] = out.detach().double()
    if grad and out.is_floating_point() and out.requires_grad:
        w = u(*out.shape)
        tensors[f"{name}.w"] = w
        floating = [x for x in leaves if x.requires_grad]
        grads = torch.autograd.grad((out * w).sum(), floating, allow_unused=True)
        k = 0
        for i, x in enumerate(leaves):
            if x.requires_grad:
                g = grads[k] if grads[k] is not None else torch.zeros_like(x)
                tensors[f"{name}.grad{i}"] = g.detach()
                k += 1


x34 = u(3, 4)
record("log1p", [u(3, 4, lo=-0.9, hi=3.0)], torch.log1p)
record("log1p_tiny", [torch.tensor([1e-10, -1e-12, 3e-17, 1e-5])], torch.log1p)
record("expm1", [x34], torch.expm1)
record("expm1_tiny", [torch.tensor([1e-10, -1e-12, 3e-17, 1e-5, -30.0])], torch.expm1)
record("erfinv", [u(3, 4, lo=-0.99, hi=0.99)], torch.erfinv)
halves = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.0])
record("floor", [halves * 1.3], torch.floor)
record("ceil", [halves * 1.3], torch.ceil)
record("round", [halves], torch.round)
record("trunc", [halves * 1.3], torch.trunc)
special = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), -2.5])
record("nan_to_num", [special], lambda x: torch.nan_to_num(x, nan=0.5, posinf=7.0))
record("isnan", [special], lambda x: torch.isnan(x).double(), grad=False)
record("isinf", [special], lambda x: torch.isinf(x).double(), grad=False)
record("isfinite", [special], lambda x: torch.isfinite(x).double(), grad=False)
record("lerp_scalar", [u(3, 1), u(4)], lambda a, b: torch.lerp(a, b, 0.3))
record("lerp_tensor", [u(3, 4), u(4), u(3, 1)], torch.lerp)
record("hypot", [u(3, 1), u(4)], torch.hypot)
record("atan2", [u(3, 1), u(4)], torch.atan2)
record("cumsum", [u(3, 4, 2)], lambda x: torch.cumsum(x, 1))
zeros = u(4, 3)
zeros[1, 0] = 0
zeros[2, 1] = 0
zeros[3, 1] = 0
record("cumprod_zeros", [zeros], lambda x: torch.cumprod(x, 0))
record("cumprod_last", [u(2, 5)], lambda x: torch.cumprod(x, -1))
record("prod_all", [u(2, 3)], torch.prod)
record("prod_dim_keep", [u(2, 3, 2)], lambda x: torch.prod(x, 1, keepdim=True))
record("prod_zeros", [zeros], lambda x: torch.prod(x, 0))
x234 = u(2, 3, 4)
record("flip", [x234], lambda x: torch.flip(x, [0, 2]))
record("roll", [x234], lambda x: torch.roll(x, 2, 1))
record("roll_flat", [x234], lambda x: torch.roll(x, -3))
record("roll_two", [x234], lambda x: torch.roll(x, (1, -5), (0, 2)))
record("repeat", [u(2, 3)], lambda x: x.repeat(2, 1, 3))
record("repeat_interleave", [u(2, 3)], lambda x: torch.repeat_interleave(x, 2, dim=1))
record("repeat_interleave_flat", [u(2, 2)], lambda x: torch.repeat_interleave(x, 3))
record("repeat_interleave_tensor", [u(3, 2)], lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 2]), dim=0))
record("tril", [x234], lambda x: torch.tril(x, -1))
record("triu", [x234], lambda x: torch.triu(x, 1))
record("diag_embed", [u(3)], lambda x: torch.diag(x, 1))
record("diag_extract", [u(3, 4)], lambda x: torch.diag(x, -1))
record("outer", [u(3), u(4)], torch.outer)
ties = torch.tensor([[3.0, 1.0, 2.0, 1.0, 5.0], [0.5, 0.5, -1.0, 2.0, 0.5]])
record("sort_desc", [u(3, 5)], lambda x: torch.sort(x, 1, descending=True).values)
record("sort_idx_stable", [ties], lambda x: torch.sort(x, dim=-1, stable=True).indices.double(), grad=False)
record("sort_idx_stable_desc", [ties], lambda x: torch.sort(x, dim=-1, descending=True, stable=True).indices.double(), grad=False)
record("argsort", [u(4, 3)], lambda x: torch.argsort(x, 0).double(), grad=False)
record("topk", [u(3, 6)], lambda x: torch.topk(x, 2, -1).values)
record("topk_smallest_idx", [u(3, 6)], lambda x: torch.topk(x, 3, 1, largest=False).indices.double(), grad=False)
record("norm2", [u(3, 4)], lambda x: torch.linalg.vector_norm(x))
record("norm3_dim", [u(3, 4)], lambda x: torch.linalg.vector_norm(x, 3, 1, keepdim=True))
record("norm_inf", [u(2, 3, 4)], lambda x: torch.linalg.vector_norm(x, float("inf"), (0, 2)))
record("norm1", [u(3, 4)], lambda x: torch.linalg.vector_norm(x, 1, 0))
zero_row = u(3, 4)
zero_row[1] = 0
record("norm2_zero_row", [zero_row], lambda x: torch.linalg.vector_norm(x, 2, 1))
record("norm1_5_zero_row", [zero_row], lambda x: torch.linalg.vector_norm(x, 1.5, 1))
record("einsum_bmm", [u(2, 3, 4), u(2, 4, 5)], lambda a, b: torch.einsum("bij,bjk->bik", a, b))
record("einsum_outer", [u(3), u(4)], lambda a, b: torch.einsum("i,j->ij", a, b))
record("einsum_trace", [u(4, 4)], lambda a: torch.einsum("ii->", a))
record("einsum_diag", [u(4, 4)], lambda a: torch.einsum("ii->i", a))
record("einsum_transpose", [u(3, 4)], lambda a: torch.einsum("ij->ji", a))
record("einsum_attention", [u(2, 2, 3, 4), u(2, 2, 5, 4)], lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k))
record("einsum_chain", [u(2, 3), u(3, 4), u(4, 2)], lambda a, b, c: torch.einsum("ij,jk,kl->il", a, b, c))
record("einsum_ellipsis", [u(2, 3, 4), u(4, 2)], lambda a, b: torch.einsum("...ij,...jk->...ik", a, b))
record("einsum_implicit", [u(3, 4), u(4, 2)], lambda a, b: torch.einsum("ij,jk", a, b))
record("einsum_sum", [u(3, 4, 2)], lambda a: torch.einsum("ijk->j", a))
img = u(1, 2, 4, 5)
record("pad_constant", [img], lambda x: F.pad(x, (1, 2), value=0.5))
record("pad_constant_negative", [img], lambda x: F.pad(x, (-1, 2, 1, -2)))
record("pad_reflect", [img], lambda x: F.pad(x, (2, 1, 1, 3), mode="reflect"))
record("pad_replicate", [img], lambda x: F.pad(x, (2, 1, 1, 3), mode="replicate"))
record("pad_circular", [img], lambda x: F.pad(x, (2, 1, 1, 3), mode="circular"))
record("pad_reflect_1d", [u(2, 3, 5)], lambda x: F.pad(x, (3, 4), mode="reflect"))
record("interp_nearest_size", [img], lambda x: F.interpolate(x, size=(7, 3), mode="nearest"))
record("interp_nearest_scale", [img], lambda x: F.interpolate(x, scale_factor=1.7, mode="nearest"))
record("interp_bilinear", [img], lambda x: F.interpolate(x, size=(7, 3), mode="bilinear", align_corners=False))
record("interp_bilinear_align", [img], lambda x: F.interpolate(x, size=(7, 3), mode="bilinear", align_corners=True))
record("interp_bilinear_scale", [img], lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear"))
record("interp_linear_scale", [u(2, 1, 5)], lambda x: F.interpolate(x, scale_factor=1.5, mode="linear"))
record("normalize", [u(3, 4)], lambda x: F.normalize(x))
record("normalize_p1", [u(3, 4)], lambda x: F.normalize(x, p=1, dim=-1))
record("unfold", [img], lambda x: F.unfold(x, (2, 3), dilation=1, padding=1, stride=(2, 1)))
record("fold", [u(1, 12, 15)], lambda x: F.fold(x, (4, 5), (2, 3), dilation=1, padding=1, stride=(2, 1)))


def save(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous().double()
        data = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": "F64", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


os.makedirs(os.path.dirname(OUT), exist_ok=True)
save(OUT, tensors, {"torch": torch.__version__, "script": "docs/pytorch-reference/record_ops.py"})
print(f"{len(tensors)} tensors, {os.path.getsize(OUT)} bytes -> {os.path.normpath(OUT)}")
