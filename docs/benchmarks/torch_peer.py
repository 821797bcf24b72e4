#!/usr/bin/env python3
"""PyTorch peer of `dotnet run -c Release --project tests/DeepSharp.Benchmarks -- workloads --json`.

Runs the same workloads with the same timing method (warm-up, then the median of several
repetitions) and prints the same JSON lines, e.g. {"workload":"sgemm","n":1024,"gflops":123.4}.

    python3 docs/benchmarks/torch_peer.py [--threads N] [--only sgemm,...] [--sizes 256,512] [--reps 7] [--trans nn]

PyTorch is only a reference for these measurements, never a dependency of the project or its tests.
Debian: apt-get install python3-torch libopenblas0-pthread, run with OPENBLAS_CORETYPE=SkylakeX (python3-torch
alone pulls the reference BLAS, ~50x slower; the script checks which BLAS it got). Debian's torch does its float matmul through
the system libblas.so.3: without OpenBLAS that is the reference BLAS (~5 GFLOPS); the OpenMP build of
OpenBLAS follows torch.set_num_threads. OpenBLAS 0.3.21 picks its kernels by CPU model and takes newer Intel
Xeons (family 6 model 207) for a "Prescott" without SIMD kernels (~30 GFLOPS per thread): the script prints the
core OpenBLAS uses on stderr and warns about that; OPENBLAS_CORETYPE=SkylakeX gives PyTorch its AVX-512 kernels,
the fair peer on such a CPU (docs/performance.md). To add a workload (mlp_step, cnn_step, resnet_step,
encoder_step, ...): write a generator function `name(options)` yielding dicts that start with
"workload": name, and register it in WORKLOADS, mirroring the C# IWorkload class of the same name.
"""
import argparse
import json
import sys
import time

import torch


def median_seconds(fn, options):
    """Median seconds per call: warm-up (>= 3 calls and ~0.3 s), then `reps` repetitions of
    enough calls to last ~0.1 s each."""
    t0 = time.perf_counter()
    warm = 0
    while warm < 3 or time.perf_counter() - t0 < 0.3:
        fn()
        warm += 1
    per_call = (time.perf_counter() - t0) / warm
    inner = max(1, int(-(-options.min_rep_seconds // per_call)))
    samples = []
    for _ in range(max(1, options.reps)):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t) / inner)
    samples.sort()
    mid = len(samples) // 2
    return samples[mid] if len(samples) % 2 else 0.5 * (samples[mid - 1] + samples[mid])


def sgemm(options):
    """Square float32 matmul C = A @ B (into a preallocated C); GFLOPS = 2n^3 / median time."""
    for n in options.sizes or [256, 512, 1024, 2048]:
        g = torch.Generator().manual_seed(n)
        a = torch.rand(n, n, generator=g) * 2 - 1
        b = torch.rand(n, n, generator=g) * 2 - 1
        c = torch.empty(n, n)
        # Transposed operands are views of stored (transposed) matrices, as in DeepSharp's --trans.
        if options.trans[0] == "t":
            a = a.t()
        if options.trans[1] == "t":
            b = b.t()
        seconds = median_seconds(lambda: torch.matmul(a, b, out=c), options)
        line = {"workload": "sgemm", "n": n, "gflops": round(2.0 * n ** 3 / seconds / 1e9, 1)}
        if options.trans != "nn":
            line["trans"] = options.trans
        yield line


def _encoder_layer(norm):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, dropout=0.0, activation="relu",
                                             batch_first=True, norm_first=(norm == "pre"))
    x = torch.randn(32, 64, 256)
    return layer, x


def encoder_step(options):
    """One training step of a TransformerEncoderLayer (d_model 256, 4 heads, feed-forward 1024, dropout 0,
    ReLU, batch-first input [32, 64, 256]): forward, loss = mean(out^2), backward, Adam step."""
    for norm in ["pre", "post"]:
        layer, x = _encoder_layer(norm)
        layer.train()
        opt = torch.optim.Adam(layer.parameters(), lr=1e-4)

        def step():
            with torch.enable_grad():
                opt.zero_grad(set_to_none=True)
                loss = layer(x).pow(2).mean()
                loss.backward()
                opt.step()

        seconds = median_seconds(step, options)
        yield {"workload": "encoder_step", "norm": norm, "ms": round(seconds * 1e3, 2)}


def encoder_infer(options):
    """Forward of the same layer under no_grad (eval mode). In eval mode without grad PyTorch 1.13 may take
    its fused "fast path" (torch._transformer_encoder_layer_fwd)."""
    for norm in ["pre", "post"]:
        layer, x = _encoder_layer(norm)
        layer.eval()

        def infer():
            with torch.no_grad():
                layer(x)

        seconds = median_seconds(infer, options)
        yield {"workload": "encoder_infer", "norm": norm, "ms": round(seconds * 1e3, 2)}
def train_step(name, model, input_shape, classes=10):
    """One training step as in DeepSharp's TrainStepWorkload: zero grads (set to None), forward,
    cross-entropy, backward, Adam (lr 1e-3); float32, a fixed random batch."""
    def run(options):
        g = torch.Generator().manual_seed(1234)
        x = torch.randn(*input_shape, generator=g)
        y = torch.randint(0, classes, (input_shape[0],), generator=g)
        model.train()
        loss_fn = torch.nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

        with torch.enable_grad():
            seconds = median_seconds(step, options)
        yield {"workload": name, "ms": round(seconds * 1e3, 2)}
    return run


def mlp_step(options):
    """MLP 784-512-512-10 with ReLU, batch 128."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    yield from train_step("mlp_step", model, (128, 784))(options)


def cnn_step(options):
    """Conv2d(1,32,3)-ReLU-Conv2d(32,64,3)-ReLU-MaxPool2d(2)-Flatten-Linear(9216,128)-ReLU-Linear(128,10), batch 64."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))
    yield from train_step("cnn_step", model, (64, 1, 28, 28))(options)


class ResidualBlock(torch.nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input, then ReLU (DeepSharp.NN.ResidualBlock, identity shortcut)."""

    def __init__(self, c):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(h)) + x)


def resnet_step(options):
    """Conv2d(1,32,3,pad 1,no bias)-BN-ReLU, residual block(32), MaxPool2d(2), residual block(32),
    global average pool, Linear(32,10); batch 64 of 1x28x28."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                          ResidualBlock(32), nn.MaxPool2d(2), ResidualBlock(32),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    yield from train_step("resnet_step", model, (64, 1, 28, 28))(options)


GPT_CONFIGS = {  # name: (layers, heads, embd, vocab, block, batch), as GptConfig in GptWorkloads.cs
    "mini": (4, 4, 256, 8192, 256, 8),
    "gpt2_small": (12, 12, 768, 50257, 256, 4),
}


class GptBlock(torch.nn.Module):
    """nanoGPT's pre-LN block from public modules: causal nn.MultiheadAttention, GELU(tanh) MLP."""

    def __init__(self, embd, heads):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(embd)
        self.attn = torch.nn.MultiheadAttention(embd, heads, batch_first=True)
        self.ln_2 = torch.nn.LayerNorm(embd)
        self.c_fc = torch.nn.Linear(embd, 4 * embd)
        self.c_proj = torch.nn.Linear(4 * embd, embd)
        self.gelu = torch.nn.GELU(approximate="tanh")

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]   # 1.13 has no is_causal: the causal mask is passed
        return x + self.c_proj(self.gelu(self.c_fc(self.ln_2(x))))


class Gpt(torch.nn.Module):
    """Token + position embeddings, blocks, final LayerNorm, LM head tied to the token embedding."""

    def __init__(self, layers, heads, embd, vocab, block):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, embd)
        self.wpe = torch.nn.Embedding(block, embd)
        self.h = torch.nn.ModuleList(GptBlock(embd, heads) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(embd)
        self.register_buffer("pos", torch.arange(block), persistent=False)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(block), persistent=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(self.pos)
        for b in self.h:
            x = b(x, self.mask)
        return torch.nn.functional.linear(self.ln_f(x), self.wte.weight)


def _proc_status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _minor_faults():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])  # field 10


def _gpt_measure(workload, config, fn, options):
    """A few steps (seconds each at GPT-2 small): 2 warm-up, then `reps`; median ms, tokens/s, faults/step, RSS."""
    layers, heads, embd, vocab, block, batch = GPT_CONFIGS[config]
    for _ in range(2):
        fn()
    reps = max(1, options.reps)
    faults0 = _minor_faults()
    ms, rss_first = [], 0
    for r in range(reps):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
        if r == 0:
            rss_first = _proc_status_kb("VmRSS:") / 1024
    faults = (_minor_faults() - faults0) // reps
    ms.sort()
    mid = len(ms) // 2
    median = ms[mid] if len(ms) % 2 else 0.5 * (ms[mid - 1] + ms[mid])
    return {"workload": workload, "config": config, "ms": round(median, 1),
            "tokens_per_s": round(batch * block / (median / 1e3)), "faults_per_step": faults,
            "rss_first_mb": round(rss_first), "rss_last_mb": round(_proc_status_kb("VmRSS:") / 1024), "steps": reps}


def _gpt_configs(options):
    return [c for c in GPT_CONFIGS if options.config is None or c in options.config]


def gpt_step(options):
    """AdamW training step (no decay on norms and biases) of a GPT-2 on random tokens."""
    for config in _gpt_configs(options):
        layers, heads, embd, vocab, block, batch = GPT_CONFIGS[config]
        torch.manual_seed(0)
        model = Gpt(layers, heads, embd, vocab, block)
        params = list(model.parameters())
        opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
                                 {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=3e-4)
        idx = torch.randint(0, vocab, (batch, block))
        targets = torch.randint(0, vocab, (batch * block,))

        def step():
            with torch.enable_grad():
                opt.zero_grad(set_to_none=True)
                logits = model(idx)
                loss = torch.nn.functional.cross_entropy(logits.reshape(batch * block, vocab), targets)
                loss.backward()
                opt.step()
        yield _gpt_measure("gpt_step", config, step, options)
        del model, opt


def gpt_infer(options):
    """No-grad forward (logits of every position) of the same models in eval mode."""
    for config in _gpt_configs(options):
        layers, heads, embd, vocab, block, batch = GPT_CONFIGS[config]
        torch.manual_seed(0)
        model = Gpt(layers, heads, embd, vocab, block).eval()
        idx = torch.randint(0, vocab, (batch, block))

        def infer():
            with torch.no_grad():
                model(idx)
        yield _gpt_measure("gpt_infer", config, infer, options)
        del model


# name -> generator(options); output order is this order.
WORKLOADS = {
    "sgemm": sgemm,
    "mlp_step": mlp_step,
    "cnn_step": cnn_step,
    "resnet_step": resnet_step,
    "encoder_step": encoder_step,
    "encoder_infer": encoder_infer,
    "gpt_step": gpt_step,
    "gpt_infer": gpt_infer,
}


def blas_core():
    """The kernel set OpenBLAS chose (openblas_get_corename), or None when libblas.so.3 is not OpenBLAS."""
    import ctypes
    try:
        f = ctypes.CDLL("libblas.so.3").openblas_get_corename
    except (OSError, AttributeError):
        return None
    f.restype = ctypes.c_char_p
    return f().decode()


def _reset_peak_rss():
    """VmHWM back to the current RSS, so each workload reports its own peak (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--only", default=None, help="comma-separated workload names")
    p.add_argument("--sizes", default=None, help="comma-separated sizes overriding the defaults")
    p.add_argument("--reps", type=int, default=7, help="measured repetitions (median reported)")
    p.add_argument("--trans", default="nn", choices=["nn", "nt", "tn", "tt"], help="sgemm operand layout")
    p.add_argument("--json", action="store_true", help="accepted for symmetry; output is always JSON lines")
    p.add_argument("--config", default=None, help="GPT configurations (mini,gpt2_small; default both)")
    options = p.parse_args()
    options.min_rep_seconds = 0.1
    options.sizes = [int(s) for s in options.sizes.split(",")] if options.sizes else None
    options.config = options.config.split(",") if options.config else None
    only = options.only.split(",") if options.only else None
    unknown = [o for o in (only or []) if o not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; known: {list(WORKLOADS)}")

    core = blas_core()
    print(f"# torch {torch.__version__}, {options.threads} threads, BLAS: "
          + (f"OpenBLAS, core {core}" if core else "not OpenBLAS (reference BLAS?)"), file=sys.stderr)
    if core is None or core.lower() == "prescott":
        print("# warning: PyTorch's matmul runs without SIMD kernels here; see the docstring (OPENBLAS_CORETYPE)",
              file=sys.stderr)
    torch.set_num_threads(options.threads)
    torch.set_grad_enabled(False)
    for name, fn in WORKLOADS.items():
        if only is not None and name not in only:
            continue
        _reset_peak_rss()
        for line in fn(options):
            line.setdefault("peak_rss_mb", round(_proc_status_kb("VmHWM:") / 1024))
            print(json.dumps(line, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
