"""Records PyTorch's outputs and gradients for DeepSharp's advanced indexing (issue 14: x[idx], x[mask], index_put,
masked_select, masked_scatter, nonzero), for the differential test
tests/DeepSharp.Tests/Ops/PyTorchIndexingReferenceTests.cs. PyTorch is a reference run by hand, never a test dependency.

    apt-get install -y python3-torch libopenblas0-pthread
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 docs/pytorch-reference/record_indexing.py

For each case: inputs `<case>.in<i>` (float64; Int64 indices and Bool masks are stored as float64 and converted back by
the test), the output `<case>.out`, a fixed weight `<case>.w` and the gradients `<case>.grad<i>` of sum(out · w) with
respect to each floating input. The file is written in the safetensors format by hand (no safetensors package needed).
"""
import json
import os
import struct

import torch

torch.manual_seed(1414)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "DeepSharp.Tests", "Ops", "PyTorchReference",
                   "indexing.safetensors")

tensors = {}


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape)) * (hi - lo) + lo


def record(name, inputs, fn):
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = fn(*leaves)
    for i, x in enumerate(inputs):
        tensors[f"{name}.in{i}"] = x.detach().double()
    tensors[f"{name}.out"] = out.detach().double()
    if out.is_floating_point() and out.requires_grad:
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


def idx(*values):
    return torch.tensor(values, dtype=torch.long)


def mask(*shape):
    return torch.rand(tuple(shape)) > 0.5


def put(x, indices, v, accumulate=False):
    return x.index_put(indices, v, accumulate=accumulate)


def setitem(x, key, v):
    y = x.clone()
    y[key] = v
    return y


# x[idx]: duplicates and negative indices, an index of any shape, on another dim, several broadcast together.
record("get_dim0", [u(5, 3), idx(4, -1, 0, 2, 2)], lambda x, i: x[i])
record("get_index_2d", [u(5, 3), idx(0, 4, -2, 1, 1, 3).reshape(2, 3)], lambda x, i: x[i])
record("get_dim1", [u(2, 4, 3), idx(3, 0, 3)], lambda x, i: x[:, i])
record("get_last_dim", [u(2, 3, 4), idx(1, -1)], lambda x, i: x[..., i])
record("get_adjacent_pair", [u(3, 4, 5), idx(0, 3).reshape(2, 1), idx(4, 0, 2)], lambda x, i, j: x[:, i, j])
record("get_non_adjacent", [u(3, 4, 5), idx(2, 0), idx(4, 1)], lambda x, i, j: x[i, :, j])
record("get_int_then_index", [u(3, 4, 5), idx(4, 1, 1)], lambda x, j: x[1, :, j])
record("get_index_int_index", [u(3, 4, 5), idx(2, 0), idx(4, 1)], lambda x, i, j: x[i, 2, j])
record("get_slice_newaxis", [u(4, 3, 5), idx(0, 2)], lambda x, j: x[1:3, None, j])
record("get_scalar_index", [u(3, 4), torch.tensor(2)], lambda x, i: x[:, i])
record("get_int64", [torch.arange(12).reshape(3, 4), idx(2, 0)], lambda x, i: x[i].double())
# x[mask]: over all dims, the leading dims, one inner dim, mixed with an Int64 index.
record("mask_all", [u(3, 4), mask(3, 4)], lambda x, m: x[m])
record("mask_leading", [u(3, 4, 2), mask(3, 4)], lambda x, m: x[m])
record("mask_dim1", [u(2, 3, 4), torch.tensor([True, False, True])], lambda x, m: x[:, m])
record("mask_with_index", [u(3, 4, 5), torch.tensor([False, True, True, True]), idx(2)], lambda x, m, j: x[:, m, j])
record("mask_none_true", [u(3, 2), torch.zeros(3, dtype=torch.bool)], lambda x, m: x[m])
# index_put / setitem: with and without accumulate, w.r.t. self and values, values broadcast.
record("put_rows", [u(5, 3), idx(4, 0, 2), u(3, 3)], lambda x, i, v: put(x, (i,), v))
record("put_rows_broadcast", [u(5, 3), idx(-1, 1), u(3)], lambda x, i, v: put(x, (i,), v))
record("put_accumulate_duplicates", [u(5, 3), idx(1, 3, 1, 1), u(4, 3)], lambda x, i, v: put(x, (i,), v, True))
record("put_pair", [u(4, 5), idx(0, 3, 2), idx(4, 0, 1), u(3)], lambda x, i, j, v: put(x, (i, j), v))
record("put_pair_accumulate", [u(4, 5), idx(0, 3, 0), idx(4, 0, 4), u(3)], lambda x, i, j, v: put(x, (i, j), v, True))
record("put_mask", [u(3, 4), mask(3, 4), u(1)], lambda x, m, v: put(x, (m,), v))
record("setitem_dim1", [u(2, 4, 3), idx(3, 1), u(2, 2, 3)], lambda x, i, v: setitem(x, (slice(None), i), v))
record("setitem_mask_scalar", [u(3, 4), mask(3, 4)], lambda x, m: setitem(x, m, 0.5))
record("setitem_non_adjacent", [u(3, 4, 5), idx(2, 0), idx(4, 1), u(2, 4)], lambda x, i, j, v: setitem(x, (i, slice(None), j), v))
record("setitem_int_and_mask", [u(3, 4, 2), torch.tensor([True, False, False, True]), u(2)], lambda x, m, v: setitem(x, (1, m), v))
# Non-adjacent tensor indices after a leading full slice: the broadcast dims still go first.
record("get_non_adjacent_inner", [u(2, 3, 4, 5), idx(2, 0, 1), idx(4, -1, 0)], lambda x, i, j: x[:, i, :, j])
record("mask_non_adjacent_inner", [u(2, 3, 4, 5), torch.tensor([True, False, True]), idx(3)], lambda x, m, j: x[:, m, :, j])
record("setitem_non_adjacent_inner", [u(2, 3, 4, 5), idx(2, 0), idx(4, 1), u(2, 2, 4)],
       lambda x, i, j, v: setitem(x, (slice(None), i, slice(None), j), v))
# masked_select / masked_scatter (with broadcasting) and nonzero.
record("masked_select", [u(3, 4), mask(3, 4)], lambda x, m: torch.masked_select(x, m))
record("masked_select_broadcast", [u(3, 1), mask(2, 1, 4)], lambda x, m: torch.masked_select(x, m))
record("masked_scatter", [u(3, 4), mask(3, 4), u(3, 5)], lambda x, m, s: x.masked_scatter(m, s))
record("masked_scatter_broadcast", [u(3, 4), torch.tensor([True, False, True, True]), u(12)], lambda x, m, s: x.masked_scatter(m, s))
record("nonzero", [torch.tensor([[0.0, 1.5, -0.0], [2.0, 0.0, float("nan")]])], lambda x: torch.nonzero(x).double())
record("nonzero_3d", [mask(2, 3, 2).double()], lambda x: torch.nonzero(x).double())


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
save(OUT, tensors, {"torch": torch.__version__, "script": "docs/pytorch-reference/record_indexing.py"})
print(f"{len(tensors)} tensors, {os.path.getsize(OUT)} bytes -> {os.path.normpath(OUT)}")
