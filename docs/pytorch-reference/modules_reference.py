#!/usr/bin/env python3
"""Records PyTorch reference values for DeepSharp's recurrent, convolution, normalisation and activation tests.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 docs/pytorch-reference/modules_reference.py [out_dir]

(default out_dir: tests/DeepSharp.Tests/NN/data). Written with PyTorch 1.13 (CPU, float64). PyTorch is only used
here; the tests read the committed .safetensors files. Each case file holds
  - the module's state dict under PyTorch's names (e.g. "weight_ih_l0_reverse"), loaded by name with LoadStateDict;
  - "input.*" tensors and "output.*" tensors, and "grad.*" gradients of
    loss = sum(output_k^2 * (1 + 0.1 k)) over the outputs k, with respect to the inputs ("grad.input") and to the
    parameters ("grad.<name>").
Parameters come from torch.manual_seed(seed) + PyTorch's own initialisation, then p += 0.1*sin(0.37 i + 1.1 j + 0.5)
for element i of the j-th parameter in state-dict order (so zero/one initialisations are not trivial).
It also prints the scheduler sequences that tests/DeepSharp.Tests/Optim/CyclicSchedulerTests.cs compares against.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

DT = {torch.float64: ("F64", "<d"), torch.int64: ("I64", "<q")}


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        code, fmt = DT[t.dtype]
        data = struct.pack("<%d%s" % (t.numel(), fmt[1]), *t.reshape(-1).tolist())
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def perturb(module):
    with torch.no_grad():
        for j, (_, p) in enumerate(module.named_parameters()):
            i = torch.arange(p.numel(), dtype=torch.float64).reshape(p.shape)
            p += 0.1 * torch.sin(0.37 * i + 1.1 * j + 0.5)
    return module


def record(out_dir, name, module, inputs, run, metadata):
    """run(module, inputs) returns a list of output tensors; inputs is a dict name -> tensor (requires grad if float)."""
    for t in inputs.values():
        if t.dtype == torch.float64:
            t.requires_grad_(True)
    outputs = run(module, inputs)
    loss = sum((o ** 2).sum() * (1 + 0.1 * k) for k, o in enumerate(outputs))
    loss.backward()
    tensors = {}
    if module is not None:
        for k, v in module.state_dict().items():
            tensors[k] = v
    for k, v in inputs.items():
        tensors["input." + k] = v
    for k, o in enumerate(outputs):
        tensors["output.%d" % k] = o
    for k, v in inputs.items():
        if v.grad is not None:
            tensors["grad.input." + k] = v.grad
    if module is not None:
        for k, p in module.named_parameters():
            tensors["grad." + k] = p.grad
    save_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors, metadata)


def randn(seed, *shape):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "DeepSharp.Tests", "NN", "data")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_default_dtype(torch.float64)

    torch.manual_seed(1)
    m = perturb(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    record(out_dir, "lstm_bidirectional", m, {"x": randn(2, 2, 5, 3), "h0": randn(3, 4, 2, 4), "c0": randn(4, 4, 2, 4)},
           lambda m, i: (lambda o: [o[0], o[1][0], o[1][1]])(m(i["x"], (i["h0"], i["c0"]))),
           {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True, "batch_first": True})

    torch.manual_seed(2)
    m = perturb(nn.LSTM(3, 5, bias=False))
    record(out_dir, "lstm_nobias", m, {"x": randn(5, 4, 3)},
           lambda m, i: (lambda o: [o[0], o[1][0], o[1][1]])(m(i["x"])),
           {"input_size": 3, "hidden_size": 5, "bias": False})

    torch.manual_seed(3)
    m = perturb(nn.GRU(3, 4, num_layers=2, bidirectional=True))
    record(out_dir, "gru_bidirectional", m, {"x": randn(6, 5, 2, 3), "h0": randn(7, 4, 2, 4)},
           lambda m, i: list(m(i["x"], i["h0"])),
           {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True})

    torch.manual_seed(4)
    m = perturb(nn.LSTMCell(3, 4))
    record(out_dir, "lstm_cell", m, {"x": randn(8, 2, 3), "h": randn(9, 2, 4), "c": randn(10, 2, 4)},
           lambda m, i: list(m(i["x"], (i["h"], i["c"]))), {})

    torch.manual_seed(5)
    m = perturb(nn.GRUCell(3, 4))
    record(out_dir, "gru_cell", m, {"x": randn(11, 2, 3), "h": randn(12, 2, 4)}, lambda m, i: [m(i["x"], i["h"])], {})

    torch.manual_seed(6)
    m = perturb(nn.GroupNorm(2, 6))
    record(out_dir, "group_norm", m, {"x": randn(13, 2, 6, 3, 2)}, lambda m, i: [m(i["x"])], {"num_groups": 2, "num_channels": 6})

    torch.manual_seed(7)
    m = perturb(nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2, dilation=(1, 2)))
    record(out_dir, "conv_transpose2d", m, {"x": randn(14, 2, 4, 3, 4)}, lambda m, i: [m(i["x"])], {})

    torch.manual_seed(8)
    m = perturb(nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, bias=False))
    record(out_dir, "conv_transpose2d_plain", m, {"x": randn(15, 1, 3, 4, 3)}, lambda m, i: [m(i["x"])], {})

    torch.manual_seed(9)
    m = perturb(nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2))
    record(out_dir, "conv1d", m, {"x": randn(16, 2, 4, 9)}, lambda m, i: [m(i["x"])], {})

    torch.manual_seed(10)
    m = perturb(nn.PReLU(3))
    x = randn(17, 2, 3, 4)
    record(out_dir, "activations", m, {"x": x},
           lambda m, i: [F.elu(i["x"]), F.elu(i["x"], alpha=0.7), F.mish(i["x"]), F.hardswish(i["x"] * 2), m(i["x"]),
                         F.pixel_shuffle(i["x"].reshape(2, 12, 1, 1).repeat(1, 1, 2, 3), 2),
                         F.pixel_unshuffle(i["x"].reshape(1, 2, 6, 2), 2),
                         F.cosine_similarity(i["x"], i["x"].flip(0) + 0.3, dim=1),
                         F.cosine_similarity(i["x"][0], i["x"][1:], dim=-1, eps=0.5)], {})

    logp = F.log_softmax(randn(18, 3, 5), -1)
    tp = F.softmax(randn(19, 3, 5) * 2, -1)
    tp[0, 1] = 0.0
    record(out_dir, "losses", None, {"logp": logp.detach(), "target": tp, "pred": randn(20, 3, 5) * 2, "y": randn(21, 3, 5)},
           lambda m, i: [F.kl_div(i["logp"], i["target"], reduction="none"), F.kl_div(i["logp"], i["target"], reduction="batchmean"),
                         F.kl_div(i["logp"], i["target"], reduction="mean"), F.kl_div(i["logp"], i["target"].clamp_min(1e-3).log(), reduction="sum", log_target=True),
                         F.huber_loss(i["pred"], i["y"]), F.huber_loss(i["pred"], i["y"], reduction="none", delta=0.5)], {})

    x = randn(22, 2, 3, 3, 4)
    record(out_dir, "interpolate", None, {"x": x},
           lambda m, i: [F.interpolate(i["x"], scale_factor=2, mode="nearest"), F.interpolate(i["x"], size=(5, 7), mode="nearest"),
                         F.interpolate(i["x"], size=(5, 7), mode="bilinear", align_corners=False),
                         F.interpolate(i["x"], size=(5, 7), mode="bilinear", align_corners=True),
                         F.interpolate(i["x"], scale_factor=2, mode="bilinear", align_corners=False)], {})

    schedulers()


def schedulers():
    def run(make, n, metric=None, key=None):
        p = torch.nn.Parameter(torch.zeros(1))
        opt, s = make(p)
        lrs, moms = [opt.param_groups[0]["lr"]], []
        if key:
            moms.append(opt.param_groups[0]["betas"][0] if key == "betas" else opt.param_groups[0][key])
        for k in range(n):
            opt.step()
            if metric is None:
                s.step()
            else:
                s.step(metric[k])
            lrs.append(opt.param_groups[0]["lr"])
            if key:
                moms.append(opt.param_groups[0]["betas"][0] if key == "betas" else opt.param_groups[0][key])
        return lrs, moms

    def show(name, vals):
        print(name + " = [" + ", ".join(repr(v) for v in vals) + "];")

    torch.set_default_dtype(torch.float32)
    sgd = lambda p, **kw: torch.optim.SGD([p], lr=0.1, momentum=0.9, **kw)
    adam = lambda p: torch.optim.Adam([p], lr=0.1)
    lrs, moms = run(lambda p: (lambda o: (o, torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=10)))(sgd(p)), 10, key="momentum")
    show("OneCycleCosLrs", lrs); show("OneCycleCosMomenta", moms)
    lrs, moms = run(lambda p: (lambda o: (o, torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, epochs=3, steps_per_epoch=4, pct_start=0.25,
                                                                                    anneal_strategy="linear", three_phase=True, div_factor=10, final_div_factor=100)))(adam(p)), 12, key="betas")
    show("OneCycleLinearThreePhaseLrs", lrs); show("OneCycleLinearThreePhaseBeta1", moms)
    lrs, _ = run(lambda p: (lambda o: (o, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)))(sgd(p)), 25)
    show("WarmRestartsMult2", lrs)
    lrs, _ = run(lambda p: (lambda o: (o, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=4)))(sgd(p)), 10)
    show("WarmRestartsMult1", lrs)
    metric = [1.0, 0.9, 0.95, 0.95, 0.95, 0.899, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    lrs, _ = run(lambda p: (lambda o: (o, torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.02)))(sgd(p)), len(metric), metric)
    show("PlateauMinRel", lrs)
    metric2 = [1.0, 1.05, 1.1, 1.1, 1.2, 1.15, 1.1, 1.0, 1.3, 1.3, 1.3, 1.3]
    lrs, _ = run(lambda p: (lambda o: (o, torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=1, threshold=0.06, threshold_mode="abs")))(sgd(p)), len(metric2), metric2)
    show("PlateauMaxAbs", lrs)


if __name__ == "__main__":
    main()
