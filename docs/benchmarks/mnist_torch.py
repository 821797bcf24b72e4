#!/usr/bin/python3
"""PyTorch reference for examples/Mnist: same IDX files, models, optimiser and batch size.

    /usr/bin/python3 docs/benchmarks/mnist_torch.py --model cnn --epochs 3 [--data examples/Mnist/data] [--threads 2]

Prints one line per epoch and a final JSON line shaped like the C# example's --json output.
"""
import argparse, gzip, json, os, struct, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: unsupported magic"
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find(folder, split, kind):
    prefix = "train" if split == "train" else "t10k"
    for name in (f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte",
                 f"{prefix}-{kind}.idx{3 if kind == 'images' else 1}-ubyte"):
        for ext in (".gz", ""):
            p = os.path.join(folder, name + ext)
            if os.path.exists(p):
                return p
    raise FileNotFoundError(f"no {split} {kind} in {folder}")


def load(folder, split):
    x = read_idx(find(folder, split, "images")).float() / 255.0
    y = read_idx(find(folder, split, "labels")).long()
    return ((x - 0.1307) / 0.3081).unsqueeze(1), y


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 256), nn.Linear(256, 10)

    def forward(self, x):
        x = self.flatten(x)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + x)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.block1, self.pool, self.block2 = BasicBlock(32), nn.MaxPool2d(2), BasicBlock(32)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.block2(self.pool(self.block1(self.stem(x)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "examples", "Mnist", "data"))
    ap.add_argument("--model", default="mlp", choices=["mlp", "cnn", "resnet"])
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    epochs = a.epochs or (5 if a.model == "mlp" else 3)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "test")
    model = {"mlp": Mlp, "cnn": Cnn, "resnet": ResNet}[a.model]()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(a.seed)
    secs, cpu, losses, accs = [], [], [], []
    for epoch in range(1, epochs + 1):
        model.train()
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(len(xtr), generator=g)
        total, n = 0.0, 0
        for i in range(0, len(xtr), a.batch_size):
            idx = perm[i:i + a.batch_size]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        losses.append(total / n)
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                correct += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
        accs.append(correct / len(xte))
        print(f"epoch {epoch}: {secs[-1]:.2f} s, train loss {losses[-1]:.4f}, test accuracy {accs[-1] * 100:.2f}%", flush=True)
    print(json.dumps({"model": a.model, "test_accuracy": accs[-1], "epoch_seconds": secs, "epoch_cpu_seconds": cpu, "train_loss": losses,
                      "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
