#!/usr/bin/env python3
"""Records PyTorch reference values for DeepSharp's Transformer tests.

    /usr/bin/python3 docs/transformer_reference.py [out_dir]

(default out_dir: tests/DeepSharp.Tests/NN/Transformer/data). Written with PyTorch 1.13 (CPU). PyTorch is only
used here to record values; the tests read the committed .safetensors files and never need PyTorch.

Each case is one small safetensors file (written by the tiny writer below, no extra package) holding
  - the module's state dict under its PyTorch names (e.g. "self_attn.in_proj_weight"), so the test loads it
    into the DeepSharp module by name with LoadStateDict — the state-dict layout is part of what is tested;
  - "input.*" tensors (inputs and masks; Bool masks as BOOL) and "output.*" tensors (outputs and, for some
    cases, gradients of loss = sum(output^2) with respect to the input and to parameters: "grad.*").
The metadata records the constructor arguments.

Weights come from torch.manual_seed(seed) + PyTorch's own initialisation, then every parameter is perturbed by a
deterministic formula (so LayerNorm affine parameters and zero-initialised biases are not trivial):
p += 0.1 * sin(0.37 * i + 1.1 * j + 0.5) for element i of the j-th parameter in state-dict order.
Modules run in training mode with dropout 0 (PyTorch 1.13 takes its fused "fast path" only in eval mode, and
the slow path is the reference semantics).
"""
import json
import math
import os
import struct
import sys

import torch

DT = {torch.float64: ("F64", "<d"), torch.float32: ("F32", "<f"), torch.bool: ("BOOL", "?"), torch.int64: ("I64", "<q")}


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        code, fmt = DT[t.dtype]
        flat = t.reshape(-1).tolist()
        data = b"".join(struct.pack(fmt, v) for v in flat)
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
        for j, (_, p) in enumerate(module.state_dict().items()):
            i = torch.arange(p.numel(), dtype=torch.float64)
            p.add_((0.1 * torch.sin(0.37 * i + 1.1 * j + 0.5)).reshape(p.shape).to(p.dtype))


def inp(shape, k, dtype):
    i = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.sin(0.91 * i + 0.3 * k + 0.2).reshape(shape).to(dtype)


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def grads(prefix_out, module, x, names):
    out = {}
    if x.grad is not None:
        out[prefix_out + "input"] = x.grad.clone()
    params = dict(module.named_parameters())
    for n in names:
        out[prefix_out + n] = params[n].grad.clone()
    return out


def mha_cases(out_dir, dtype):
    torch.manual_seed(1)
    E, H, L, S, N = 8, 2, 3, 4, 2
    m = torch.nn.MultiheadAttention(E, H, dropout=0.0).to(dtype)
    perturb(m)
    q = inp((L, N, E), 0, dtype)
    kv = inp((S, N, E), 1, dtype)
    x = inp((S, N, E), 2, dtype)  # self-attention input
    kpm = torch.tensor([[False, False, False, False], [False, False, True, True]])
    bool_mask = torch.tensor([[False, True, False, False], [False, False, True, False], [True, False, False, True]])
    float_mask = inp((L, S), 3, dtype) * 0.5
    causal = torch.triu(torch.full((S, S), float("-inf"), dtype=dtype), diagonal=1)
    mask3 = torch.zeros(N * H, L, S, dtype=torch.bool)
    mask3[1, 0, 1] = True
    mask3[2, 2, 0] = True
    t = {}
    t.update({"input.q": q, "input.kv": kv, "input.x": x, "input.kpm": kpm, "input.bool_mask": bool_mask,
              "input.float_mask": float_mask, "input.mask3": mask3})
    o, w = m(q, kv, kv)
    t["output.plain"], t["output.plain_weights"] = o, w
    o, w = m(q, kv, kv, key_padding_mask=kpm, average_attn_weights=False)
    t["output.kpm"], t["output.kpm_weights_per_head"] = o, w
    o, w = m(q, kv, kv, attn_mask=bool_mask)
    t["output.bool_mask"], t["output.bool_mask_weights"] = o, w
    o, _ = m(q, kv, kv, attn_mask=float_mask, key_padding_mask=kpm)
    t["output.float_mask_kpm"] = o
    o, _ = m(q, kv, kv, attn_mask=mask3)
    t["output.mask3"] = o
    o, w = m(x, x, x, attn_mask=causal)
    t["output.self_causal"], t["output.self_causal_weights"] = o, w
    xg = x.clone().requires_grad_()
    o, _ = m(xg, xg, xg, attn_mask=causal, key_padding_mask=torch.tensor([[False] * 4, [False, False, False, True]]))
    (o ** 2).sum().backward()
    t.update(grads("grad.", m, xg, ["in_proj_weight", "in_proj_bias", "out_proj.weight"]))
    t.update(state(m))
    name = "mha" if dtype == torch.float64 else "mha_f32"
    save_safetensors(os.path.join(out_dir, name + ".safetensors"), t,
                     {"embed_dim": E, "num_heads": H, "batch_first": False})

    # kdim / vdim different from E, batch first.
    torch.manual_seed(2)
    m = torch.nn.MultiheadAttention(E, H, kdim=6, vdim=5, batch_first=True).to(dtype)
    perturb(m)
    q = inp((N, L, E), 4, dtype)
    k = inp((N, S, 6), 5, dtype)
    v = inp((N, S, 5), 6, dtype)
    o, w = m(q, k, v, key_padding_mask=kpm)
    t = {"input.q": q, "input.k": k, "input.v": v, "input.kpm": kpm, "output.out": o, "output.weights": w}
    t.update(state(m))
    if dtype == torch.float64:
        save_safetensors(os.path.join(out_dir, "mha_kvdim.safetensors"), t,
                         {"embed_dim": E, "num_heads": H, "kdim": 6, "vdim": 5, "batch_first": True})


def encoder_cases(out_dir, dtype):
    E, H, FF, S, N = 8, 2, 16, 4, 2
    suffix = "" if dtype == torch.float64 else "_f32"
    for norm_first in [False, True]:
        for act in ["relu", "gelu"]:
            for batch_first in [False, True]:
                if dtype == torch.float32 and (act == "gelu" or batch_first):
                    continue
                torch.manual_seed(3)
                layer = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, activation=act,
                                                         batch_first=batch_first, norm_first=norm_first).to(dtype)
                perturb(layer)
                layer.train()
                shape = (N, S, E) if batch_first else (S, N, E)
                x = inp(shape, 7, dtype).requires_grad_()
                kpm = torch.tensor([[False, False, False, True], [False, False, False, False]])
                out = layer(x, src_key_padding_mask=kpm)
                (out ** 2).sum().backward()
                t = {"input.x": x.detach(), "input.kpm": kpm, "output.out": out}
                t.update(grads("grad.", layer, x, ["self_attn.in_proj_weight", "linear1.weight", "norm1.weight"]))
                t.update(state(layer))
                name = f"enc_{'pre' if norm_first else 'post'}_{act}_{'bf' if batch_first else 'sf'}{suffix}"
                save_safetensors(os.path.join(out_dir, name + ".safetensors"), t,
                                 {"d_model": E, "nhead": H, "dim_feedforward": FF, "activation": act,
                                  "batch_first": batch_first, "norm_first": norm_first})


def decoder_cases(out_dir):
    E, H, FF, T, S, N = 8, 2, 16, 3, 4, 2
    dtype = torch.float64
    for norm_first in [False, True]:
        torch.manual_seed(4)
        layer = torch.nn.TransformerDecoderLayer(E, H, dim_feedforward=FF, dropout=0.0, batch_first=True,
                                                 norm_first=norm_first).to(dtype)
        perturb(layer)
        layer.train()
        tgt = inp((N, T, E), 8, dtype).requires_grad_()
        mem = inp((N, S, E), 9, dtype)
        tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(T).to(dtype)
        mkpm = torch.tensor([[False, False, True, True], [False, False, False, False]])
        out = layer(tgt, mem, tgt_mask=tgt_mask, memory_key_padding_mask=mkpm)
        (out ** 2).sum().backward()
        t = {"input.tgt": tgt.detach(), "input.memory": mem, "input.tgt_mask": tgt_mask, "input.mkpm": mkpm,
             "output.out": out}
        t.update(grads("grad.", layer, tgt, ["multihead_attn.in_proj_weight", "linear2.weight", "norm3.bias"]))
        t.update(state(layer))
        name = f"dec_{'pre' if norm_first else 'post'}"
        save_safetensors(os.path.join(out_dir, name + ".safetensors"), t,
                         {"d_model": E, "nhead": H, "dim_feedforward": FF, "batch_first": True,
                          "norm_first": norm_first})


def stack_cases(out_dir):
    E, H, FF, S, T, N = 8, 2, 16, 4, 3, 2
    dtype = torch.float64
    # Two-layer pre-LN encoder with its final norm.
    torch.manual_seed(5)
    layer = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, norm_first=True)
    enc = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(E)).to(dtype)
    perturb(enc)
    enc.train()
    x = inp((S, N, E), 10, dtype)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(S).to(dtype)
    out = enc(x, mask=mask)
    t = {"input.x": x, "input.mask": mask, "output.out": out}
    t.update(state(enc))
    save_safetensors(os.path.join(out_dir, "encoder_stack.safetensors"), t,
                     {"d_model": E, "nhead": H, "dim_feedforward": FF, "num_layers": 2, "norm_first": True})

    # A small full Transformer (post-LN, both final norms).
    torch.manual_seed(6)
    model = torch.nn.Transformer(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
                                 dim_feedforward=FF, dropout=0.0).to(dtype)
    perturb(model)
    model.train()
    src = inp((S, N, E), 11, dtype)
    tgt = inp((T, N, E), 12, dtype)
    tgt_mask = model.generate_square_subsequent_mask(T).to(dtype)
    skpm = torch.tensor([[False, False, False, True], [False, False, False, False]])
    out = model(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=skpm, memory_key_padding_mask=skpm)
    t = {"input.src": src, "input.tgt": tgt, "input.tgt_mask": tgt_mask, "input.skpm": skpm, "output.out": out}
    t.update(state(model))
    save_safetensors(os.path.join(out_dir, "transformer.safetensors"), t,
                     {"d_model": E, "nhead": H, "num_encoder_layers": 2, "num_decoder_layers": 2,
                      "dim_feedforward": FF})


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/DeepSharp.Tests/NN/Transformer/data"
    os.makedirs(out_dir, exist_ok=True)
    print("torch", torch.__version__)
    mha_cases(out_dir, torch.float64)
    mha_cases(out_dir, torch.float32)
    encoder_cases(out_dir, torch.float64)
    encoder_cases(out_dir, torch.float32)
    decoder_cases(out_dir)
    stack_cases(out_dir)
    # The sinusoidal table of the PyTorch tutorial's PositionalEncoding (d_model 6, max_len 5).
    d, n = 6, 5
    position = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    save_safetensors(os.path.join(out_dir, "positional.safetensors"), {"output.pe": pe}, {"d_model": d, "max_len": n})
    for f in sorted(os.listdir(out_dir)):
        print(f, os.path.getsize(os.path.join(out_dir, f)))


if __name__ == "__main__":
    main()
