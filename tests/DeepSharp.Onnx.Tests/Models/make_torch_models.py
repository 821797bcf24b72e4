"""Writes the PyTorch-exported ONNX files that DeepSharp.Onnx.Tests load, with a sample input and PyTorch's output.

Run by hand (PyTorch 1.13, ONNX 1.12; not a test dependency):
    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 make_torch_models.py
Each model NAME gives NAME.onnx (opset 17, dynamic batch) and NAME.json ({"input": {shape, data}, "output": {...}}).
"""
import json
import onnx
import torch
import torch.nn as nn

torch.manual_seed(0)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return torch.log_softmax(self.fc(torch.flatten(x, 1)), dim=1)


def encoder():
    return nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, batch_first=True)


def export(name, model, x, batch_axes):
    model.eval()
    if name == "cnn":  # non-trivial running statistics
        model.train()
        for _ in range(3):
            model(torch.randn(8, 1, 8, 8) * 2 + 1)
        model.eval()
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, (x,), f"{name}.onnx", opset_version=17, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": batch_axes, "output": batch_axes})
    onnx.checker.check_model(onnx.load(f"{name}.onnx"))
    with open(f"{name}.json", "w") as f:
        json.dump({k: {"shape": list(v.shape), "data": [round(float(e), 8) for e in v.flatten()]}
                   for k, v in (("input", x), ("output", y))}, f)


export("torch_mlp", Mlp(), torch.randn(3, 12), [0])
export("torch_cnn", Cnn(), torch.randn(2, 1, 8, 8), [0])
export("torch_encoder", encoder(), torch.randn(2, 5, 16), [0])
